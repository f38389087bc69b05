/* quantify.c — fragments to allele abundance: pairing of mate hits into units, EM over
 * multi-mapping units, hard assignment, per-base evidence for coverage, depth and identity. */
#define _GNU_SOURCE /* mremap */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "run.h"

#define PAIR_SLACK (2 * BG_MISMATCH_COST)
#define EM_MAX_ITER 10000
#define EM_MIN_ITER 50
#define EM_MIN_COUNT 1e-2
#define EM_REL_CHANGE 1e-2
#define BG_UNIT_ALNS_MAX 32  /* alignments kept explicitly per unit (see bg_worker_add_unit) */
/* Alignments a worker keeps explicitly for units over BG_UNIT_ALNS_MAX that the compact form cannot hold
 * (28 bytes each: at most 14 MiB a worker); units past it are mapped again when needed. */
#define BG_UNIT_SPILL_ALNS ((size_t)1 << 19)
enum { UNIT_EXPLICIT = 0, UNIT_COMPACT = 1, UNIT_REMAP = 2 };

/*
 * The worker's arrays that grow with the mapped fragments (bases, units, sets, alignments) live in mappings
 * of their own, grown by mremap, not in malloc's arenas. After a run that freed large blocks, glibc raises
 * its mmap threshold (up to 32 MiB) and the next runs' arrays of that size come from the arenas, which they
 * fragment: in a service analysing job after job, peak memory crept up by ~30 % and stayed there.
 */
#define BG_PREFAULT_GROWN ((size_t)8 << 20)
static size_t mapped_bytes(size_t cap, size_t elem) { return (cap * elem + 4095) & ~(size_t)4095; }

#if defined(__SANITIZE_THREAD__)
#define BG_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BG_TSAN 1
#endif
#endif

static int grow_mapped(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 4096;
  while (c < need) c *= 2;
  size_t had = mapped_bytes(*cap, elem), bytes = mapped_bytes(c, elem);
#ifdef BG_TSAN
  /* ThreadSanitizer does not follow mremap: the addresses a mapping moved from keep their history, and a later
   * mapping there is reported as a race. Under it, map anew and copy. */
  void *n = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (n != MAP_FAILED && *p) { memcpy(n, *p, had); munmap(*p, had); }
#else
  void *n = *p ? mremap(*p, had, bytes, MREMAP_MAYMOVE) : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#endif
  if (n == MAP_FAILED) return -1;
  /* the next stretch mapped at once (bg_prefault), not page by page as it is written; only the next 8 MiB, so
   * that a deep sample's arrays do not hold pages of a doubled capacity they may never use */
  bg_prefault(n, had, bytes - had > BG_PREFAULT_GROWN ? had + BG_PREFAULT_GROWN : bytes);
  *p = n; *cap = c;
  return 0;
}

static void free_mapped(void *p, size_t cap, size_t elem) { if (p) munmap(p, mapped_bytes(cap, elem)); }

void bg_worker_init(bg_worker_t *w, const bg_db_t *db) {
  memset(w, 0, sizeof *w);
  bg_mapper_init(&w->m, db);
  /* BIOGPU_UNIT_ALNS=explicit|remap forces one way of keeping alignments, so that tests can show all three
   * give the same results */
  const char *f = getenv("BIOGPU_UNIT_ALNS");
  w->unit_form = !f ? -1 : !strcmp(f, "explicit") ? UNIT_EXPLICIT : !strcmp(f, "remap") ? UNIT_REMAP : -1;
  w->explicit_left = BG_UNIT_SPILL_ALNS;
}

