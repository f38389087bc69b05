/* match.c — maps a read against the database: k-mer seeds vote for (target, strand, diagonal),
 * candidates are scored by ungapped alignment, with a banded affine-gap local alignment when the
 * ungapped one has too many mismatches (indels). The same code re-walks an alignment column by
 * column for coverage, consensus and mutation calls, so every backend scores identically. */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "internal.h"

#define SEED_STRIDE 3
#define MAX_CANDIDATES 512
#define MAX_VOTES 4096   /* seed hits voted per read before thinning seeds */
#define MIN_SEEDS 8
#define MAX_GAPPED 16   /* candidates given a gapped alignment when none aligns cleanly */
#define MIN_ALIGNED 30
#define BAND BG_ALIGN_BAND
#define SC_MATCH 2
#define SC_MISM 4
#define SC_GAP_OPEN 8   /* cost of the first gap base */
#define SC_GAP_EXT 2    /* cost of each further gap base */
#define MIN_READ_IDENTITY 0.80

void bg_mapper_init(bg_mapper_t *m, const bg_db_t *db) {
  memset(m, 0, sizeof *m);
  m->db = db;
#ifdef BG_HAVE_AVX2_FORMS
  m->banded_simd = bg_avx512vbmi_usable(); /* AVX-512 BW and VL come with it */
#endif
}

void bg_mapper_free(bg_mapper_t *m) {
  free(m->keys); free(m->alns); free(m->rc); free(m->dp); free(m->ops); free(m->vote_keys); free(m->vote_cnt); free(m->seeds); free(m->cache[0].s); free(m->cache[1].s);
  free(m->cand_bits);
  memset(m, 0, sizeof *m);
}

static const uint8_t COMP[256] = {
    ['A'] = 'T', ['C'] = 'G', ['G'] = 'C', ['T'] = 'A', ['N'] = 'N'};

static const uint8_t *oriented(bg_mapper_t *m, const uint8_t *seq, uint32_t len, uint32_t strand) {
  if (!strand) return seq;
  if (m->rc_of == seq && m->rc_len == len) return m->rc;
  if (bg_grow((void **)&m->rc, &m->cap_rc, len, 1) != 0) return NULL;
  m->rc_of = seq; m->rc_len = len;
  for (uint32_t i = 0; i < len; i++) {
    uint8_t c = COMP[seq[len - 1 - i]];
    m->rc[i] = c ? c : 'N';
  }
  return m->rc;
}

/* Read positions [*s, *e) that overlap the target when read base 0 sits at target position diag. */
static inline void overlap(int32_t diag, uint32_t len, uint32_t tlen, int64_t *s, int64_t *e) {
  *s = diag < 0 ? -(int64_t)diag : 0;
  *e = (int64_t)tlen - diag;
  if (*e > len) *e = len;
}

/* Ungapped comparison over the overlap of the read (at diag) with the target. */
static void ungapped(const uint8_t *q, uint32_t len, const uint8_t *t, uint32_t tlen, int32_t diag, uint32_t *ov,
                     uint32_t *mm) {
  int64_t a, b;
  overlap(diag, len, tlen, &a, &b);
  if (b <= a) { *ov = 0; *mm = 0; return; }
  uint32_t n = (uint32_t)(b - a), x = 0;
  const uint8_t *qq = q + a, *tt = t + a + diag;
  for (uint32_t i = 0; i < n; i++) x += (qq[i] != tt[i]) | (qq[i] == 'N');
  *ov = n; *mm = x;
}

enum { OP_M = 0, OP_I = 1, OP_D = 2 };

typedef struct dp_res_t {
  int32_t score;
  uint32_t mism, alen, matches;
  uint32_t nops;          /* ops stored in m->ops, forward order */
  uint32_t q0, t0;        /* start of the local alignment */
} dp_res_t;

/* The banded Gotoh local alignment's fill, one cell at a time: traceback bits into tb ((L + 1) rows of W), the
 * best cell (the first of the highest score, rows then columns) into *best, *bi, *bj. H, E, F: 3 (L + 1) W. */