void bg_worker_free(bg_worker_t *w) {
  bg_mapper_free(&w->m);
  free_mapped(w->seqs, w->cap_seqs, 1); free_mapped(w->units, w->cap_units, sizeof *w->units);
  free_mapped(w->sets, w->cap_sets, sizeof *w->sets); free_mapped(w->alns, w->cap_alns, sizeof *w->alns);
  free(w->bases); free(w->set_tab); free(w->a1); free(w->a2);
  memset(w, 0, sizeof *w);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* The offset of the sorted set `cand` (n ids, written at the end of w->sets) among the worker's distinct
 * sets: an equal set stored earlier is shared, else cand is kept. Fragments of one gene region share a
 * few sets, so a family of hundreds of alleles costs its set once, not once a fragment. -1: no memory. */
static int64_t intern_set(bg_worker_t *w, const uint32_t *cand, uint32_t n) {
  if ((w->set_tab_n + 1) * 2 > w->set_tab_cap) {
    size_t cap = w->set_tab_cap ? w->set_tab_cap * 2 : 1024;
    bg_set_slot_t *tab = calloc(cap, sizeof *tab);
    if (!tab) return -1;
    for (size_t i = 0; i < w->set_tab_cap; i++) {
      if (!w->set_tab[i].hash) continue;
      size_t j = w->set_tab[i].hash & (cap - 1);
      while (tab[j].hash) j = (j + 1) & (cap - 1);
      tab[j] = w->set_tab[i];
    }
    free(w->set_tab);
    w->set_tab = tab;
    w->set_tab_cap = cap;
  }
  uint64_t h = bg_mix64(n);
  for (uint32_t i = 0; i < n; i++) h = bg_mix64(h ^ cand[i]);
  h |= 1;
  size_t j = h & (w->set_tab_cap - 1);
  for (; w->set_tab[j].hash; j = (j + 1) & (w->set_tab_cap - 1)) {
    const bg_set_slot_t *e = &w->set_tab[j];
    if (e->hash == h && e->n == n && memcmp(w->sets + e->off, cand, n * sizeof *cand) == 0) return e->off;
  }
  if (w->n_sets + n > UINT32_MAX) return -1;
  w->set_tab[j] = (bg_set_slot_t){h, (uint32_t)w->n_sets, n};
  w->set_tab_n++;
  w->n_sets += n;
  return w->set_tab[j].off;
}

/* Whether a mate's alignments are all ungapped on one strand (a family's alleles). */
static int uniform(const bg_aln_t *a, uint32_t n) {
  for (uint32_t k = 0; k < n; k++)
    if (a[k].gapped || a[k].strand != a[0].strand) return 0;
  return 1;
}

/* A mate's alignments in the compact form: a header entry with the strand, the first diagonal, the offset
 * of the interned list of targets (.target) and that of the other diagonals relative to the first (.mism;
 * .alen = 1 when there is one). The relative diagonals depend on the alleles, not on the read, so the
 * fragments of a gene region share both lists. -1: no memory. */
static int compact_mate(bg_worker_t *w, const bg_aln_t *a, uint32_t n, bg_aln_t *head) {
  *head = (bg_aln_t){.strand = n ? a[0].strand : 0, .diag = n ? a[0].diag : 0};
  if (grow_mapped((void **)&w->sets, &w->cap_sets, w->n_sets + n, sizeof *w->sets) != 0) return -1;
  uint32_t *cand = w->sets + w->n_sets;
  int same = 1;
  for (uint32_t k = 0; k < n; k++) {
    cand[k] = a[k].target; /* in target order already */
    same &= a[k].diag == a[0].diag;
  }
  int64_t off = intern_set(w, cand, n);
  if (off < 0) return -1;
  head->target = (uint32_t)off;
  if (same) return 0;
  if (grow_mapped((void **)&w->sets, &w->cap_sets, w->n_sets + n, sizeof *w->sets) != 0) return -1;
  cand = w->sets + w->n_sets;
  for (uint32_t k = 0; k < n; k++) cand[k] = (uint32_t)(a[k].diag - a[0].diag);
  if ((off = intern_set(w, cand, n)) < 0) return -1;
  head->mism = (uint32_t)off;
  head->alen = 1;
  return 0;
}

/*
 * Records a fragment's unit. Its mates' alignments are kept for the evidence and site passes in one of
 * three forms: explicit (up to BG_UNIT_ALNS_MAX); compact, when each mate's alignments are ungapped on one
 * strand (a read of a family of hundreds of near-identical alleles); else (a family's read with an indel)
 * explicit while the worker's w->explicit_left lasts, and after that none: the mates are mapped again when
 * needed, which costs ~0.1 ms a mate each pass. Explicit alignments to hundreds of alleles cost kilobytes a
 * fragment, hence the bound.
 */
int bg_worker_add_unit(bg_worker_t *w, uint64_t seq_off, uint32_t l1, uint32_t l2, uint8_t kind, uint8_t mates,
                       const uint32_t *set, uint32_t n, int n1, int n2) {
  if (n == 0) return 0;
  if (n > 65535) n = 65535;
  uint32_t an1 = (mates & 1) ? (uint32_t)n1 : 0, an2 = (mates & 2) ? (uint32_t)n2 : 0;
  uint8_t form = UNIT_EXPLICIT;
  if (an1 + an2 > BG_UNIT_ALNS_MAX)
    form = uniform(w->a1, an1) && uniform(w->a2, an2) ? UNIT_COMPACT : an1 + an2 <= w->explicit_left ? UNIT_EXPLICIT : UNIT_REMAP;
  if (w->unit_form >= 0 && (an1 + an2 > BG_UNIT_ALNS_MAX || w->unit_form == UNIT_REMAP)) form = (uint8_t)w->unit_form;
  uint32_t stored = form == UNIT_EXPLICIT ? an1 + an2 : form == UNIT_COMPACT ? 2 : 0;
  if (w->n_alns + stored >= UINT32_MAX) form = UNIT_REMAP, stored = 0;
  if (grow_mapped((void **)&w->units, &w->cap_units, w->n_units + 1, sizeof *w->units) != 0) return -1;
  if (grow_mapped((void **)&w->sets, &w->cap_sets, w->n_sets + n, sizeof *w->sets) != 0) return -1;
  if (grow_mapped((void **)&w->alns, &w->cap_alns, w->n_alns + stored, sizeof *w->alns) != 0) return -1;
  uint32_t *cand = w->sets + w->n_sets;
  memcpy(cand, set, n * sizeof *set);
  qsort(cand, n, sizeof *set, cmp_u32);
  int64_t set_off = intern_set(w, cand, n);
  if (set_off < 0) return -1;
  uint32_t aln_off = (uint32_t)w->n_alns;
  if (form == UNIT_EXPLICIT) {
    memcpy(w->alns + w->n_alns, w->a1, an1 * sizeof *w->alns);
    memcpy(w->alns + w->n_alns + an1, w->a2, an2 * sizeof *w->alns);
  } else if (form == UNIT_COMPACT) {
    if (compact_mate(w, w->a1, an1, &w->alns[aln_off]) != 0 || compact_mate(w, w->a2, an2, &w->alns[aln_off + 1]) != 0) return -1;
  } else aln_off = UINT32_MAX;
  w->units[w->n_units++] = (bg_unit_t){seq_off, l1, l2, (uint32_t)set_off, (uint16_t)n, kind,
                                       (uint8_t)(mates | form << 2), (uint16_t)an1, (uint16_t)an2, aln_off};
  w->n_alns += stored;
  if (form == UNIT_EXPLICIT && stored > BG_UNIT_ALNS_MAX) w->explicit_left -= stored < w->explicit_left ? stored : w->explicit_left;
  return 0;
}

/* Keeps the targets of alns whose score equals the best; writes ids to out; returns count. */
static uint32_t best_set(const bg_aln_t *a, int n, uint32_t *out) {
  int32_t best = INT32_MIN;
  for (int i = 0; i < n; i++) if (a[i].score > best) best = a[i].score;
  uint32_t k = 0;
  for (int i = 0; i < n; i++) if (a[i].score == best) out[k++] = a[i].target;
  return k;
}

/* Maps one mate (0: R1, 1: R2) in one universe into w->a1 / w->a2; returns the count, -1 out of memory. */
static int map_mate(bg_worker_t *w, int mate, const uint8_t *s, uint32_t l, uint32_t kind) {
  int n = bg_map_read(&w->m, s, l, kind, PAIR_SLACK);
  if (n < 0) return -1;
  bg_aln_t **dst = mate ? &w->a2 : &w->a1;
  if (bg_grow((void **)dst, mate ? &w->cap_a2 : &w->cap_a1, (size_t)n + 1, sizeof(bg_aln_t)) != 0) return -1;
  if (n) memcpy(*dst, w->m.alns, (size_t)n * sizeof(bg_aln_t));
  return n;
}

/* A mapped fragment's bases are kept for the passes after the EM, 4 bits each (reads are normalised to
 * A C G T N): the first base of a byte in its low half. */
static const char UNPACK[16] = "ACGTNNNNNNNNNNNN";

static inline uint8_t nibble(uint8_t c) { return c == 'A' ? 0 : c == 'C' ? 1 : c == 'G' ? 2 : c == 'T' ? 3 : 4; }

static void pack_bases(uint8_t *dst, const uint8_t *s1, uint32_t l1, const uint8_t *s2, uint32_t l2) {
  for (uint64_t k = 0; k < (uint64_t)l1 + l2; k++) {
    uint8_t c = nibble(k < l1 ? s1[k] : s2[k - l1]);
    dst[k / 2] = k & 1 ? (uint8_t)(dst[k / 2] | c << 4) : c;
  }
}

const uint8_t *bg_worker_unit_bases(bg_worker_t *w, const bg_unit_t *u) {
  size_t n = (size_t)u->len1 + u->len2;
  if (bg_grow((void **)&w->bases, &w->cap_bases, n + 1, 1) != 0) return NULL;
  const uint8_t *p = w->seqs + u->seq_off;
  for (size_t k = 0; k < n; k++) w->bases[k] = (uint8_t)UNPACK[(p[k / 2] >> (4 * (k & 1))) & 15];
  return w->bases;
}

/* Adapter read-through: a fragment shorter than its reads is read on into the adapter, whose bases would count
 * as mismatches (a 100-base insert in 150-base reads lost a quarter of its pairs). The adapters' first 13 bases:
 * Illumina TruSeq (both mates) and Nextera, and MGI/DNBSEQ's read 1 and read 2 adapters (fastp's list). None
 * occurs in a ResFinder or PointFinder sequence (on either strand); only pairs that passed the screen are looked
 * at. */
#define N_ADAPTERS 4
static const char ADAPTERS[N_ADAPTERS][14] = {"AGATCGGAAGAGC", "CTGTCTCTTATAC", "AAGTCGGAGGCCA", "AAGTCGGATCGTA"};
#define WORD4(a) ((uint32_t)(uint8_t)(a)[0] << 24 | (uint32_t)(uint8_t)(a)[1] << 16 | (uint32_t)(uint8_t)(a)[2] << 8 | (uint8_t)(a)[3])

uint32_t bg_adapter_trim(const uint8_t *s, uint32_t len) {
  /* one pass for all: each 4-base window against the adapters' first four bases (AGAT, CTGT, AAGT), then the
   * 13 compared (memmem per adapter and mate cost ~0.5 % of a run, its tables set up at every call) */
  const uint32_t w0 = WORD4(ADAPTERS[0]), w1 = WORD4(ADAPTERS[1]), w2 = WORD4(ADAPTERS[2]);
  uint32_t w = 0;
  for (uint32_t i = 0; i < len; i++) {
    w = w << 8 | s[i];
    if (i < 3 || (w != w0 && w != w1 && w != w2) || i + 10 > len) continue;
    const uint8_t *at = s + i - 3;
    for (int a = 0; a < N_ADAPTERS; a++)
      if (memcmp(at, ADAPTERS[a], 13) == 0) return i - 3;
  }
  /* else an adapter's first 5 to 12 bases ending the read: the longest */
  for (uint32_t k = len < 12 ? len : 12; k >= BG_ADAPTER_MIN_END; k--)
    for (int a = 0; a < N_ADAPTERS; a++)
      if (memcmp(s + len - k, ADAPTERS[a], k) == 0) return len - k;
  return len;
}

/* Two-colour sequencers (NextSeq, NovaSeq) read "no signal" as G: a read whose signal fades ends in a run of G
 * (a fragment shorter than its reads, after the adapter). Such a tail counted as mismatches (30 G's ending every
 * R1 lost 11 % of blaTEM-1B's pairs). Cut where a 3' stretch of at least BG_POLYG_MIN bases, starting with GG,
 * holds at most one other base in eight (fastp's allowance). The databases hold one such run (a C run of 10). */
uint32_t bg_polyg_trim(const uint8_t *s, uint32_t len) {
  uint32_t cut = len, other = 0;
  for (uint32_t i = len; i-- > 0;) {
    if (s[i] != 'G') {
      if (++other * 8 > len - i) break;
      continue;
    }
    if (len - i >= BG_POLYG_MIN && i + 1 < len && s[i + 1] == 'G') cut = i; /* GG: a real G before a T is kept */
  }
  return cut;
}

int bg_worker_map_pair(bg_worker_t *w, const uint8_t *s1, uint32_t l1, const uint8_t *s2, uint32_t l2) {
  uint64_t seq_off = UINT64_MAX;
  l1 = bg_adapter_trim(s1, bg_polyg_trim(s1, l1));
  l2 = bg_adapter_trim(s2, bg_polyg_trim(s2, l2));
  bg_mapper_forget(&w->m);
  for (uint8_t kind = 0; kind < 2; kind++) {
    int n1 = map_mate(w, 0, s1, l1, kind);
    if (n1 < 0) return -1;
    int n2 = map_mate(w, 1, s2, l2, kind);
    if (n2 < 0) return -1;
    if (n1 == 0 && n2 == 0) continue;
    if (seq_off == UINT64_MAX) {
      size_t bytes = ((size_t)l1 + l2 + 1) / 2;
      if (grow_mapped((void **)&w->seqs, &w->cap_seqs, w->n_seqs + bytes, 1) != 0) return -1;
      seq_off = w->n_seqs;
      pack_bases(w->seqs + seq_off, s1, l1, s2, l2);
      w->n_seqs += bytes;
      w->mapped_pairs++;
    }
    /* scratch for target ids: reuse the mapper's key buffer (no longer needed) */
    size_t need = (size_t)n1 + (size_t)n2 + 1;
    if (bg_grow((void **)&w->m.keys, &w->m.cap_keys, need, sizeof(uint64_t)) != 0) return -1;
    uint32_t *ids = (uint32_t *)w->m.keys;
    if (n1 > 0 && n2 > 0) {
      /* both mates' alignments are in target order: merge-join for the best pair score */
      int32_t best = INT32_MIN;
      uint32_t k = 0;
      for (int i = 0, j = 0; i < n1 && j < n2;) {
        if (w->a1[i].target < w->a2[j].target) i++;
        else if (w->a1[i].target > w->a2[j].target) j++;
        else {
          int32_t sc = w->a1[i].score + w->a2[j].score;
          if (sc > best) { best = sc; k = 0; }
          if (sc == best) ids[k++] = w->a1[i].target;
          i++; j++;
        }
      }
      if (k) {
        if (bg_worker_add_unit(w, seq_off, l1, l2, kind, 3, ids, k, n1, n2) != 0) return -1;
        continue;
      }
    }
    if (n1 > 0 && bg_worker_add_unit(w, seq_off, l1, l2, kind, 1, ids, best_set(w->a1, n1, ids), n1, n2) != 0) return -1;
    if (n2 > 0 && bg_worker_add_unit(w, seq_off, l1, l2, kind, 2, ids, best_set(w->a2, n2, ids), n1, n2) != 0) return -1;
  }
  return 0;
}

int bg_worker_unit_alns(bg_worker_t *w, const bg_unit_t *u, const uint8_t *bases, int *n1, int *n2) {
  bg_mapper_forget(&w->m); /* cached per-read state may name a buffer that has since been reused */
  uint32_t form = u->mates >> 2, mates = u->mates & 3;
  if (bg_grow((void **)&w->a1, &w->cap_a1, (size_t)u->an1 + 1, sizeof(bg_aln_t)) != 0) return -1;
  if (bg_grow((void **)&w->a2, &w->cap_a2, (size_t)u->an2 + 1, sizeof(bg_aln_t)) != 0) return -1;
  if (form == UNIT_REMAP) { /* not kept (see bg_worker_add_unit): map the mates again, as when the unit was made */
    const uint8_t *s1 = bases, *s2 = s1 + u->len1;
    int k1 = (mates & 1) ? map_mate(w, 0, s1, u->len1, u->kind) : 0;
    int k2 = (mates & 2) ? map_mate(w, 1, s2, u->len2, u->kind) : 0;
    if (k1 < 0 || k2 < 0) return -1;
    *n1 = k1;
    *n2 = k2;
    return 0;
  }
  if (form == UNIT_COMPACT) { /* targets, with the mate's shared strand and diagonal (scores are not needed) */
    for (int m = 0; m < 2; m++) {
      const bg_aln_t *h = &w->alns[u->aln_off + (uint32_t)m];
      bg_aln_t *out = m ? w->a2 : w->a1;
      uint32_t n = m ? u->an2 : u->an1;
      for (uint32_t k = 0; k < n; k++)
        out[k] = (bg_aln_t){.target = w->sets[h->target + k], .strand = h->strand,
                            .diag = h->alen ? h->diag + (int32_t)w->sets[h->mism + k] : h->diag};
    }
  } else {
    memcpy(w->a1, w->alns + u->aln_off, u->an1 * sizeof(bg_aln_t));
    memcpy(w->a2, w->alns + u->aln_off + u->an1, u->an2 * sizeof(bg_aln_t));
  }
  *n1 = u->an1;
  *n2 = u->an2;
  return 0;
}

/* ---- EM ------------------------------------------------------------------------------------------ */

typedef struct uref_t { const uint32_t *set; uint32_t n; uint32_t w, u; } uref_t;

static int cmp_uref(const void *a, const void *b) {
  const uref_t *x = a, *y = b;
  if (x->n != y->n) return x->n < y->n ? -1 : 1;
  int c = memcmp(x->set, y->set, x->n * sizeof(uint32_t));
  if (c) return c;
  if (x->w != y->w) return x->w < y->w ? -1 : 1;
  return x->u < y->u ? -1 : x->u > y->u;
}

typedef struct col_ctx_t { uint32_t *cnt; uint64_t cols; /* columns that reached count_col */ } col_ctx_t;

static void count_col(void *vctx, uint32_t tpos, uint8_t rb, const uint8_t *ins, uint32_t ins_len) {
  col_ctx_t *c = vctx;
  if (ins_len) return;
  int k = rb == 'A' ? 0 : rb == 'C' ? 1 : rb == 'G' ? 2 : rb == 'T' ? 3 : rb == '-' ? 4 : -1;
  if (k >= 0) { c->cnt[(size_t)tpos * 5 + k]++; c->cols++; }
}

/* One iteration: w[t] = theta[t] / len[t]; q(c) = count(c) / (sum of w over the targets of c);
 * theta'[t] = w[t] * (sum of q over the classes holding t) / total. The second sum runs per target
 * over a transposed copy of the class sets (each target's classes in class order): a gather with no
 * read-modify-write chains through the targets and no division per term. */
bg_status_t bg_em(const bg_target_t *targets, uint32_t n_targets, const bg_em_class_t *cls, size_t ncls, double *theta,
                  _Atomic int *cancel, char *err, size_t err_len) {
  double total = 0;
  size_t ne = 0;
  for (size_t c = 0; c < ncls; c++) { total += cls[c].count; ne += cls[c].n; }
  for (uint32_t t = 0; t < n_targets; t++) theta[t] = 0;
  if (ncls == 0) return BG_OK;
  uint32_t *loc = malloc((size_t)n_targets * sizeof *loc); /* target -> index among the targets seen */
  uint32_t *coff = malloc((ncls + 1) * sizeof *coff), *mem = malloc((ne ? ne : 1) * sizeof *mem);
  double *q = malloc(ncls * sizeof *q);
  bg_status_t st = BG_OK;
  uint32_t *seen = NULL, *toff = NULL, *tcls = NULL;
  double *th = NULL, *len = NULL, *w = NULL;
  if (!loc || !coff || !mem || !q || ne > UINT32_MAX || ncls > UINT32_MAX) goto oom;
  /* the targets seen, in target order, and the class sets in their local indices */
  for (uint32_t t = 0; t < n_targets; t++) loc[t] = UINT32_MAX;
  for (size_t c = 0; c < ncls; c++)
    for (uint32_t k = 0; k < cls[c].n; k++) loc[cls[c].set[k]] = 0;
  uint32_t nseen = 0;
  for (uint32_t t = 0; t < n_targets; t++) if (loc[t] == 0) loc[t] = nseen++;
  seen = malloc(((size_t)nseen + 1) * sizeof *seen);
  toff = calloc((size_t)nseen + 1, sizeof *toff);
  tcls = malloc((ne ? ne : 1) * sizeof *tcls);
  th = malloc(((size_t)nseen + 1) * sizeof *th); len = malloc(((size_t)nseen + 1) * sizeof *len); w = malloc(((size_t)nseen + 1) * sizeof *w);
  if (!seen || !toff || !tcls || !th || !len || !w) goto oom;
  for (uint32_t t = 0; t < n_targets; t++)
    if (loc[t] != UINT32_MAX) { seen[loc[t]] = t; th[loc[t]] = 1.0 / nseen; len[loc[t]] = targets[t].len; }
  size_t e = 0;
  for (size_t c = 0; c < ncls; c++) {
    coff[c] = (uint32_t)e;
    for (uint32_t k = 0; k < cls[c].n; k++) { mem[e] = loc[cls[c].set[k]]; toff[mem[e] + 1]++; e++; }
  }
  coff[ncls] = (uint32_t)e;
  for (uint32_t i = 0; i < nseen; i++) toff[i + 1] += toff[i];
  for (size_t c = 0; c < ncls; c++) /* each target's classes in class order */
    for (uint32_t k = coff[c]; k < coff[c + 1]; k++) tcls[toff[mem[k]]++] = (uint32_t)c;
  for (uint32_t i = nseen; i > 0; i--) toff[i] = toff[i - 1];
  toff[0] = 0;
  for (int it = 0; it < EM_MAX_ITER; it++) {
    if (cancel && atomic_load(cancel)) { st = bg_fail(err, err_len, BG_ERR_CANCELLED, "The analysis was cancelled"); goto out; }
    for (uint32_t i = 0; i < nseen; i++) w[i] = th[i] / len[i];
    for (size_t c = 0; c < ncls; c++) {
      double d = 0;
      for (uint32_t k = coff[c]; k < coff[c + 1]; k++) d += w[mem[k]];
      q[c] = d > 0 ? cls[c].count / d : 0;
    }
    /* converged when every allele holding more than EM_MIN_COUNT fragments changes by less than
     * EM_REL_CHANGE of its count (kallisto's rule; near-identical alleles approach zero only slowly) */
    int moving = 0;
    for (uint32_t i = 0; i < nseen; i++) {
      double acc = 0;
      for (uint32_t k = toff[i]; k < toff[i + 1]; k++) acc += q[tcls[k]];
      double nt = acc * w[i] / total, ct = nt * total;
      if (ct > EM_MIN_COUNT && fabs(nt - th[i]) * total > EM_REL_CHANGE * ct) moving = 1;
      th[i] = nt;
    }
    if (!moving && it >= EM_MIN_ITER) break;
  }
  for (uint32_t i = 0; i < nseen; i++) theta[seen[i]] = th[i];
  goto out;
oom:
  st = bg_fail(err, err_len, BG_ERR_HOST_OOM, "Out of memory quantifying");
out:
  free(loc); free(coff); free(mem); free(q); free(seen); free(toff); free(tcls); free(th); free(len); free(w);
  return st;
}

/* ---- the sites pass beside the ResFinder quantification ---------------------------------------------- */

/* The PointFinder sites pass reads the workers' units, sets, bases and alignments, as the ResFinder pass does,
 * and writes only its own outputs (obs, target_hit), so with two or more threads it runs on a second thread
 * over copies of the workers that have scratch of their own (mapper, unpacked bases, a1/a2). */
typedef struct sites_job_t {
  bg_run_t *r;
  bg_worker_t *ws;  /* shadow workers: the run's arrays, their own scratch */
  int nw;
  bg_site_obs_t *obs;
  uint8_t *target_hit;
  bg_status_t st;
  char err[BG_ERRMSG_LEN];
} sites_job_t;

static void *sites_main(void *arg) {
  sites_job_t *j = arg;
  bg_thread_name("bg-sites");
  j->st = bg_call_sites(j->r, j->ws, j->nw, j->obs, j->target_hit, j->err, sizeof j->err);
  return NULL;
}

/* Copies of the workers sharing their arrays, with empty scratch; NULL out of memory. */
static bg_worker_t *shadow_workers(const bg_worker_t *ws, int nw, const bg_db_t *db) {
  bg_worker_t *sh = calloc((size_t)nw, sizeof *sh);
  if (!sh) return NULL;
  for (int i = 0; i < nw; i++) {
    sh[i] = ws[i];
    bg_mapper_init(&sh[i].m, db);
    sh[i].m.skip = ws[i].m.skip;
    sh[i].bases = NULL; sh[i].cap_bases = 0;
    sh[i].a1 = sh[i].a2 = NULL; sh[i].cap_a1 = sh[i].cap_a2 = 0;
  }
  return sh;
}

static void shadow_free(bg_worker_t *sh, int nw) {
  if (!sh) return;
  for (int i = 0; i < nw; i++) { bg_mapper_free(&sh[i].m); free(sh[i].bases); free(sh[i].a1); free(sh[i].a2); }
  free(sh);
}

/* How many columns of a mate's alignment differ from its target: mismatches, gap columns, N. */
typedef struct diffs_ctx_t { const char *t; uint32_t diffs; } diffs_ctx_t;
static void diffs_col(void *vctx, uint32_t tpos, uint8_t rb, const uint8_t *ins, uint32_t ins_len) {
  diffs_ctx_t *c = vctx;
  (void)ins;
  if (ins_len) c->diffs += ins_len;
  else if (rb == '-' || rb == 'N' || rb != (uint8_t)c->t[tpos]) c->diffs++;
}
static uint32_t aln_diffs(bg_worker_t *w, const uint8_t *seq, uint32_t len, const bg_aln_t *a) {
  diffs_ctx_t c = {bg_tseq(w->m.db, &w->m.db->targets[a->target]), 0};
  bg_align_walk(&w->m, seq, len, a, diffs_col, &c);
  return c.diffs;
}

bg_status_t bg_quantify_and_report(bg_run_t *r, bg_worker_t *ws, int nw, double t0) {
  const bg_db_t *db = r->db;
  atomic_store(&r->stage, BG_STAGE_QUANTIFYING);
  bg_run_set_fraction(r, 0.86);
  size_t total = 0;
  for (int i = 0; i < nw; i++) total += ws[i].n_units;
  uref_t *refs = malloc((total ? total : 1) * sizeof *refs);
  bg_gene_stat_t *gs = calloc(db->n_targets, sizeof *gs);
  double *theta = calloc(db->n_targets, sizeof(double));
  uint8_t *target_hit = calloc(db->n_targets, 1);
  bg_site_obs_t *obs = calloc(db->n_sites ? db->n_sites : 1, sizeof *obs);
  bg_status_t st = BG_OK;
  sites_job_t sj = {r, NULL, nw, obs, target_hit, BG_OK, ""};
  pthread_t sites_tid;
  int sites_started = 0;
  if (!refs || !gs || !theta || !target_hit || !obs) { st = bg_fail(r->err, sizeof r->err, BG_ERR_HOST_OOM, "Out of memory quantifying"); goto done; }
  if (r->threads >= 2 && (sj.ws = shadow_workers(ws, nw, db)) != NULL)
    sites_started = pthread_create(&sites_tid, NULL, sites_main, &sj) == 0;
  /* ResFinder units, grouped into equivalence classes in a canonical order */
  size_t n = 0;
  for (int i = 0; i < nw; i++)
    for (size_t u = 0; u < ws[i].n_units; u++) {
      const bg_unit_t *un = &ws[i].units[u];
      if (un->kind != BG_KIND_RESFINDER) continue;
      refs[n++] = (uref_t){ws[i].sets + un->set_off, un->set_n, (uint32_t)i, (uint32_t)u};
    }
  qsort(refs, n, sizeof *refs, cmp_uref);
  /* classes: [start, end) ranges over refs */
  size_t *cls = malloc((n + 1) * sizeof *cls);
  if (!cls) { st = bg_fail(r->err, sizeof r->err, BG_ERR_HOST_OOM, "Out of memory quantifying"); goto done; }
  size_t ncls = 0;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || refs[i].n != refs[i - 1].n || memcmp(refs[i].set, refs[i - 1].set, refs[i].n * sizeof(uint32_t)) != 0) cls[ncls++] = i;
  cls[ncls] = n;
  bg_em_class_t *ec = malloc((ncls ? ncls : 1) * sizeof *ec);
  if (!ec) { st = bg_fail(r->err, sizeof r->err, BG_ERR_HOST_OOM, "Out of memory quantifying"); free(cls); goto done; }
  for (size_t c = 0; c < ncls; c++) ec[c] = (bg_em_class_t){refs[cls[c]].set, refs[cls[c]].n, (double)(cls[c + 1] - cls[c])};
  st = bg_em(db->targets, db->n_targets, ec, ncls, theta, &r->cancel, r->err, sizeof r->err);
  free(ec);
  if (st != BG_OK) { free(cls); goto done; }
  for (uint32_t t = 0; t < db->n_targets; t++) { gs[t].em_count = theta[t] * (double)n; gs[t].partner = UINT32_MAX; }
  /* hard assignment and per-base evidence */
  for (size_t c = 0; c < ncls; c++) {
    if (atomic_load(&r->cancel)) { st = bg_fail(r->err, sizeof r->err, BG_ERR_CANCELLED, "The analysis was cancelled"); free(cls); goto done; }
    const uref_t *ur0 = &refs[cls[c]];
    uint32_t bt = ur0->set[0];
    double bv = -1;
    for (uint32_t k = 0; k < ur0->n; k++) {
      double v = theta[ur0->set[k]] / db->targets[ur0->set[k]].len;
      if (v > bv) { bv = v; bt = ur0->set[k]; }
    }
    bg_gene_stat_t *g = &gs[bt];
    if (!g->cnt) {
      g->cnt = calloc((size_t)db->targets[bt].len * 5, sizeof(uint32_t));
      if (!g->cnt) { st = bg_fail(r->err, sizeof r->err, BG_ERR_HOST_OOM, "Out of memory quantifying"); free(cls); goto done; }
    }
    col_ctx_t cc = {g->cnt, 0};
    for (size_t i = cls[c]; i < cls[c + 1]; i++) {
      bg_worker_t *w = &ws[refs[i].w];
      const bg_unit_t *u = &w->units[refs[i].u];
      int n1, n2;
      const uint8_t *s1 = bg_worker_unit_bases(w, u);
      if (!s1 || bg_worker_unit_alns(w, u, s1, &n1, &n2) != 0) { st = bg_fail(r->err, sizeof r->err, BG_ERR_HOST_OOM, "Out of memory quantifying"); free(cls); goto done; }
      g->reads++;
      /* the most abundant other allele this fragment also aligns to (within the pair slack) */
      for (int k = 0; k < n1 + n2; k++) {
        uint32_t o = k < n1 ? w->a1[k].target : w->a2[k - n1].target;
        if (o != bt && (g->partner == UINT32_MAX || theta[o] > theta[g->partner] || (theta[o] == theta[g->partner] && o < g->partner))) g->partner = o;
      }
      const uint8_t *s2 = s1 + u->len1;
      for (int k = 0; k < n1; k++) if (w->a1[k].target == bt) { bg_align_count(&w->m, s1, u->len1, &w->a1[k], cc.cnt, count_col, &cc); break; }
      for (int k = 0; k < n2; k++) if (w->a2[k].target == bt) { bg_align_count(&w->m, s2, u->len2, &w->a2[k], cc.cnt, count_col, &cc); break; }
    }
  }
  free(cls);
  /* coverage and identity of every allele with fragments, against the reporting thresholds */
  for (uint32_t t = 0; t < db->n_targets; t++) {
    bg_gene_stat_t *g = &gs[t];
    if (!g->cnt || !g->reads) continue;
    const bg_target_t *tg = &db->targets[t];
    const char *ref = bg_tseq(db, tg);
    uint64_t covered = 0, agree = 0;
    for (uint32_t i = 0; i < tg->len; i++) {
      const uint32_t *c = g->cnt + (size_t)i * 5;
      uint32_t d = c[0] + c[1] + c[2] + c[3] + c[4];
      if (!d) continue;
      covered++;
      g->depth_sum += d;
      int rk = bg_base_code((uint8_t)ref[i]);
      uint32_t best = 0;
      for (int k = 0; k < 5; k++) if (c[k] > best) best = c[k];
      if (rk < 4 && c[rk] == best) agree++;
    }
    g->coverage = 100.0 * (double)covered / tg->len;
    g->identity = covered ? 100.0 * (double)agree / (double)covered : 0;
    g->candidate = g->coverage + 1e-9 >= r->opts.min_coverage && g->identity + 1e-9 >= r->opts.min_identity &&
                   !(g->partner != UINT32_MAX && (double)g->reads < BG_SHADOW_RATIO * gs[g->partner].reads);
  }
  /* A mixture's minor allele: a relative a base or two from a candidate (its partner) keeps, after the hard
   * assignment, only the fragments over its own bases, too few to cover it. With a share of the EM's
   * fragments it is judged below on every fragment that aligns to it, as the candidates' partners are. */
  for (uint32_t t = 0; t < db->n_targets; t++) {
    bg_gene_stat_t *g = &gs[t];
    g->minor = g->reads && !g->candidate && g->partner != UINT32_MAX && gs[g->partner].candidate &&
               g->em_count >= BG_MINOR_MIN_SHARE * gs[g->partner].em_count;
  }
  /* support: for every candidate allele and its partner, and every minor allele, the bases of ALL fragments
   * that align to it within the slack, not only those assigned to it. A candidate whose own bases are missing
   * from that pileup where its partner's are present is not what the reads support (see bg_report). */
  for (uint32_t t = 0; t < db->n_targets; t++) {
    if (!gs[t].reads || !(gs[t].candidate || gs[t].minor)) continue;
    uint32_t want[2] = {t, gs[t].partner};
    for (int k = 0; k < 2; k++) {
      if (want[k] == UINT32_MAX || gs[want[k]].support) continue;
      gs[want[k]].support = calloc((size_t)db->targets[want[k]].len * 5, sizeof(uint32_t));
      if (!gs[want[k]].support) { st = bg_fail(r->err, sizeof r->err, BG_ERR_HOST_OOM, "Out of memory quantifying"); goto done; }
    }
  }
  for (size_t i = 0; i < n; i++) {
    if ((i & 1023) == 0 && atomic_load(&r->cancel)) { st = bg_fail(r->err, sizeof r->err, BG_ERR_CANCELLED, "The analysis was cancelled"); goto done; }
    bg_worker_t *w = &ws[refs[i].w];
    const bg_unit_t *u = &w->units[refs[i].u];
    int n1, n2;
    const uint8_t *s1 = bg_worker_unit_bases(w, u);
    if (!s1 || bg_worker_unit_alns(w, u, s1, &n1, &n2) != 0) { st = bg_fail(r->err, sizeof r->err, BG_ERR_HOST_OOM, "Out of memory quantifying"); goto done; }
    const uint8_t *s2 = s1 + u->len1;
    /* an allele's distinct fragments (a minor's, or a candidate's with a partner): their best alleles (the EM
     * class) include it, not its partner, and a mate aligned to it aligns to the partner with more differences,
     * or not at all. A fragment that aligns to the partner without a difference fits the allele better only past
     * the partner's end: ResFinder's blaKPC-25 lacks its stop
     * codon's last base, which blaKPC-2 has, so a KPC-25 sample's reads across that end gave KPC-2 as well */
    for (uint32_t k = 0; k < refs[i].n; k++) {
      const bg_gene_stat_t *g = &gs[refs[i].set[k]];
      if (!(g->minor || (g->candidate && g->partner != UINT32_MAX)) ||
          bsearch(&g->partner, refs[i].set, refs[i].n, sizeof *refs[i].set, cmp_u32))
        continue;
      /* a mate aligned to the allele: to the partner not at all (worse), or with more differences (a sequencing
       * error differs from both); stored alignments may not keep their mismatches (a family's shared lists), so
       * the walks count them */
      int differs = 0;
      for (int mate = 0; mate < 2 && !differs; mate++) {
        const bg_aln_t *as = mate ? w->a2 : w->a1, *to_partner = NULL, *to_own = NULL;
        int na = mate ? n2 : n1;
        for (int m = 0; m < na; m++) {
          if (as[m].target == refs[i].set[k]) to_own = &as[m];
          if (as[m].target == g->partner) to_partner = &as[m];
        }
        const uint8_t *seq = mate ? s1 + u->len1 : s1;
        uint32_t len = mate ? u->len2 : u->len1;
        differs = to_own && (!to_partner || aln_diffs(w, seq, len, to_partner) > aln_diffs(w, seq, len, to_own));
      }
      if (differs) gs[refs[i].set[k]].distinct++;
    }
    for (int k = 0, j = 0; k < n1 + n2; k++) {
      const bg_aln_t *a = k < n1 ? &w->a1[k] : &w->a2[k - n1];
      bg_gene_stat_t *g = &gs[a->target];
      if (!g->support) continue;
      col_ctx_t cc = {g->support, 0};
      cc.cols += k < n1 ? bg_align_count(&w->m, s1, u->len1, a, cc.cnt, count_col, &cc)
                        : bg_align_count(&w->m, s2, u->len2, a, cc.cnt, count_col, &cc);
      /* the bases of the fragments the EM shares the allele's reads among (once per fragment: a mate 2's
       * allele counts unless mate 1 aligned to it; both mates' alignments are in target order) */
      if (!bsearch(&a->target, refs[i].set, refs[i].n, sizeof *refs[i].set, cmp_u32)) continue;
      g->class_bases += cc.cols;
      if (k >= n1) while (j < n1 && w->a1[j].target < a->target) j++;
      if (k < n1 || j >= n1 || w->a1[j].target != a->target) g->class_frags++;
    }
  }
  for (uint32_t t = 0; t < db->n_targets; t++) {
    bg_gene_stat_t *g = &gs[t];
    if (!g->support) continue;
    const bg_target_t *tg = &db->targets[t];
    const char *ref = bg_tseq(db, tg);
    for (uint32_t p = 0; p < tg->len; p++) {
      const uint32_t *c = g->support + (size_t)p * 5;
      uint32_t d = c[0] + c[1] + c[2] + c[3] + c[4];
      int rk = bg_base_code((uint8_t)ref[p]);
      g->support_covered += d > 0;
      if (d && (rk > 3 || c[rk] < BG_SUPPORT_MIN_READS || c[rk] < BG_SUPPORT_MIN_FRACTION * d)) g->unsupported++;
    }
    /* a minor allele is called when that pileup covers it, supports each of its bases, and enough fragments
     * fit it better than its partner; its identity is then that of its supported bases */
    if (!g->minor) continue;
    double coverage = bg_support_coverage(g, tg->len), identity = bg_support_identity(g);
    if (g->unsupported == 0 && g->distinct >= BG_MINOR_MIN_DISTINCT && coverage + 1e-9 >= r->opts.min_coverage &&
        identity + 1e-9 >= r->opts.min_identity) {
      g->candidate = 1;
      g->coverage = coverage;
      g->identity = identity;
    }
  }
  /* Of two alleles both called, one that no fragment tells from the other within the other's bases, while
   * fragments tell the other from it, is the other: its own evidence lies past the other's end (a KPC-25 sample
   * gave KPC-2 as well whichever of the two the EM favoured) */
  for (uint32_t t = 0; t < db->n_targets; t++) {
    bg_gene_stat_t *g = &gs[t];
    if (g->candidate && g->partner != UINT32_MAX && gs[g->partner].candidate && g->distinct == 0 &&
        gs[g->partner].distinct >= BG_MINOR_MIN_DISTINCT)
      g->candidate = 0;
  }
  atomic_store(&r->stage, BG_STAGE_MUTATIONS);
  bg_run_set_fraction(r, 0.92);
  if (sites_started) {
    pthread_join(sites_tid, NULL);
    sites_started = 0;
    st = sj.st;
    if (st != BG_OK) { snprintf(r->err, sizeof r->err, "%s", sj.err); goto done; }
  } else {
    st = bg_call_sites(r, ws, nw, obs, target_hit, r->err, sizeof r->err);
    if (st != BG_OK) goto done;
  }
  atomic_store(&r->stage, BG_STAGE_REPORTING);
  bg_run_set_fraction(r, 0.97);
  st = bg_report(r, gs, obs, target_hit, t0);
done:
  if (sites_started) pthread_join(sites_tid, NULL); /* a failure above: the sites pass's outcome is not needed */
  shadow_free(sj.ws, nw);
  if (gs) for (uint32_t t = 0; t < db->n_targets; t++) { free(gs[t].cnt); free(gs[t].support); }
  free(gs); free(refs); free(theta); free(target_hit); free(obs);
  return st;
}