static void banded_fill_scalar(int32_t *H, const uint8_t *q, uint32_t L, const uint8_t *t, uint32_t tlen, int32_t diag,
                               uint8_t *tb, int32_t *best_out, uint32_t *bi_out, int *bj_out) {
  const int W = 2 * BAND + 1;
  size_t cells = (size_t)(L + 1) * W;
  int32_t *E = H + cells, *F = E + cells;
  const int32_t NEG = -(1 << 28);
  for (int j = 0; j < W; j++) { H[j] = 0; E[j] = NEG; F[j] = NEG; tb[j] = 0; }
  int32_t best = 0;
  uint32_t bi = 0;
  int bj = 0;
  for (uint32_t i = 1; i <= L; i++) {
    int32_t *Hi = H + (size_t)i * W, *Ei = E + (size_t)i * W, *Fi = F + (size_t)i * W;
    const int32_t *Hp = Hi - W, *Ep = Ei - W;
    uint8_t *tbi = tb + (size_t)i * W;
    /* the band's cells over the target: target end tend = diag + i + j - BAND in [0, tlen] */
    int64_t t0 = (int64_t)diag + i - BAND;
    int jlo = t0 < 0 ? (int)(t0 < -W ? W : -t0) : 0;
    int jhi = (int64_t)tlen - t0 < W - 1 ? (int)((int64_t)tlen - t0) : W - 1; /* inclusive; < jlo when none */
    for (int j = 0; j < jlo && j < W; j++) { Hi[j] = 0; Ei[j] = NEG; Fi[j] = NEG; tbi[j] = 0; }
    for (int j = jhi + 1 > jlo ? jhi + 1 : jlo; j < W; j++) { Hi[j] = 0; Ei[j] = NEG; Fi[j] = NEG; tbi[j] = 0; }
    const uint8_t qc = q[i - 1];
    const int32_t mis = -SC_MISM, mat = qc == 'N' ? -SC_MISM : SC_MATCH; /* N matches nothing */
    /* the choices below are data-dependent and unpredictable: written as selects (cmov), not branches; the
     * left neighbour's H and F stay in registers (hl, fl). Left of column 0 nothing: hl, fl make f = NEG
     * without extension, as a cell outside the band would. */
    int32_t hl = jlo > 0 ? 0 : NEG + SC_GAP_OPEN, fl = jlo > 0 ? NEG : NEG + SC_GAP_EXT;
    for (int j = jlo; j <= jhi; j++) {
      int64_t tend = t0 + j;
      int32_t e = NEG, ext_e = 0;
      if (j + 1 < W) {
        int32_t o = Hp[j + 1] - SC_GAP_OPEN, x = Ep[j + 1] - SC_GAP_EXT;
        ext_e = x > o;
        e = ext_e ? x : o;
      }
      int32_t of = hl - SC_GAP_OPEN, xf = fl - SC_GAP_EXT;
      int32_t ext_f = xf > of, f = ext_f ? xf : of;
      int32_t d = tend >= 1 ? Hp[j] + (qc == t[tend - 1] ? mat : mis) : NEG;
      int32_t h = d > 0 ? d : 0, src = d > 0;
      src = e > h ? 2 : src;
      h = e > h ? e : h;
      src = f > h ? 3 : src;
      h = f > h ? f : h;
      Hi[j] = h; Ei[j] = e; Fi[j] = f;
      hl = h; fl = f;
      tbi[j] = (uint8_t)(ext_e << 2 | ext_f << 3 | src);
      int better = h > best;
      best = better ? h : best;
      bi = better ? i : bi;
      bj = better ? j : bj;
    }
  }
  *best_out = best; *bi_out = bi; *bj_out = bj;
}

#ifdef BG_HAVE_AVX2_FORMS
#include <immintrin.h>
/* Reads up to this long take banded_fill_avx512: its 16-bit scores stay below 2 L + 48. */
#define BANDED_SIMD_MAX_LEN 16000u

/* banded_fill_scalar a row at a time: the band's W (<= 32) cells of a row in the 16-bit lanes of one vector.
 * E comes from the row before (one lane over), the diagonal score from it directly; F, the gap along the row,
 * is a running maximum: F[j] = max(Hd[j-1] - open, F[j-1] - ext), where Hd is the cell's score before F is
 * considered (when F wins a cell, opening after it never beats extending), i.e. F[j] + ext (j - 1) is the
 * maximum of Hd[k] - open + ext k over k < j: a prefix maximum in five shifted steps. Scores below -8 never
 * win a cell or a gap choice, so the scalar form's -2^28 is -30000 here (saturating). Same cells, same bits,
 * same best cell. */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void banded_fill_avx512(const uint8_t *q, uint32_t L,
                                                                                   const uint8_t *t, uint32_t tlen,
                                                                                   int32_t diag, uint8_t *tb,
                                                                                   int32_t *best_out, uint32_t *bi_out,
                                                                                   int *bj_out) {
  enum { W = 2 * BAND + 1, NEG16 = -30000 };
  _Static_assert(W <= 32, "the band fits one vector of 16-bit lanes");
  const __m512i neg = _mm512_set1_epi16(NEG16), zero = _mm512_setzero_si512();
  const __m512i go = _mm512_set1_epi16(SC_GAP_OPEN), ge = _mm512_set1_epi16(SC_GAP_EXT);
  const __m512i lane = _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12,
                                        11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i ge_lane = _mm512_mullo_epi16(lane, ge); /* ext * j */
  const __m512i down1 = _mm512_add_epi16(lane, _mm512_set1_epi16(1)); /* lane j takes lane j + 1 */
  const __m512i up[5] = {_mm512_sub_epi16(lane, _mm512_set1_epi16(1)), _mm512_sub_epi16(lane, _mm512_set1_epi16(2)),
                         _mm512_sub_epi16(lane, _mm512_set1_epi16(4)), _mm512_sub_epi16(lane, _mm512_set1_epi16(8)),
                         _mm512_sub_epi16(lane, _mm512_set1_epi16(16))}; /* lane j takes lane j - s */
  const __mmask32 in_w = (__mmask32)((1ull << W) - 1), before_last = (__mmask32)((1ull << (W - 1)) - 1);
  __m512i hp = zero, ep = neg; /* row 0: H 0, E none */
  memset(tb, 0, W);
  int32_t best = 0;
  uint32_t bi = 0;
  int bj = 0;
  for (uint32_t i = 1; i <= L; i++) {
    int64_t t0 = (int64_t)diag + i - BAND;
    int jlo = t0 < 0 ? (int)(t0 < -W ? W : -t0) : 0;
    int jhi = (int64_t)tlen - t0 < W - 1 ? (int)((int64_t)tlen - t0) : W - 1;
    __mmask32 band = 0;
    if (jhi >= jlo) band = (__mmask32)(((1ull << (jhi + 1)) - 1) & ~((1ull << jlo) - 1)) & in_w;
    /* E: from the cell below-right in the row before (lane j + 1); none in the last lane */
    __m512i o = _mm512_subs_epi16(_mm512_permutexvar_epi16(down1, hp), go);
    __m512i x = _mm512_subs_epi16(_mm512_permutexvar_epi16(down1, ep), ge);
    __mmask32 ext_e = _mm512_cmpgt_epi16_mask(x, o) & before_last;
    __m512i e = _mm512_mask_blend_epi16(before_last, neg, _mm512_max_epi16(x, o));
    /* the diagonal: target base t[tend - 1] for tend = t0 + j in [1, tlen] (masked lanes are not read) */
    __mmask32 dm = band;
    if (t0 < 1) dm &= (__mmask32)~((1ull << (1 - t0 > 32 ? 32 : 1 - t0)) - 1);
    const void *tp = (const void *)((uintptr_t)t + (uintptr_t)(t0 - 1));
    __m512i tv = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(dm, tp));
    const uint8_t qc = q[i - 1];
    __mmask32 eq = qc == 'N' ? 0 : _mm512_cmpeq_epi16_mask(tv, _mm512_set1_epi16(qc));
    __m512i sc = _mm512_mask_blend_epi16(eq, _mm512_set1_epi16(-SC_MISM), _mm512_set1_epi16(SC_MATCH));
    __m512i d = _mm512_mask_blend_epi16(dm, neg, _mm512_adds_epi16(hp, sc));
    /* the cell before F: max(d, 0), then E */
    __mmask32 dpos = _mm512_cmpgt_epi16_mask(d, zero);
    __m512i h = _mm512_max_epi16(d, zero), src = _mm512_maskz_mov_epi16(dpos, _mm512_set1_epi16(1));
    __mmask32 egt = _mm512_cmpgt_epi16_mask(e, h);
    h = _mm512_mask_blend_epi16(egt, h, e);
    src = _mm512_mask_blend_epi16(egt, src, _mm512_set1_epi16(2));
    h = _mm512_maskz_mov_epi16(band, h); /* outside the band: 0 */
    /* F: exclusive prefix maximum of h[k] - open + ext k, then F[j] = that - ext (j - 1) */
    __m512i g = _mm512_add_epi16(_mm512_sub_epi16(h, go), ge_lane);
    __m512i pm = _mm512_mask_permutexvar_epi16(neg, (__mmask32)~1u, up[0], g); /* lane j: g[j - 1] */
    for (int k = 0; k < 5; k++) {
      __mmask32 has = (__mmask32)~((1ull << (1u << k)) - 1);
      pm = _mm512_max_epi16(pm, _mm512_mask_permutexvar_epi16(neg, has, up[k], pm));
    }
    __m512i f = _mm512_adds_epi16(_mm512_subs_epi16(pm, ge_lane), ge);
    f = _mm512_mask_blend_epi16(band, neg, f); /* outside the band: none */
    /* extension bit: F[j - 1] - ext > h[j - 1] - open (lane 0 and the band's first lane: F none) */
    __m512i fl = _mm512_mask_permutexvar_epi16(neg, (__mmask32)~1u, up[0], f);
    __m512i hl = _mm512_maskz_permutexvar_epi16((__mmask32)~1u, up[0], h);
    __mmask32 ext_f = _mm512_cmpgt_epi16_mask(_mm512_subs_epi16(fl, ge), _mm512_subs_epi16(hl, go)) & band;
    __mmask32 fgt = _mm512_cmpgt_epi16_mask(f, h) & band;
    h = _mm512_mask_blend_epi16(fgt, h, f);
    src = _mm512_mask_blend_epi16(fgt, src, _mm512_set1_epi16(3));
    /* bits: ext_e << 2 | ext_f << 3 | src, in the band only */
    __m512i bits = _mm512_or_si512(src, _mm512_maskz_mov_epi16(ext_e, _mm512_set1_epi16(4)));
    bits = _mm512_or_si512(bits, _mm512_maskz_mov_epi16(ext_f, _mm512_set1_epi16(8)));
    bits = _mm512_maskz_mov_epi16(band, bits);
    _mm256_mask_storeu_epi8(tb + (size_t)i * W, in_w, _mm512_cvtepi16_epi8(bits));
    if (_mm512_mask_cmpgt_epi16_mask(band, h, _mm512_set1_epi16((short)best))) { /* the row's first highest cell */
      int16_t hv[32];
      _mm512_storeu_si512(hv, h);
      for (int j = jlo; j <= jhi; j++)
        if (hv[j] > best) { best = hv[j]; bi = i; bj = j; }
    }
    hp = h;
    ep = _mm512_mask_blend_epi16(band, neg, e);
  }
  *best_out = best; *bi_out = bi; *bj_out = bj;
}
#endif

/* Banded Gotoh local alignment of q against t around diag. Ops written to m->ops when want_ops. The fill runs
 * in AVX-512 where the CPU has it (m->banded_simd), else one cell at a time: the same result. */
static int banded(bg_mapper_t *m, const uint8_t *q, uint32_t L, const uint8_t *t, uint32_t tlen, int32_t diag,
                  int want_ops, dp_res_t *r) {
  const int W = 2 * BAND + 1;
  size_t cells = (size_t)(L + 1) * W;
  if (bg_grow((void **)&m->ops, &m->cap_ops, cells + 2 * (size_t)L + 2 * BAND + 8, 1) != 0) return -1;
  uint8_t *tb = m->ops; /* traceback bits share the ops buffer's tail: ops go after cells */
  int32_t best;
  uint32_t bi;
  int bj;
#ifdef BG_HAVE_AVX2_FORMS
  if (m->banded_simd && L <= BANDED_SIMD_MAX_LEN) banded_fill_avx512(q, L, t, tlen, diag, tb, &best, &bi, &bj);
  else
#endif
  {
    if (bg_grow((void **)&m->dp, &m->cap_dp, cells * 3, sizeof(int32_t)) != 0) return -1;
    banded_fill_scalar(m->dp, q, L, t, tlen, diag, tb, &best, &bi, &bj);
  }
  r->score = best;
  r->mism = r->alen = r->matches = r->nops = 0;
  if (best <= 0) return 0;
  /* traceback; state 0 = H, 1 = E, 2 = F */
  uint8_t *ops = tb + cells;
  uint32_t n = 0, i = bi;
  int j = bj, state = 0;
  while (i > 0) {
    uint8_t bits = tb[(size_t)i * W + j];
    if (state == 0) {
      int src = bits & 3;
      if (src == 0) break;
      if (src == 1) {
        int64_t tend = (int64_t)diag + i + (j - BAND);
        uint8_t qc = q[i - 1], tc = t[tend - 1];
        if (qc == tc && qc != 'N') r->matches++; else r->mism++;
        ops[n++] = OP_M; i--;
      } else state = src == 2 ? 1 : 2;
    } else if (state == 1) {
      ops[n++] = OP_I;
      int ext = bits & 4;
      i--; j++;
      state = ext ? 1 : 0;
    } else {
      ops[n++] = OP_D;
      int ext = bits & 8;
      j--;
      state = ext ? 2 : 0;
    }
  }
  /* reverse into forward order */
  for (uint32_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) { uint8_t x = ops[a]; ops[a] = ops[b]; ops[b] = x; }
  r->nops = n; r->alen = n;
  r->q0 = i;
  r->t0 = (uint32_t)((int64_t)diag + i + (j - BAND));
  if (want_ops && ops != m->ops) memmove(m->ops, ops, n);
  return 0;
}

int32_t bg_banded_score(bg_mapper_t *m, const uint8_t *q, uint32_t len, const uint8_t *t, uint32_t tlen, int32_t diag,
                        uint32_t *alen, uint32_t *matches) {
  dp_res_t r;
  if (banded(m, q, len, t, tlen, diag, 0, &r) != 0) return -1;
  *alen = r.alen;
  *matches = r.matches;
  return r.score;
}

static int needs_dp(uint32_t ov, uint32_t mm) { return mm > 2 + ov / 50; }

void bg_mapper_forget(bg_mapper_t *m) {
  m->cache[0].of = m->cache[1].of = NULL;
  m->rc_of = NULL;
}

/* Seeds of a read (canonical k-mers every SEED_STRIDE positions, and the last one, that the index
 * holds), looked up once per read and kept for both universes in a two-read cache. The occurrence
 * lists are random accesses into a table far larger than the caches, so the lookups run in passes:
 * the read's k-mers (prefetching their slots), then their slots (prefetching each one's occurrences),
 * then the split of each seed's occurrences into its ResFinder and PointFinder parts. */
static const bg_seedset_t *seeds_of(bg_mapper_t *m, const uint8_t *seq, uint32_t len) {
  for (int k = 0; k < 2; k++)
    if (m->cache[k].of == seq && m->cache[k].len == len) return &m->cache[k];
  bg_seedset_t *ss = &m->cache[m->cache_next];
  m->cache_next ^= 1;
  const bg_db_t *db = m->db;
  ss->of = NULL;
  ss->n = 0;
  size_t most = len / SEED_STRIDE + 2;
  if (bg_grow((void **)&ss->s, &ss->cap, most, sizeof(bg_seed_t)) != 0) return NULL;
  if (bg_grow((void **)&m->keys, &m->cap_keys, 2 * most, sizeof(uint64_t)) != 0) return NULL;
  uint64_t *canon = m->keys, *where = m->keys + most; /* canon later holds slot index + 1 (0: absent); where: rp | read_rev << 32 */
  size_t n = 0;
  uint64_t fw = 0, rv = 0;
  uint32_t valid = 0, nrf = db->n_resfinder;
  for (uint32_t i = 0; i < len; i++) {
    uint32_t c = bg_base_code(seq[i]);
    if (c > 3) { valid = 0; continue; }
    fw = ((fw << 2) | c) & BG_KMASK;
    rv = (rv >> 2) | ((uint64_t)(3u - c) << (2 * (BG_K - 1)));
    if (++valid < BG_K) continue;
    uint32_t rp = i + 1 - BG_K;
    if (rp % SEED_STRIDE != 0 && i + 1 != len) continue;
    int read_rev = rv < fw;
    canon[n] = read_rev ? rv : fw;
    where[n] = rp | (uint64_t)read_rev << 32;
    n++;
  }
  for (size_t j = 0; j < n; j++) __builtin_prefetch(&db->slots[bg_mix64(canon[j]) & db->slot_mask]);
  for (size_t j = 0; j < n; j++) {
    const bg_kslot_t *s = bg_index_find(db, canon[j]);
    canon[j] = s ? (uint64_t)(s - db->slots) + 1 : 0;
    if (s) __builtin_prefetch(db->occs + s->start + s->count / 2);
  }
  for (size_t j = 0; j < n; j++) {
    if (!canon[j]) continue;
    const bg_kslot_t *s = &db->slots[canon[j] - 1];
    const bg_occ_t *o = db->occs + s->start;
    uint32_t l = 0, h = s->count;
    while (l < h) { uint32_t mid = (l + h) / 2; if (o[mid].target < nrf) l = mid + 1; else h = mid; }
    ss->s[ss->n++] = (bg_seed_t){s->start, s->count, (uint32_t)where[j], (uint32_t)(where[j] >> 32), l};
  }
  ss->of = seq; ss->len = len;
  return ss;
}

/* The score of an alignment path (ops in forward order from q0 on the read and t0 on a target) against target t's
 * own bases: the same columns and gaps; *ok 0 when the path leaves t. */
static int32_t path_score(const uint8_t *q, const uint8_t *t, uint32_t tlen, const uint8_t *ops, uint32_t nops,
                          uint32_t q0, int64_t t0, uint32_t *matches, uint32_t *ok) {
  int32_t s = 0;
  uint32_t qi = q0, ma = 0;
  int64_t ti = t0;
  uint8_t prev = OP_M;
  *ok = 0;
  for (uint32_t k = 0; k < nops; k++) {
    uint8_t op = ops[k];
    if (op == OP_M) {
      if (ti < 0 || ti >= tlen) return 0;
      if (q[qi] == t[ti] && q[qi] != 'N') { s += SC_MATCH; ma++; }
      else s -= SC_MISM;
      qi++; ti++;
    } else {
      s -= prev == op ? SC_GAP_EXT : SC_GAP_OPEN;
      if (op == OP_I) qi++;
      else ti++;
    }
    prev = op;
  }
  *matches = ma;
  *ok = 1;
  return s;
}

/* The banded gapped alignment of candidate a, taken from done[] when one was computed against the same bases at
 * the same diagonal and strand, else computed (and added to done[]) when `compute`; a->gapped becomes 2 (better
 * than ungapped) or 3 (tried, ungapped kept), and stays 0 when neither. Returns 0, or -1 out of memory. */
typedef struct gapped_done_t { int32_t diag; uint32_t strand; int64_t lo, hi; const uint8_t *t; dp_res_t r; } gapped_done_t;

static int gapped_from_done(bg_mapper_t *m, const uint8_t *seq, uint32_t len, bg_aln_t *a, gapped_done_t *done,
                            int *ndone, int compute) {
  const bg_db_t *db = m->db;
  const bg_target_t *tg = &db->targets[a->target];
  const uint8_t *t = (const uint8_t *)bg_tseq(db, tg);
  int64_t lo = (int64_t)a->diag - BAND - 1, hi = (int64_t)a->diag + len + BAND + 1; /* all banded() reads */
  if (lo < 0) lo = 0;
  if (hi > tg->len) hi = tg->len;
  int same = -1;
  for (int k = 0; k < *ndone && same < 0; k++)
    if (done[k].diag == a->diag && done[k].strand == a->strand && done[k].lo == lo && done[k].hi == hi &&
        memcmp(done[k].t + lo, t + lo, (size_t)(hi - lo)) == 0)
      same = k;
  dp_res_t r;
  if (same >= 0) r = done[same].r;
  else if (!compute) return 0;
  else {
    const uint8_t *q = oriented(m, seq, len, a->strand);
    if (!q || banded(m, q, len, t, tg->len, a->diag, 0, &r) != 0) return -1;
    done[*ndone] = (gapped_done_t){a->diag, a->strand, lo, hi, t, r};
    (*ndone)++;
  }
  if (r.score > a->score) { a->score = r.score; a->mism = r.alen - r.matches; a->alen = r.alen; a->gapped = 2; }
  else a->gapped = 3;
  return 0;
}

int bg_map_read(bg_mapper_t *m, const uint8_t *seq, uint32_t len, uint32_t kind, int32_t slack) {
  const bg_db_t *db = m->db;
  if (len < BG_K) return 0;
  m->rc_of = NULL; /* the read buffer may be reused with new content */
  const bg_seedset_t *ss = seeds_of(m, seq, len);
  if (!ss) return -1;
  /* this universe's part of each seed's occurrences (ResFinder targets come first) */
  size_t ns = 0, total_occ = 0;
  if (bg_grow((void **)&m->seeds, &m->cap_seeds, ss->n + 1, sizeof(bg_seed_t)) != 0) return -1;
  for (size_t i = 0; i < ss->n; i++) {
    bg_seed_t sd = ss->s[i];
    uint32_t rf = sd.rf_count;
    if (kind == BG_KIND_RESFINDER) sd.count = rf;
    else { sd.start += rf; sd.count -= rf; }
    if (!sd.count) continue;
    m->seeds[ns++] = sd;
    total_occ += sd.count;
  }
  /* with large families (hundreds of near-identical alleles) a spread-out subset of seeds is
   * enough to nominate every allele: keep every step-th seed so that the votes stay bounded */
  size_t step = 1;
  while (step < ns && total_occ / step > MAX_VOTES && ns / (step + 1) >= MIN_SEEDS) step++;
  size_t nk = 0;
  const uint8_t *skip = kind == BG_KIND_RESFINDER ? NULL : m->skip;
  for (size_t si = 0; si < ns; si += step) {
    const bg_seed_t *sd = &m->seeds[si];
    if (si + 2 * step < ns) { /* the head of a later seed's occurrences, so its first lines are not waited for */
      const bg_occ_t *ahead = db->occs + m->seeds[si + 2 * step].start;
      for (int b = 0; b < 4; b++) __builtin_prefetch((const char *)ahead + 64 * b);
    }
    if (bg_grow((void **)&m->keys, &m->cap_keys, nk + sd->count, sizeof(uint64_t)) != 0) return -1;
    for (uint32_t k = 0; k < sd->count; k++) {
      bg_occ_t o = db->occs[sd->start + k];
      if (skip && skip[o.target]) continue;
      uint32_t opos = o.pos & 0x7fffffffu, orev = o.pos >> 31;
      uint32_t strand = sd->read_rev ^ orev;
      int64_t diag = strand ? (int64_t)opos - (int64_t)(len - sd->rp - BG_K) : (int64_t)opos - sd->rp;
      m->keys[nk++] = ((uint64_t)o.target << 33) | ((uint64_t)strand << 32) | (uint32_t)(diag + 0x80000000ll);
    }
  }
  if (nk == 0) return 0;
  /* votes per (target, strand, diagonal), then the best diagonal per (target, strand), with two
   * open-addressing tables in the mapper's scratch (no sort of all seed hits) */
  if (m->hsize < nk * 2) {
    size_t hs = m->hsize ? m->hsize : 1024;
    while (hs < nk * 2) hs <<= 1;
    free(m->vote_keys); free(m->vote_cnt);
    m->vote_keys = calloc(hs * 2, sizeof(uint64_t));
    m->vote_cnt = calloc(hs * 5, sizeof(uint32_t));
    m->hsize = m->vote_keys && m->vote_cnt ? hs : 0;
    if (!m->hsize) return -1;
  }
  size_t hsize = m->hsize;
  uint64_t *vk = m->vote_keys, *gk = vk + hsize;          /* tables: all zero between reads */
  uint32_t *vc = m->vote_cnt, *gv = vc + hsize;
  int32_t *gd = (int32_t *)(gv + hsize);
  uint32_t *used = (uint32_t *)(gd + hsize), *gused = used + hsize, nused = 0, ngused = 0;
  uint64_t hmask = hsize - 1;
  int hshift = 64 - __builtin_ctzll(hsize); /* slots by a multiplicative hash (the tables' order never shows) */
#define VSLOT(k) ((((k) * 0x9E3779B97F4A7C15ull) >> hshift) & hmask)
  for (size_t i = 0; i < nk; i++) {
    uint64_t key = m->keys[i] + 1, h = VSLOT(key);
    while (vk[h] && vk[h] != key) h = (h + 1) & hmask;
    if (!vk[h]) { vk[h] = key; vc[h] = 0; used[nused++] = (uint32_t)h; }
    vc[h]++;
  }
  uint32_t best_votes = 0;
  for (uint32_t u = 0; u < nused; u++) {
    size_t i = used[u];
    uint64_t key = vk[i] - 1, grp = (key >> 32) + 1, h = VSLOT(grp);
    int32_t diag = (int32_t)((int64_t)(uint32_t)key - 0x80000000ll);
    while (gk[h] && gk[h] != grp) h = (h + 1) & hmask;
    if (!gk[h]) { gk[h] = grp; gv[h] = vc[i]; gd[h] = diag; gused[ngused++] = (uint32_t)h; }
    else if (vc[i] > gv[h] || (vc[i] == gv[h] && diag < gd[h])) { gv[h] = vc[i]; gd[h] = diag; }
    if (vc[i] > best_votes) best_votes = vc[i];
  }
  for (uint32_t u = 0; u < nused; u++) vk[used[u]] = 0;
  if (bg_grow((void **)&m->alns, &m->cap_alns, ngused + 1, sizeof(bg_aln_t)) != 0) return -1;
  /* candidates in (target, strand) order: a bitmap over target * 2 + strand, walked in order (a family's
   * read has hundreds of candidates; sorting them was a visible part of mapping) */
  size_t nwords = ((size_t)db->n_targets * 2 + 63) / 64;
  if (!m->cand_bits) {
    m->cand_bits = calloc(nwords ? nwords : 1, sizeof *m->cand_bits);
    if (!m->cand_bits) return -1;
  }
  size_t wlo = nwords, whi = 0;
  for (uint32_t u = 0; u < ngused; u++) {
    uint64_t grp = gk[gused[u]] - 1;
    m->cand_bits[grp >> 6] |= 1ull << (grp & 63);
    if ((grp >> 6) < wlo) wlo = grp >> 6;
    if ((grp >> 6) + 1 > whi) whi = (grp >> 6) + 1;
  }
  size_t nc = 0;
  for (size_t wi = wlo; wi < whi; wi++) {
    for (uint64_t bits = m->cand_bits[wi]; bits; bits &= bits - 1) {
      uint64_t grp = wi * 64 + (uint64_t)__builtin_ctzll(bits), h = VSLOT(grp + 1);
      while (gk[h] != grp + 1) h = (h + 1) & hmask;
      m->alns[nc++] = (bg_aln_t){.target = (uint32_t)(grp >> 1), .strand = (uint32_t)(grp & 1), .diag = gd[h], .score = (int32_t)gv[h]};
    }
    m->cand_bits[wi] = 0;
  }
  for (uint32_t u = 0; u < ngused; u++) gk[gused[u]] = 0;
#undef VSLOT
  /* keep well-supported candidates (at most MAX_CANDIDATES, by votes then order) */
  uint32_t min_votes = best_votes / 2 > 1 ? best_votes / 2 : 1;
  size_t keep = 0;
  for (size_t i = 0; i < nc; i++) if ((uint32_t)m->alns[i].score >= min_votes) m->alns[keep++] = m->alns[i];
  while (keep > MAX_CANDIDATES) {
    min_votes++;
    size_t k2 = 0;
    for (size_t i = 0; i < keep; i++) if ((uint32_t)m->alns[i].score >= min_votes) m->alns[k2++] = m->alns[i];
    keep = k2;
  }
  /* score each candidate: ungapped first; the banded gapped alignment only when no candidate
   * aligns cleanly without gaps (an indel in the read), and then for the closest few */
  int any_clean = 0;
  for (size_t c = 0; c < keep; c++) {
    bg_aln_t *a = &m->alns[c];
    const bg_target_t *tg = &db->targets[a->target];
    const uint8_t *q = oriented(m, seq, len, a->strand);
    if (!q) return -1;
    uint32_t ov, mm;
    ungapped(q, len, (const uint8_t *)bg_tseq(db, tg), tg->len, a->diag, &ov, &mm);
    a->mism = mm; a->alen = ov; a->gapped = 0;
    a->score = (int32_t)(ov - mm) * SC_MATCH - (int32_t)mm * SC_MISM;
    if (ov >= MIN_ALIGNED && !needs_dp(ov, mm)) any_clean = 1;
  }
  if (!any_clean) {
    /* A family's alleles are often identical over a read's band: an alignment against the same bases at the
     * same diagonal and strand is taken from the one already done, not computed again (same result). The
     * budget of MAX_GAPPED counts computed alignments only, and after it every candidate whose band holds the
     * bases of one done gets that result: a family of hundreds (CTX-M-1's group) gave the gapped score to its
     * first 16 alleles in index order only, so a read with an indel fitted those best, and reads of blaCTX-M-15
     * with indels made CTX-M-33 or -28 the call. */
    gapped_done_t done[MAX_GAPPED];
    int ndone = 0;
    for (int round = 0; round < 4 * MAX_GAPPED && ndone < MAX_GAPPED; round++) {
      /* the not-yet-gapped candidate with the fewest ungapped mismatches per aligned base */
      size_t pick = SIZE_MAX;
      for (size_t c = 0; c < keep; c++) {
        const bg_aln_t *a = &m->alns[c];
        if (a->gapped) continue; /* tried already (2: improved, 3: ungapped kept) */
        if (pick == SIZE_MAX || (uint64_t)a->mism * m->alns[pick].alen < (uint64_t)m->alns[pick].mism * a->alen) pick = c;
      }
      if (pick == SIZE_MAX) break;
      if (gapped_from_done(m, seq, len, &m->alns[pick], done, &ndone, 1) < 0) return -1;
    }
    for (size_t c = 0; c < keep; c++) /* the rest: from an alignment done against the same bases, if any */
      if (!m->alns[c].gapped && gapped_from_done(m, seq, len, &m->alns[c], done, &ndone, 0) < 0) return -1;
    /* and any left: the best alignment's path scored against their own bases (a lower bound of their best,
     * exact for an allele whose bases along the path are the best one's; marked 4). Twice: when a so-scored
     * allele comes out best, its own alignment is computed and its path scored against the rest again (the
     * first path may be a relative's, clipped where the relative differs). */
    for (int pass = 0; pass < 2; pass++) {
      size_t bi = SIZE_MAX;
      for (size_t c = 0; c < keep; c++) {
        const bg_aln_t *a = &m->alns[c];
        if (a->gapped != 2 && a->gapped != 4) continue;
        if (bi == SIZE_MAX || a->score > m->alns[bi].score || (a->score == m->alns[bi].score && a->gapped == 4 && m->alns[bi].gapped != 4)) bi = c;
      }
      if (bi == SIZE_MAX || (pass > 0 && m->alns[bi].gapped != 4)) break;
      bg_aln_t *b = &m->alns[bi];
      int left = b->gapped == 4;
      for (size_t c = 0; c < keep && !left; c++) left = c != bi && (m->alns[c].gapped == 0 || m->alns[c].gapped == 4) && m->alns[c].strand == b->strand;
      if (!left) break;
      const bg_target_t *btg = &db->targets[b->target];
      const uint8_t *q = oriented(m, seq, len, b->strand);
      dp_res_t r;
      if (!q || banded(m, q, len, (const uint8_t *)bg_tseq(db, btg), btg->len, b->diag, 1, &r) != 0) return -1;
      if (b->gapped == 4 && r.score >= b->score) { b->score = r.score; b->alen = r.alen; b->mism = r.alen - r.matches; b->gapped = 2; }
      for (size_t c = 0; c < keep; c++) {
        bg_aln_t *a = &m->alns[c];
        if (c == bi || (a->gapped != 0 && a->gapped != 4) || a->strand != b->strand) continue;
        const bg_target_t *tg = &db->targets[a->target];
        uint32_t matches, ok;
        int32_t sc = path_score(q, (const uint8_t *)bg_tseq(db, tg), tg->len, m->ops, r.nops, r.q0,
                                (int64_t)r.t0 + (a->diag - b->diag), &matches, &ok);
        if (ok && sc > a->score) { a->score = sc; a->alen = r.nops; a->mism = r.nops - matches; a->gapped = 4; }
      }
    }
  }
  int32_t best = -1;
  size_t out = 0;
  for (size_t c = 0; c < keep; c++) {
    bg_aln_t a = m->alns[c];
    a.gapped = a.gapped == 2 || a.gapped == 4;
    if (a.alen < MIN_ALIGNED || (double)(a.alen - a.mism) < MIN_READ_IDENTITY * a.alen) continue;
    if (a.score > best) best = a.score;
    m->alns[out++] = a;
  }
  /* within slack of the best; one alignment per target (candidates are in target order) */
  size_t uniq = 0;
  for (size_t i = 0; i < out; i++) {
    if (m->alns[i].score < best - slack) continue;
    if (uniq && m->alns[uniq - 1].target == m->alns[i].target) {
      if (m->alns[i].score > m->alns[uniq - 1].score) m->alns[uniq - 1] = m->alns[i];
    } else m->alns[uniq++] = m->alns[i];
  }
  return (int)uniq;
}

/* An ungapped alignment's oriented read and the read positions [*s, *e) over its target; NULL out of memory. */
static const uint8_t *ungapped_span(bg_mapper_t *m, const uint8_t *seq, uint32_t len, const bg_aln_t *a, int64_t *s,
                                    int64_t *e) {
  const uint8_t *q = oriented(m, seq, len, a->strand);
  if (q) overlap(a->diag, len, m->db->targets[a->target].len, s, e);
  return q;
}

uint32_t bg_align_count(bg_mapper_t *m, const uint8_t *seq, uint32_t len, const bg_aln_t *a, uint32_t *cnt,
                        bg_col_fn fn, void *ctx) {
  if (a->gapped) { bg_align_walk(m, seq, len, a, fn, ctx); return 0; }
  int64_t s, e;
  const uint8_t *q = ungapped_span(m, seq, len, a, &s, &e);
  if (!q) return 0;
  uint32_t n = 0;
  for (int64_t i = s; i < e; i++) /* reads are normalised; N is not counted */
    if (q[i] != 'N') { cnt[(a->diag + i) * 5 + bg_norm_code(q[i])]++; n++; }
  return n;
}

void bg_align_walk_at(bg_mapper_t *m, const uint8_t *seq, uint32_t len, const bg_aln_t *a, const uint32_t *tpos,
                      uint32_t n, bg_col_fn fn, void *ctx) {
  if (a->gapped) { bg_align_walk(m, seq, len, a, fn, ctx); return; }
  int64_t s, e;
  const uint8_t *q = ungapped_span(m, seq, len, a, &s, &e);
  if (!q) return;
  for (uint32_t k = 0; k < n; k++) {
    int64_t i = (int64_t)tpos[k] - a->diag;
    if (i >= s && i < e) fn(ctx, tpos[k], q[i], NULL, 0);
  }
}

uint32_t bg_align_walk(bg_mapper_t *m, const uint8_t *seq, uint32_t len, const bg_aln_t *a, bg_col_fn fn, void *ctx) {
  if (!a->gapped) {
    int64_t s, e;
    const uint8_t *q = ungapped_span(m, seq, len, a, &s, &e);
    if (!q) return 0;
    for (int64_t i = s; i < e; i++) fn(ctx, (uint32_t)(a->diag + i), q[i], NULL, 0);
    return e > s ? (uint32_t)(e - s) : 0;
  }
  const bg_target_t *tg = &m->db->targets[a->target];
  const uint8_t *t = (const uint8_t *)bg_tseq(m->db, tg);
  const uint8_t *q = oriented(m, seq, len, a->strand);
  if (!q) return 0;
  dp_res_t r;
  if (banded(m, q, len, t, tg->len, a->diag, 1, &r) != 0 || r.score <= 0) return 0;
  uint32_t qi = r.q0, ti = r.t0;
  const uint8_t *ops = m->ops;
  for (uint32_t k = 0; k < r.nops;) {
    if (ops[k] == OP_M) { fn(ctx, ti, q[qi], NULL, 0); ti++; qi++; k++; }
    else if (ops[k] == OP_D) { fn(ctx, ti, '-', NULL, 0); ti++; k++; }
    else {
      uint32_t n = 0;
      while (k + n < r.nops && ops[k + n] == OP_I) n++;
      if (ti > 0) fn(ctx, ti - 1, 0, q + qi, n);
      qi += n; k += n;
    }
  }
  return r.nops;
}
