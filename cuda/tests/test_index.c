/* test_index.c — C-level tests of database building and the index file. */
#include <ctype.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <isa-l/crc.h>

#include "internal.h"
#include "run.h"
#include "check.h"

static char dir[256];

static void put(const char *rel, const char *text) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, rel);
  FILE *f = fopen(p, "w");
  if (!f) { perror(p); exit(2); }
  fputs(text, f);
  fclose(f);
}

static const bg_target_t *find_target(const bg_db_t *db, const char *name) {
  for (uint32_t i = 0; i < db->n_targets; i++) if (strcmp(bg_str(db, db->targets[i].name), name) == 0) return &db->targets[i];
  return NULL;
}

/* A 300-base deterministic pseudo-random sequence. */
static void pseudo_seq(char *out, int n, unsigned seed) {
  for (int i = 0; i < n; i++) { seed = seed * 1103515245u + 12345u; out[i] = "ACGT"[(seed >> 16) & 3]; }
  out[n] = 0;
}

/* ---- gapped alignment: the walk against a plain reference implementation ------------------------------ */

/* The banded Gotoh local alignment as first written (every cell bounds-checked), kept here as the reference
 * for bg_align_walk's gapped path: same scoring, same tie order, same traceback. */
enum { R_M = 0, R_I = 1, R_D = 2 };
static int32_t ref_best; /* the last ref_walk's best local score */
static uint32_t ref_walk(const uint8_t *q, uint32_t L, const uint8_t *t, uint32_t tlen, int32_t diag, uint32_t *cols,
                         uint32_t cap) {
  enum { BAND = BG_ALIGN_BAND, W = 2 * BG_ALIGN_BAND + 1, GO = 8, GE = 2, MA = 2, MI = 4 };
  size_t cells = (size_t)(L + 1) * W;
  int32_t *H = malloc(cells * 3 * sizeof(int32_t)), *E = H + cells, *F = E + cells;
  uint8_t *tb = malloc(cells), *ops = malloc(2 * (size_t)L + 2 * W + 8);
  const int32_t NEG = -(1 << 28);
  for (int j = 0; j < W; j++) { H[j] = 0; E[j] = NEG; F[j] = NEG; tb[j] = 0; }
  int32_t best = 0;
  uint32_t bi = 0, n = 0, out = 0;
  int bj = 0;
  for (uint32_t i = 1; i <= L; i++)
    for (int j = 0; j < W; j++) {
      size_t c = (size_t)i * W + j;
      int64_t tend = (int64_t)diag + i + (j - BAND);
      tb[c] = 0;
      if (tend < 0 || tend > tlen) { H[c] = 0; E[c] = NEG; F[c] = NEG; continue; }
      int32_t e = NEG, f = NEG, h = 0;
      uint8_t bits = 0, src = 0;
      if (j + 1 < W) { int32_t o = H[c - W + 1] - GO, x = E[c - W + 1] - GE; if (x > o) { e = x; bits |= 4; } else e = o; }
      if (j > 0) { int32_t o = H[c - 1] - GO, x = F[c - 1] - GE; if (x > o) { f = x; bits |= 8; } else f = o; }
      if (tend >= 1) {
        int32_t d = H[c - W] + ((q[i - 1] == t[tend - 1] && q[i - 1] != 'N') ? MA : -MI);
        if (d > h) { h = d; src = 1; }
      }
      if (e > h) { h = e; src = 2; }
      if (f > h) { h = f; src = 3; }
      H[c] = h; E[c] = e; F[c] = f;
      tb[c] = (uint8_t)(bits | src);
      if (h > best) { best = h; bi = i; bj = j; }
    }
  ref_best = best;
  if (best > 0) {
    uint32_t i = bi;
    int j = bj, state = 0;
    while (i > 0) {
      uint8_t bits = tb[(size_t)i * W + j];
      if (state == 0) {
        int src = bits & 3;
        if (src == 0) break;
        if (src == 1) { ops[n++] = R_M; i--; }
        else state = src == 2 ? 1 : 2;
      } else if (state == 1) { ops[n++] = R_I; i--; j++; state = (bits & 4) ? 1 : 0; }
      else { ops[n++] = R_D; j--; state = (bits & 8) ? 2 : 0; }
    }
    /* columns in forward order, as (kind << 28 | target position << 8 | base or insertion length) */
    uint32_t qi = i, ti = (uint32_t)((int64_t)diag + i + (j - BAND));
    for (uint32_t k = n; k-- > 0 && out < cap;) {
      if (ops[k] == R_M) { cols[out++] = 0u << 28 | ti << 8 | q[qi]; ti++; qi++; }
      else if (ops[k] == R_D) { cols[out++] = 1u << 28 | ti << 8 | '-'; ti++; }
      else {
        uint32_t m = 0;
        while (m <= k && ops[k - m] == R_I) m++;
        if (ti > 0) cols[out++] = 2u << 28 | (ti - 1) << 8 | m;
        qi += m; k -= m - 1;
      }
    }
  }
  free(H); free(tb); free(ops);
  return out;
}

typedef struct walk_rec_t { uint32_t *cols, n, cap; } walk_rec_t;
static void rec_col(void *ctx, uint32_t tpos, uint8_t rb, const uint8_t *ins, uint32_t ins_len) {
  walk_rec_t *w = ctx;
  if (w->n >= w->cap) return;
  w->cols[w->n++] = ins ? 2u << 28 | tpos << 8 | ins_len : rb == '-' ? 1u << 28 | tpos << 8 | '-' : 0u << 28 | tpos << 8 | rb;
}

/* Random targets and reads drawn from them with substitutions, indels and N, or from nowhere, at diagonals
 * near and off the true one and across the target's ends: bg_align_walk's gapped path gives the reference's
 * columns, in order. */
static void test_gapped_walk_matches_the_reference(void) {
  static char seqs[1024];
  bg_target_t tg[1];
  memset(tg, 0, sizeof tg);
  bg_db_t db;
  memset(&db, 0, sizeof db);
  db.seqs = seqs; db.targets = tg; db.n_targets = 1;
  bg_mapper_t m;
  bg_mapper_init(&m, &db);
  const int simd = m.banded_simd;
  uint32_t *got = malloc(4096 * sizeof *got), *want = malloc(4096 * sizeof *want);
  unsigned seed = 7;
#define RND() (seed = seed * 1103515245u + 12345u, (seed >> 8) & 0xffffff)
  int bad = 0, cases = 60000, gapped_cols = 0;
  for (int c = 0; c < cases && bad < 3; c++) {
    uint32_t tlen = 30 + RND() % 400;
    for (uint32_t i = 0; i < tlen; i++) seqs[i] = "ACGT"[RND() & 3];
    tg[0].len = tlen;
    uint8_t q[700];
    uint32_t L = 0, start = RND() % tlen;
    int mode = RND() % 4; /* 0-2: from the target, 3: random */
    for (uint32_t i = start; L < 300 && i < tlen + 40;) {
      uint32_t r = RND() % 100;
      uint8_t b = i < tlen && mode < 3 ? (uint8_t)seqs[i] : (uint8_t)"ACGT"[RND() & 3];
      if (r < 3) { q[L++] = (uint8_t)"ACGT"[RND() & 3]; continue; }           /* insertion */
      if (r < 6) { i += 1 + RND() % 3; continue; }                             /* deletion */
      if (r < 10) b = (uint8_t)"ACGT"[RND() & 3];                              /* substitution */
      if (r == 10) b = 'N';
      q[L++] = b;
      i++;
      if (L >= 30 + RND() % 300) break;
    }
    if (L == 0) continue;
    int32_t diag = (int32_t)start + (int32_t)(RND() % 31) - 15;
    if (RND() % 8 == 0) diag = -(int32_t)(RND() % 60);
    bg_aln_t a = {.target = 0, .strand = 0, .diag = diag, .gapped = 1};
    uint32_t nw = ref_walk(q, L, (const uint8_t *)seqs, tlen, diag, want, 4096);
    for (uint32_t k = 0; k < nw; k++) gapped_cols += want[k] >> 28 != 0;
    for (int form = 0; form < 2; form++) { /* this CPU's form (AVX-512 where it has it), then one cell at a time */
      m.banded_simd = form ? 0 : simd;
      bg_mapper_forget(&m);
      walk_rec_t w = {got, 0, 4096};
      bg_align_walk(&m, q, L, &a, rec_col, &w);
      uint32_t alen = 0, matches = 0, ref_alen = 0, ref_matches = 0;
      for (uint32_t k = 0; k < nw; k++) ref_alen += want[k] >> 28 != 2 ? 1 : want[k] & 0xFF;
      for (uint32_t k = 0; k < nw; k++) ref_matches += want[k] >> 28 == 0 && (uint8_t)want[k] != 'N' && (want[k] & 0xFF) == (uint8_t)seqs[(want[k] >> 8) & 0xFFFFF];
      int32_t score = bg_banded_score(&m, q, L, (const uint8_t *)seqs, tlen, diag, &alen, &matches);
      if (w.n != nw || memcmp(got, want, nw * sizeof *got) != 0 || score != ref_best || alen != ref_alen || matches != ref_matches) {
        bad++;
        printf("  case %d (%s): tlen %u, read %u, diag %d: %u columns, reference %u; score %d, reference %d; %u/%u aligned, "
               "reference %u/%u\n", c, form ? "scalar" : "this CPU's", tlen, L, diag, w.n, nw, score, ref_best, matches, alen,
               ref_matches, ref_alen);
      }
    }
    m.banded_simd = simd;
  }
  /* long reads (up to 12,000 bases, scores near the AVX-512 form's 16-bit range): both forms agree */
  if (simd) {
    static char lt[13000];
    static uint8_t lq[12600];
    uint32_t *wa = malloc(40000 * sizeof *wa), *wb = malloc(40000 * sizeof *wb);
    int bad_long = 0;
    for (int c = 0; c < 24 && bad_long < 3; c++) {
      uint32_t tlen = 2000 + RND() % 11000, L = 0, start = RND() % 200;
      for (uint32_t i = 0; i < tlen; i++) lt[i] = "ACGT"[RND() & 3];
      for (uint32_t i = start; i < tlen && L < 12000;) {
        uint32_t r = RND() % 1000;
        if (c % 2 && r < 3) { lq[L++] = (uint8_t)"ACGT"[RND() & 3]; continue; } /* odd cases: indels (the band */
        if (c % 2 && r < 6) { i += 1 + RND() % 3; continue; }                   /* drifts off the read)      */
        lq[L++] = r < 20 ? (uint8_t)"ACGT"[RND() & 3] : (uint8_t)lt[i];
        i++;
      }
      tg[0].len = tlen;
      db.seqs = lt;
      bg_aln_t a = {.target = 0, .strand = 0, .diag = (int32_t)start, .gapped = 1};
      uint32_t al[2], mt[2], nc[2];
      int32_t sc[2];
      for (int form = 0; form < 2; form++) {
        m.banded_simd = form ? 0 : simd;
        bg_mapper_forget(&m);
        walk_rec_t w = {form ? wb : wa, 0, 40000};
        bg_align_walk(&m, lq, L, &a, rec_col, &w);
        nc[form] = w.n;
        sc[form] = bg_banded_score(&m, lq, L, (const uint8_t *)lt, tlen, a.diag, &al[form], &mt[form]);
      }
      m.banded_simd = simd;
      if (sc[0] != sc[1] || al[0] != al[1] || mt[0] != mt[1] || nc[0] != nc[1] || memcmp(wa, wb, nc[0] * sizeof *wa) != 0 ||
          (c % 2 == 0 && sc[0] < (int32_t)L)) { /* substitutions only: one long alignment, scores up to ~24,000 */
        bad_long++;
        printf("  long case %d: read %u, target %u: scores %d / %d, %u / %u aligned, %u / %u columns\n", c, L, tlen, sc[0], sc[1],
               al[0], al[1], nc[0], nc[1]);
      }
    }
    db.seqs = seqs;
    free(wa); free(wb);
    CHECK(bad_long == 0, "long reads: the AVX-512 and scalar fills differ (or fall short) in %d cases", bad_long);
  }

  /* bg_align_walk_at: an ungapped alignment's columns at chosen target positions (some outside the overlap) are
   * the full walk's columns there; a gapped one is walked whole */
  int bad_at = 0, picked = 0;
  for (int c = 0; c < 20000 && bad_at < 3; c++) {
    uint32_t tlen = 30 + RND() % 400, L = 21 + RND() % 280;
    for (uint32_t i = 0; i < tlen; i++) seqs[i] = "ACGT"[RND() & 3];
    tg[0].len = tlen;
    uint8_t q[320];
    for (uint32_t i = 0; i < L; i++) q[i] = (uint8_t)"ACGTN"[RND() % 5];
    bg_aln_t a = {.target = 0, .strand = RND() & 1, .diag = (int32_t)(RND() % (tlen + 60)) - 40, .gapped = RND() % 4 == 0};
    uint32_t pos[24], np = 0;
    for (uint32_t p = RND() % 8; p < tlen + 10 && np < 24; p += 1 + RND() % 40) pos[np++] = p;
    bg_mapper_forget(&m);
    walk_rec_t full = {want, 0, 4096}, at = {got, 0, 4096};
    bg_align_walk(&m, q, L, &a, rec_col, &full);
    bg_mapper_forget(&m);
    bg_align_walk_at(&m, q, L, &a, pos, np, rec_col, &at);
    uint32_t nsub = 0;
    if (a.gapped) nsub = full.n; /* walked whole */
    else
      for (uint32_t k = 0; k < full.n; k++) {
        uint32_t tp = (want[k] >> 8) & 0xFFFFF;
        for (uint32_t j = 0; j < np; j++) if (pos[j] == tp) { want[nsub++] = want[k]; break; }
      }
    picked += (int)nsub;
    if (at.n != nsub || memcmp(got, want, nsub * sizeof *got) != 0) {
      bad_at++;
      printf("  walk_at case %d: tlen %u, read %u, diag %d, gapped %u: %u columns, expected %u\n", c, tlen, L, a.diag, a.gapped, at.n, nsub);
    }
  }
#undef RND
  CHECK(bad == 0 && gapped_cols > 1000, "gapped walks, scores and matches differ from the reference in %d cases (%d indel columns; "
        "both forms, AVX-512 %s here)", bad, gapped_cols, simd ? "too" : "absent");
  CHECK(bad_at == 0 && picked > 10000, "walks at chosen positions differ from the full walk's columns there in %d cases (%d columns)", bad_at, picked);
  bg_mapper_free(&m);
  free(got); free(want);
}

/* A ResFinder folder `sub` holding one beta-lactam family, alleles <prefix>-01_1_X0 … (n of them), built into a
 * database; NULL (and a failed check) when it does not build. */
static bg_db_t *family_db(const char *sub, const char *prefix, char (*seqs)[301], int n) {
  char fam[512], p[600];
  snprintf(fam, sizeof fam, "%s/%s", dir, sub);
  mkdir(fam, 0755);
  snprintf(p, sizeof p, "%s/beta-lactam.fsa", fam);
  FILE *f = fopen(p, "w");
  for (int k = 0; f && k < n; k++) fprintf(f, ">%s-%02d_1_X%d\n%s\n", prefix, k + 1, k, seqs[k]);
  if (f) fclose(f);
  snprintf(p, sizeof p, "%s/phenotypes.txt", fam);
  if ((f = fopen(p, "w"))) { fputs("Gene_accession no.\tClass\tPhenotype\n", f); fclose(f); }
  bg_db_t *db = bg_db_new();
  bg_status_t s = bg_db_build(db, fam, NULL, NULL);
  CHECK(s == BG_OK && db->n_resfinder == (uint32_t)n, "%s family database: %s", prefix, bg_db_errmsg(db));
  if (s == BG_OK && db->n_resfinder == (uint32_t)n) return db;
  bg_db_free(db);
  return NULL;
}

/* A family of alleles, some identical over a read's band and some not, and a read with a deletion that no
 * allele takes cleanly without gaps: each allele's gapped score is the reference's for that allele (an
 * alignment against the same bases is reused, against other bases computed). */
static void test_family_gapped_scores_are_each_alleles_own(void) {
  char base[301];
  pseudo_seq(base, 300, 4);
  /* the read below covers base[60..212) less 2 bases and sits near diagonal 60: its band reaches ~[46, 226) */
  static const int snp[] = {-1, 280, 100, 40, 47, 224, 226};
  char seqs[7][301];
  for (int k = 0; k < 7; k++) {
    memcpy(seqs[k], base, 301);
    if (snp[k] >= 0) seqs[k][snp[k]] = seqs[k][snp[k]] == 'A' ? 'C' : 'A';
  }
  bg_db_t *db = family_db("fam", "blaFAM", seqs, 7);
  if (!db) return;
  uint8_t q[160];
  uint32_t L = 0;
  for (int i = 60; i < 212; i++) if (i != 130 && i != 131) q[L++] = (uint8_t)base[i];
  q[20] = q[20] == 'G' ? 'T' : 'G'; /* and three substitutions */
  q[70] = q[70] == 'G' ? 'T' : 'G';
  q[140] = q[140] == 'G' ? 'T' : 'G';
  bg_mapper_t m;
  bg_mapper_init(&m, db);
  int n = bg_map_read(&m, q, L, BG_KIND_RESFINDER, 1000);
  int ok = n == 7, gapped = 0, distinct = 0;
  int32_t first = 0;
  for (int i = 0; i < n && ok; i++) {
    const bg_aln_t *a = &m.alns[i];
    const bg_target_t *tg = &db->targets[a->target];
    uint32_t cols[600];
    ref_walk(q, L, (const uint8_t *)bg_tseq(db, tg), tg->len, a->diag, cols, 600);
    ok &= a->gapped == 1 && a->strand == 0 && a->score == ref_best;
    if (!ok) printf("  %s: gapped %u, score %d, reference %d\n", bg_str(db, tg->name), a->gapped, a->score, ref_best);
    gapped += a->gapped;
    if (i == 0) first = a->score;
    distinct += a->score != first;
  }
  CHECK(ok && gapped == 7 && distinct > 0, "family read with a deletion: %d alleles, %d gapped, each its reference score (%d differ from the first)", n, gapped, distinct);
  bg_mapper_free(&m);
  bg_db_free(db);
}

/* A family larger than the gapped-alignment budget (40 alleles identical over a read's band, as CTX-M-1's group
 * is, plus one with a base changed inside it): a read with a deletion gets the gapped score against every one of
 * the 40, not only the first 16 in index order, so its best alleles are the 40 and not the changed one. */
static void test_family_beyond_the_gapped_budget_all_get_the_score(void) {
  enum { NF = 41 };
  char base[301];
  static char seqs[NF][301];
  pseudo_seq(base, 300, 5);
  for (int k = 0; k < NF; k++) {
    memcpy(seqs[k], base, 301);
    int pos = k == NF - 1 ? 100 : k < 20 ? 2 + k : 250 + k; /* outside the band [~46, ~226), or inside (last) */
    seqs[k][pos] = seqs[k][pos] == 'A' ? 'C' : 'A';
  }
  bg_db_t *db = family_db("bigfam", "blaBIG", seqs, NF);
  if (!db) return;
  uint8_t q[160];
  uint32_t L = 0;
  for (int i = 60; i < 212; i++) if (i != 130) q[L++] = (uint8_t)base[i]; /* one base deleted */
  bg_mapper_t m;
  bg_mapper_init(&m, db);
  int n = bg_map_read(&m, q, L, BG_KIND_RESFINDER, 0);
  int ok = n == NF - 1;
  for (int i = 0; i < n && ok; i++) {
    const bg_aln_t *a = &m.alns[i];
    ok &= a->gapped == 1 && a->score == m.alns[0].score && strcmp(bg_str(db, db->targets[a->target].name), "blaBIG-41_1_X40") != 0;
  }
  CHECK(ok, "a family read with a deletion: %d of %d alleles at the best score, all gapped, not the changed one", n, NF - 1);
  bg_mapper_free(&m);
  bg_db_free(db);
}

/* A family whose alleles differ within a read's band, more of them than the gapped-alignment budget, ahead of the
 * read's own allele in index order. The read (bases 60-211, base 92 deleted) aligns ungapped on the diagonal of
 * its longer part, where its first 32 bases are shifted by one: allele k changes base 61 + k there to one that
 * still mismatches, so its ungapped count ties the read's allele's and it is picked first. Past the budget the
 * best alignment's path is scored against each allele's own bases: the read's allele alone is best. */
static void test_family_differing_in_band_the_reads_allele_is_best(void) {
  enum { NF = 30 }; /* 29 changed alleles (bases 61-89; next to base 92, the deleted one, a change could tie) */
  char base[301];
  static char seqs[NF][301];
  pseudo_seq(base, 300, 6);
  for (int k = 0; k < NF; k++) {
    memcpy(seqs[k], base, 301);
    if (k == NF - 1) continue;
    int pos = 61 + k;
    for (const char *c = "ACGT"; *c; c++) if (*c != base[pos] && *c != base[pos - 1]) { seqs[k][pos] = *c; break; }
  }
  bg_db_t *db = family_db("bandfam", "blaBND", seqs, NF);
  if (!db) return;
  uint8_t q[160];
  uint32_t L = 0;
  for (int i = 60; i < 212; i++) if (i != 92) q[L++] = (uint8_t)base[i]; /* one base deleted */
  bg_mapper_t m;
  bg_mapper_init(&m, db);
  int n = bg_map_read(&m, q, L, BG_KIND_RESFINDER, 0);
  const char *name = n >= 1 ? bg_str(db, db->targets[m.alns[0].target].name) : "";
  CHECK(n == 1 && strcmp(name, "blaBND-30_1_X29") == 0 && m.alns[0].gapped, "the read's own allele alone at the best score: %d (%s%s%s)", n,
        name, n > 1 ? ", " : "", n > 1 ? bg_str(db, db->targets[m.alns[1].target].name) : "");
  bg_mapper_free(&m);
  bg_db_free(db);
}

/* ---- the real ResFinder / PointFinder folders (skipped where they are not installed) -------------------- */

#define RF_DIR "/usr/share/resfinder/db"
#define PF_DIR "/usr/share/doc/resfinder/examples/db_pointfinder"

static const bg_target_t *find_gene(const bg_db_t *db, const char *species, const char *gene) {
  for (uint32_t i = 0; i < db->n_targets; i++) {
    const bg_target_t *t = &db->targets[i];
    if (t->kind == BG_KIND_POINTFINDER && strcmp(bg_str(db, t->species), species) == 0 && strcmp(bg_str(db, t->gene), gene) == 0) return t;
  }
  return NULL;
}

static const bg_site_t *find_site(const bg_db_t *db, const bg_target_t *t, int32_t pos, int type) {
  for (uint32_t i = 0; t && i < t->n_sites; i++) {
    const bg_site_t *s = &db->sites[t->first_site + i];
    if (s->pos == pos && (type < 0 || s->type == (uint32_t)type)) return s;
  }
  return NULL;
}

/* 1 when the ", "-joined list holds item */
static int has_item(const char *list, const char *item) {
  size_t n = strlen(item);
  for (const char *p = list; (p = strstr(p, item)); p += n)
    if ((p == list || (p >= list + 2 && p[-2] == ',' && p[-1] == ' ')) && (p[n] == 0 || p[n] == ',')) return 1;
  return 0;
}

static void test_real_sources(void) {
  struct stat st;
  if (stat(RF_DIR "/phenotypes.txt", &st) != 0 || stat(PF_DIR "/neisseria_gonorrhoeae/genes.txt", &st) != 0) {
    printf("real ResFinder/PointFinder folders not installed: skipped\n");
    return;
  }
  bg_db_t *db = bg_db_new();
  bg_status_t s = bg_db_build(db, RF_DIR, PF_DIR, "neisseria_gonorrhoeae,klebsiella,mycobacterium_tuberculosis");
  CHECK(s == BG_OK, "real build: %s", bg_db_errmsg(db));
  if (s != BG_OK) { bg_db_free(db); return; }
  /* D7: aac(6')-Ib-cr has two phenotypes.txt rows; both count */
  static const char *const aac[] = {"aac(6')-Ib-cr_1_DQ303918", "aac(6')-Ib-cr_2_EF636461"};
  for (int k = 0; k < 2; k++) {
    const bg_target_t *t = find_target(db, aac[k]);
    const char *cls = t ? bg_str(db, t->drug_class) : "", *ph = t ? bg_str(db, t->phenotype) : "";
    CHECK(t && has_item(cls, "Aminoglycoside") && has_item(cls, "Quinolone") && !has_item(cls, "Fluoroquinolone"),
          "%s classes: %s", aac[k], cls);
    CHECK(has_item(ph, "Tobramycin") && has_item(ph, "Amikacin") && has_item(ph, "Ciprofloxacin"), "%s phenotypes: %s", aac[k], ph);
  }
  /* mechanisms of resistance: aac(6')-Ib-cr's two rows give two */
  const bg_target_t *aac1 = find_target(db, aac[0]), *tem = find_target(db, "blaTEM-1B_1_AY458016");
  CHECK(aac1 && strcmp(bg_str(db, aac1->mechanism), "Enzymatic modification; Enzymatic inactivation") == 0 && tem &&
            strcmp(bg_str(db, tem->mechanism), "Enzymatic inactivation") == 0,
        "mechanisms: aac(6')-Ib-cr '%s', blaTEM-1B '%s'", aac1 ? bg_str(db, aac1->mechanism) : "?", tem ? bg_str(db, tem->mechanism) : "?");
  /* M. tuberculosis rows whose PMID sits in the mechanism's column: a PMID, no mechanism */
  const bg_target_t *embB = find_target(db, "embB_1_LR027516.1");
  int shifted = 0, numeric = 0;
  for (uint32_t i = 0; embB && i < db->n_sites; i++) {
    const bg_site_t *si = &db->sites[i];
    const char *m = bg_str(db, si->mechanism);
    numeric += m[0] && strspn(m, "0123456789, ") == strlen(m);
    if (&db->targets[si->target] == embB && si->pos == 423 && si->type == BG_MUT_AA) shifted = strstr(bg_str(db, si->pmid), "29358649") != NULL;
  }
  CHECK(embB && shifted && numeric == 0, "embB M423T's PMID recovered (%d), no numeric mechanism (%d)", shifted, numeric);
  /* macrolide.fsa writes "> erm(N)_2_MZ015744": the allele keeps its name, phenotypes.txt rows and classes */
  const bg_target_t *ermN = find_target(db, "erm(N)_2_MZ015744");
  CHECK(ermN && strcmp(bg_str(db, ermN->gene), "erm(N)") == 0 && *bg_str(db, ermN->phenotype) &&
            has_item(bg_str(db, ermN->drug_class), "Macrolide") && !strstr(bg_str(db, ermN->drug_class), "MLS"),
        "erm(N)_2_MZ015744: gene '%s', classes '%s', phenotype '%s'", ermN ? bg_str(db, ermN->gene) : "?",
        ermN ? bg_str(db, ermN->drug_class) : "", ermN ? bg_str(db, ermN->phenotype) : "");
  int spaced = 0;
  for (uint32_t i = 0; i < db->n_targets; i++) spaced += isspace((unsigned char)bg_str(db, db->targets[i].name)[0]) != 0;
  CHECK(spaced == 0, "no allele name starts with a space (%d do)", spaced);
  const bg_target_t *cfr = find_target(db, "cfr_1_AM408573");
  CHECK(cfr && has_item(bg_str(db, cfr->drug_class), "Amphenicol") && !has_item(bg_str(db, cfr->drug_class), "Phenicol"),
        "cfr's classes in phenotypes.txt's words: %s", cfr ? bg_str(db, cfr->drug_class) : "");
  int mixed = 0;
  for (uint32_t i = 0; i < db->n_targets; i++) {
    const bg_target_t *t = &db->targets[i];
    if (t->kind != BG_KIND_RESFINDER) continue;
    const char *c = bg_str(db, t->drug_class);
    if ((has_item(c, "Quinolone") && has_item(c, "Fluoroquinolone")) || (has_item(c, "Phenicol") && has_item(c, "Amphenicol"))) {
      if (mixed++ < 5) fprintf(stderr, "  mixed vocabularies: %s: %s\n", bg_str(db, t->name), c);
    }
  }
  CHECK(mixed == 0, "no allele's classes mix config's and phenotypes.txt's names (%d do)", mixed);
  /* nucleotide deletion rows are deletion sites, never insertion sites (N. gonorrhoeae 2, K. pneumoniae 2, M.
   * tuberculosis 79 rows); none is skipped */
  const char *info = bg_db_info_json(db);
  CHECK(strstr(info, "nucleotide deletion row") == NULL, "no deletion row skipped: %.300s", info);
  int del_sites = 0;
  for (uint32_t i = 0; i < db->n_sites; i++) del_sites += db->sites[i].type == BG_MUT_DEL;
  CHECK(del_sites >= 60, "deletion sites: %d", del_sites);
  const bg_target_t *mtrR = find_gene(db, "neisseria_gonorrhoeae", "mtrR-promoter-size-66bp");
  const bg_target_t *rpsE = find_gene(db, "neisseria_gonorrhoeae", "rpsE");
  const bg_target_t *acrR = find_gene(db, "klebsiella", "acrR");
  CHECK(mtrR && rpsE && acrR, "genes found");
  CHECK(!find_site(db, mtrR, -57, BG_MUT_INS) && !find_site(db, rpsE, 78, BG_MUT_INS) && !find_site(db, acrR, 382, BG_MUT_INS),
        "no insertion site stands for a deletion");
  const bg_site_t *dm = find_site(db, mtrR, -57, BG_MUT_DEL), *dr = find_site(db, rpsE, 78, BG_MUT_DEL);
  CHECK(dm && dm->tidx == 66 - 57 && strcmp(bg_str(db, dm->alts), "A") == 0, "mtrR -57delA: its first deleted base");
  /* rpsE's row numbers the base before its deletion: GTT is at 79-81 in the sequence */
  CHECK(dr && dr->tidx == 78 && strcmp(bg_str(db, dr->alts), "GTT") == 0, "rpsE 78delGTT: index %d", dr ? dr->tidx : -9);
  CHECK(find_site(db, acrR, 382, BG_MUT_DEL) != NULL, "acrR 382 deletion site");
  int ins_sites = 0;
  for (uint32_t i = 0; i < db->n_sites; i++) ins_sites += db->sites[i].type == BG_MUT_INS;
  CHECK(ins_sites > 0, "insertion rows still make sites (%d)", ins_sites);
  /* D5: AA-typed single-base promoter rows are nucleotide sites */
  const bg_target_t *macAB = find_gene(db, "neisseria_gonorrhoeae", "macAB-promoter-size-225bp");
  const bg_target_t *mtrC = find_gene(db, "neisseria_gonorrhoeae", "mtrC-promoter-size-174bp");
  const bg_site_t *m48 = find_site(db, macAB, -48, -1), *c120 = find_site(db, mtrC, -120, -1);
  CHECK(m48 && m48->type == BG_MUT_NUC && strcmp(bg_str(db, m48->ref), "G") == 0 && strcmp(bg_str(db, m48->alts), "T") == 0 &&
        m48->tidx == 225 - 48 && bg_tseq(db, macAB)[m48->tidx] == 'G',
        "macAB -48 is a nucleotide site G>T (type %u)", m48 ? m48->type : 99);
  CHECK(c120 && c120->type == BG_MUT_NUC && strcmp(bg_str(db, c120->ref), "C") == 0 && strcmp(bg_str(db, c120->alts), "T") == 0 &&
        bg_tseq(db, mtrC)[c120->tidx] == 'C', "mtrC -120 is a nucleotide site C>T");
  CHECK(!strstr(info, "macAB-promoter-size-225bp:-48") && !strstr(info, "mtrC-promoter-size-174bp:-120"), "their reference bases agree");
  /* V: versions */
  CHECK(strstr(info, "\"resfinder_version\":\"2022-05-24\"") && strstr(info, "\"pointfinder_version\":\"3.0.0\""), "versions: %.200s", info);
  /* an index this large is checked in two halves at once: damage in either half is found */
  char big[600], cmd[1400];
  snprintf(big, sizeof big, "%s/real.bgdb", dir);
  CHECK(bg_db_save(db, big) == BG_OK, "save: %s", bg_db_errmsg(db));
  struct stat bst;
  CHECK(stat(big, &bst) == 0 && bst.st_size > (16 << 20), "a real index is large: %lld bytes", (long long)bst.st_size);
  bg_db_t *again = bg_db_new();
  CHECK(bg_db_load(again, big) == BG_OK && again->n_targets == db->n_targets, "loads: %s", bg_db_errmsg(again));
  bg_db_free(again);
  for (int q = 1; q <= 3; q += 2) {
    char bad[640];
    snprintf(bad, sizeof bad, "%s/real-bad.bgdb", dir);
    snprintf(cmd, sizeof cmd, "cp %s %s && printf 'X' | dd of=%s bs=1 seek=%lld conv=notrunc status=none", big, bad, bad,
             (long long)bst.st_size / 4 * q);
    CHECK(system(cmd) == 0, "made a damaged copy");
    bg_db_t *d = bg_db_new();
    bg_status_t ls = bg_db_load(d, bad);
    CHECK(ls == BG_ERR_BAD_INDEX && strstr(bg_db_errmsg(d), "checksum"), "a byte changed at %d/4: %s", q, bg_db_errmsg(d));
    bg_db_free(d);
    unlink(bad);
  }
  unlink(big);
  bg_db_free(db);
}

/* The two halves' CRCs combine into the whole's, for any split (bg_crc32_combine, used by the index load). */
static void test_crc_combine_matches_the_whole(void) {
  size_t n = 100000;
  uint8_t *buf = malloc(n);
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < n; i++) { x ^= x << 13; x ^= x >> 7; x ^= x << 17; buf[i] = (uint8_t)x; }
  static const size_t cuts[] = {0, 1, 2, 7, 8, 63, 64, 4095, 50000, 99999, 100000};
  int bad = 0;
  for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
    size_t c = cuts[k];
    uint32_t whole = crc32_gzip_refl(0, buf, n), a = crc32_gzip_refl(0, buf, c), b = crc32_gzip_refl(0, buf + c, n - c);
    if (bg_crc32_combine(a, b, n - c) != whole) { bad++; fprintf(stderr, "  split at %zu: %08x, whole %08x\n", c, bg_crc32_combine(a, b, n - c), whole); }
  }
  CHECK(bad == 0, "%d splits combine wrongly", bad);
  free(buf);
}

/* bg_adapter_trim: cut at TruSeq's or Nextera's first 13 bases, the earlier of the two, or at a read end that
 * holds 5 to 12 of their first bases; 4 bases, or an adapter with an error in its first 13, are not cut. */
static void test_adapter_read_through_is_cut(void) {
  static const struct { const char *read; uint32_t keep; } cases[] = {
      {"ACGTTGCAACGTAGATCGGAAGAGCACACGTCTGAACT", 12},
      {"ACGTTGCAACGTCTGTCTCTTATACACATCTCCGAGCC", 12},
      {"ACGTCTGTCTCTTATACACATAGATCGGAAGAGCACAC", 4},
      {"ACGTTGCAACGTTTTTAGATCGGAAGAGCCTGTCTCTTATAC", 16},
      {"AGATCGGAAGAGCACACGTCTGAACT", 0},
      {"ACGTTGCAACGTAGATCGGAAGAG", 12},
      {"ACGTTGCAACGTAGATC", 12},
      {"ACGTTGCAACGTCTGTC", 12},
      {"ACGTTGCAACGTAGAT", 16},
      {"ACGTTGCAACGTAGATCGGTAGAGCACACG", 30},
      {"ACGTTGCAACGTACGTTGCA", 20},
      {"AGATC", 0},
      {"ACGTTGCAACGTAAGTCGGAGGCCAAGCGGTCTTAGG", 12},
      {"ACGTTGCAACGTAAGTCGGATCGTAGCCATGTCGTTC", 12},
      {"ACGTTGCAACGTAAGTCGGAT", 12},
      {"ACGTTGCAACGTAAGTCGGAGGTCAAGCGG", 30},
      {"", 0},
  };
  int ok = 1;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    uint32_t got = bg_adapter_trim((const uint8_t *)cases[i].read, (uint32_t)strlen(cases[i].read));
    if (got != cases[i].keep) { ok = 0; fprintf(stderr, "  %s: kept %u, expected %u\n", cases[i].read, got, cases[i].keep); }
  }
  CHECK(ok, "adapter read-through is cut where the adapter starts");
}

/* bg_polyg_trim: a 3' stretch of >= 10 bases starting with GG, at most one other base in eight, is cut (a G before
 * another base stays); 9 G's, a stretch with too many other bases, or a read ending in another base are kept. */
static void test_polyg_tail_is_cut(void) {
  static const struct { const char *read; uint32_t keep; } cases[] = {
      {"ACGTTGCAACGTGGGGGGGGGG", 12},
      {"ACGTTGCAACGTGGGGGGGGGGGGGGGGGGGGGGGGGGGGG", 12},
      {"ACGTTGCAACGTGGGGAGGGGGGGGGGGGG", 12},
      {"ACGTTGCAACGTGGAGGAGGGGG", 23},
      {"ACGTTGCAACGTGGGGGGGGG", 21},
      {"ACGTTGCAACGAGGGGGGGGGG", 12},
      {"ACGTTGCAACGTGGGGGGGGGGA", 23},
      {"GGGGGGGGGGGG", 0},
      {"ACGTTGCAACGTCCCCCCCCCCCC", 24},
      {"", 0},
  };
  int ok = 1;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    uint32_t got = bg_polyg_trim((const uint8_t *)cases[i].read, (uint32_t)strlen(cases[i].read));
    if (got != cases[i].keep) { ok = 0; fprintf(stderr, "  %s: kept %u, expected %u\n", cases[i].read, got, cases[i].keep); }
  }
  CHECK(ok, "poly-G tails are cut where they start");
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/bg-test-index-XXXXXX");
  if (!mkdtemp(dir)) { perror("mkdtemp"); return 2; }
  test_gapped_walk_matches_the_reference();
  test_family_gapped_scores_are_each_alleles_own();
  test_family_beyond_the_gapped_budget_all_get_the_score();
  test_family_differing_in_band_the_reads_allele_is_best();
  test_crc_combine_matches_the_whole();
  test_adapter_read_through_is_cut();
  test_polyg_tail_is_cut();
  char p[512];
  snprintf(p, sizeof p, "%s/rf", dir); mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/empty", dir); mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/pf", dir); mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/pf/ecoli", dir); mkdir(p, 0755);
  char s1[301], s2[301], s3[301], fa[4096];
  pseudo_seq(s1, 300, 1); pseudo_seq(s2, 300, 2); pseudo_seq(s3, 300, 3);
  snprintf(fa, sizeof fa, ">aac(6')-Ib-cr_1_DQ303918 \n%.*s\n%s\n>VanHAX_PT_1_DQ018710\n%s\n", 60, s1, s1 + 60, s2);
  put("rf/aminoglycoside.fsa", fa);
  /* a header with a space after '>', as ResFinder's macrolide.fsa has for erm(N)_2_MZ015744 */
  snprintf(fa, sizeof fa, ">aac(6')-Ib-cr_1_DQ303918\n%s\n> cfr_2_NG_047601\n%s\n>VanHAX_PT_1_DQ018710\n%s\n", s1, s3, s2);
  put("rf/quinolone.fsa", fa);
  /* an allele without phenotypes.txt rows in a class file whose config name holds a comma and an "and" */
  char s4[301];
  pseudo_seq(s4, 300, 4);
  snprintf(fa, sizeof fa, ">ermZ_1_AB000001\n%s\n", s4);
  put("rf/macrolide.fsa", fa);
  /* as in ResFinder: aac(6')-Ib-cr has two rows (the second after other alleles' rows), and config names the
   * quinolone file's class Fluoroquinolone where phenotypes.txt says Quinolone */
  put("rf/phenotypes.txt", "Gene_accession no.\tClass\tPhenotype\tPMID\n"
                           "aac(6')-Ib-cr_1_DQ303918\tAminoglycoside, Quinolone\tTobramycin, Amikacin, Ciprofloxacin\t1\n"
                           "cfr_2_NG_047601\tPhenicol\tChloramphenicol\n"
                           "aac(6')-Ib-cr_1_DQ303918\tQuinolone\tCiprofloxacin, Norfloxacin\t2\n");
  put("rf/config", "#db_prefix\tname\tdescription\naminoglycoside\tAminoglycoside\tx\nquinolone\tFluoroquinolone\tQuinolone\n"
                   "macrolide\tMLS - Macrolide, Lincosamide and Streptogramin B\tMacrolide, Lincosamide and Streptogramin B\n");
  put("rf/history.txt", "# ResFinder Database History\n#Date\tCommit\n2021-03-01 Added:\n\tx_1_A\n2022-05-24 Added:\n\ty_1_B\n"
                        "2022-05-06\tAdded:\n");
  put("pf/VERSION", "3.0.0\n");
  /* PointFinder: gyrA = ATG + s1[3..], codon 2 = s1[3..6]; a promoter gene of 20 bases */
  char gyr[301];
  memcpy(gyr, s2, 301);
  gyr[0] = 'A'; gyr[1] = 'T'; gyr[2] = 'G';
  gyr[3] = 'T'; gyr[4] = 'C'; gyr[5] = 'G'; /* codon 2 = TCG (S) */
  snprintf(fa, sizeof fa, ">gyrA_1_CP073768.1\n%s\n", gyr);
  put("pf/ecoli/gyrA.fsa", fa);
  put("pf/ecoli/prom-promoter-size-20bp.fsa", ">prom-promoter-size-20bp_1_X\nACGTACGTACGTACGTACGT\n");
  /* a gene file holding another listed gene (M. tuberculosis ethA-promoter-size-74bp.fsa holds embA's): left out */
  snprintf(fa, sizeof fa, ">gyrA_1_CP073768.1\n%s\n", gyr);
  put("pf/ecoli/parC.fsa", fa);
  put("pf/ecoli/genes.txt", "gyrA\nprom-promoter-size-20bp\nmissingGene\nparC\n");
  put("pf/ecoli/RNA_genes.txt", "");
  put("pf/ecoli/phenotypes.txt",
      "#Gene_accession\tTypeGene\tMutation ID\tCodon_pos\tRef_nuc\tRef_codon\tRes_codon\tClass\tPhenotype\tPMID\n"
      "gyrA_1_CP073768.1\tAA\tSER-2\t2\tTCG\tS\tL,W\tQuinolone\tNalidixic acid\t11\n"
      "gyrA_1_CP073768.1\tAA\tSER-2\t2\tTCG\tS\tA\tQuinolone\tCiprofloxacin\t12\n"
      "gyrA_1_CP073768.1\tAA\tGLY-3\t3\tGGT\tG\tD\tQuinolone\tCiprofloxacin\t13\n"
      "parC_1_CP073768.1\tAA\tSER-2\t2\tTCG\tS\tI\tQuinolone\tCiprofloxacin\t19\n"
      "prom-promoter-size-20bp_1_X\tNUC\tCYS--19\t-19\tC\tC\tT\tBeta-lactam\tAmpicillin\t14\n"
      "prom-promoter-size-20bp_1_X\tNUC\t\t-13\t-\tins\tGT,G\tBeta-lactam\tAmpicillin\t15\n"
      /* a deletion (as PointFinder writes them: Ref_nuc '-', Ref_codon 'del', the deleted bases) */
      "prom-promoter-size-20bp_1_X\tNUC\t\t-11\t-\tdel\tCG\tBeta-lactam\tAmpicillin\t16\n"
      /* ... numbered by the base before it, as a few rows are (the sequence holds CG from index 9) */
      "prom-promoter-size-20bp_1_X\tNUC\t\t-12\t-\tdel\tCG\tBeta-lactam\tAmpicillin\t18\n"
      /* a single-base promoter change typed AA (N. gonorrhoeae macAB -48 G>T): index 14 is G */
      "prom-promoter-size-20bp_1_X\tAA\tGLY--6\t-6\tG\tG\tT\tBeta-lactam\tAmpicillin\t17\n");

  /* build */
  bg_db_t *db = bg_db_new();
  snprintf(p, sizeof p, "%s/rf", dir);
  char pf[512];
  snprintf(pf, sizeof pf, "%s/pf", dir);
  bg_status_t s = bg_db_build(db, p, pf, NULL);
  CHECK(s == BG_OK, "build: %s", bg_db_errmsg(db));
  CHECK(db->n_resfinder == 4, "four distinct alleles, found %u", db->n_resfinder);
  const bg_target_t *t = find_target(db, "aac(6')-Ib-cr_1_DQ303918");
  CHECK(t != NULL, "trailing space stripped from the header");
  if (t) {
    CHECK(strcmp(bg_str(db, t->gene), "aac(6')-Ib-cr") == 0, "gene name part, found %s", bg_str(db, t->gene));
    CHECK(strcmp(bg_str(db, t->accession), "DQ303918") == 0, "accession part");
    CHECK(strcmp(bg_str(db, t->drug_class), "Aminoglycoside, Quinolone") == 0,
          "an allele's phenotypes.txt rows merged, its class files' config names (Fluoroquinolone) not mixed in, found '%s'", bg_str(db, t->drug_class));
    CHECK(strcmp(bg_str(db, t->phenotype), "Tobramycin, Amikacin, Ciprofloxacin, Norfloxacin") == 0,
          "phenotypes of both rows, first row's first, without repeats, found '%s'", bg_str(db, t->phenotype));
    CHECK(t->len == 300, "multi-line FASTA joined, len %u", t->len);
  }
  t = find_target(db, "VanHAX_PT_1_DQ018710");
  CHECK(t && strcmp(bg_str(db, t->gene), "VanHAX_PT") == 0, "gene names may contain underscores");
  CHECK(t && strcmp(bg_str(db, t->drug_class), "Aminoglycoside, Fluoroquinolone") == 0,
        "classes from config (its names) for an allele without phenotypes.txt rows, one per class file, found '%s'", t ? bg_str(db, t->drug_class) : "");
  t = find_target(db, "cfr_2_NG_047601");
  CHECK(t != NULL, "a space after '>' stripped from the header");
  CHECK(t && strcmp(bg_str(db, t->gene), "cfr") == 0, "gene name without the space, found '%s'", t ? bg_str(db, t->gene) : "");
  CHECK(t && strcmp(bg_str(db, t->accession), "NG_047601") == 0, "NG_ accessions kept whole");
  CHECK(t && strcmp(bg_str(db, t->drug_class), "Phenicol") == 0, "class from phenotypes.txt only, found '%s'", t ? bg_str(db, t->drug_class) : "");
  t = find_target(db, "ermZ_1_AB000001");
  CHECK(t && strcmp(bg_str(db, t->drug_class), "Macrolide, Lincosamide, Streptogramin B") == 0,
        "a config name holding several classes becomes their list (its 'XX - ' prefix and 'and' gone), found '%s'",
        t ? bg_str(db, t->drug_class) : "");
  CHECK(db->n_pointfinder == 2, "two PointFinder genes (missing file and one holding another gene skipped), found %u", db->n_pointfinder);
  CHECK(db->n_sites == 7, "repeated rows merged, two deletion sites: 7 sites, found %u", db->n_sites);
  int n_del = 0;
  int n_nuc = 0;
  for (uint32_t i = 0; i < db->n_sites; i++) {
    const bg_site_t *st = &db->sites[i];
    if (st->type == BG_MUT_AA && st->pos == 2) {
      CHECK(strcmp(bg_str(db, st->alts), "L,W,A") == 0, "merged alternatives, found %s", bg_str(db, st->alts));
      CHECK(strcmp(bg_str(db, st->phenotype), "Nalidixic acid, Ciprofloxacin") == 0, "merged phenotypes");
      CHECK(st->tidx == 3, "codon 2 starts at index 3");
    }
    if (st->type == BG_MUT_NUC && st->pos == -19) { n_nuc++; CHECK(st->tidx == 1, "promoter position -19 is index 1 of 20"); }
    if (st->type == BG_MUT_NUC && st->pos == -6) {
      n_nuc++;
      CHECK(st->tidx == 14 && strcmp(bg_str(db, st->ref), "G") == 0 && strcmp(bg_str(db, st->alts), "T") == 0 && !bg_str(db, st->ref_codon)[0],
            "an AA-typed promoter row at -6 is the nucleotide site G>T at index 14 (index %d, %s>%s)", st->tidx, bg_str(db, st->ref), bg_str(db, st->alts));
    }
    if (st->type == BG_MUT_INS) CHECK(st->pos == -13 && st->tidx == 7, "insertion site index (a deletion is no insertion site), pos %d", st->pos);
    if (st->type == BG_MUT_DEL) {
      n_del++;
      CHECK((st->pos == -11 || st->pos == -12) && st->tidx == 9 && strcmp(bg_str(db, st->alts), "CG") == 0 && !strcmp(bg_str(db, st->ref), "-"),
            "deletion site at its first deleted base, index 9 (pos %d: index %d, del%s)", st->pos, st->tidx, bg_str(db, st->alts));
    }
  }
  CHECK(n_nuc == 2, "two nucleotide sites, found %d", n_nuc);
  const char *info = bg_db_info_json(db);
  CHECK(n_del == 2, "two deletion sites, found %d", n_del);
  CHECK(strstr(info, "Deleted bases disagree") == NULL && strstr(info, "deletion row") == NULL, "deletion rows agree with the sequence: %s", info);
  CHECK(strstr(info, "prom-promoter-size-20bp:-6") == NULL, "the AA-typed promoter row's base agrees with the sequence: %s", info);
  CHECK(strstr(info, "\"resfinder_version\":\"2022-05-24\"") && strstr(info, "\"pointfinder_version\":\"3.0.0\""),
        "versions: the newest date of history.txt, PointFinder's VERSION: %s", info);
  CHECK(strstr(info, "missingGene") != NULL, "missing gene file reported as a warning: %s", info);
  CHECK(strstr(info, "parC.fsa of ecoli holds another gene's sequence (its header: gyrA_1_CP073768.1): the gene and its 1 "
                     "catalogue rows are skipped") != NULL && strstr(info, "unknown gene parC") == NULL,
        "a gene file holding another gene: one warning, with its rows: %s", info);
  CHECK(strstr(info, "GLY-3") == NULL && strstr(info, "ecoli gyrA:3") != NULL, "reference codon mismatch (GGT vs sequence) reported: %s", info);
  /* k-mer lookup: the first 21-mer of s3 (cfr) is found with its occurrence */
  uint64_t fw = 0, rv = 0;
  for (int i = 0; i < BG_K; i++) {
    uint32_t c = bg_base_code((uint8_t)s3[i]);
    fw = ((fw << 2) | c) & BG_KMASK;
    rv = (rv >> 2) | ((uint64_t)(3u - c) << (2 * (BG_K - 1)));
  }
  const bg_kslot_t *slot = bg_index_find(db, fw < rv ? fw : rv);
  CHECK(slot && slot->count >= 1, "k-mer found in the index");
  CHECK(bg_filter_test(db->filter, db->filter_mask, fw < rv ? fw : rv), "k-mer passes the screen filter");

  /* the CPU screen (prefetching) decides exactly like the reference function the CUDA kernel runs */
  {
    enum { NP = 400 };
    static uint8_t r1[NP * 160], r2[NP * 160];
    static uint32_t o1[NP + 1], o2[NP + 1];
    static uint8_t fa_[NP], fb_[NP];
    const char *srcs[3] = {s1, s2, s3};
    unsigned seed = 7;
    for (int i = 0; i < NP; i++) {
      o1[i] = (uint32_t)i * 160; o2[i] = (uint32_t)i * 160;
      uint32_t len = 30 + (uint32_t)(i % 131);
      for (uint32_t j = 0; j < len; j++) {
        seed = seed * 1103515245u + 12345u;
        char c = i % 3 == 0 ? "ACGT"[(seed >> 16) & 3] : srcs[i % 3][(j + (uint32_t)i) % 300];
        if (((seed >> 8) & 63) == 0) c = 'N';
        if (i % 7 == 0 && ((seed >> 4) & 15) == 0) c = "ACGT"[(seed >> 20) & 3];
        r1[o1[i] + j] = (uint8_t)c;
        r2[o2[i] + j] = (uint8_t)(i % 5 == 0 ? 'N' : "ACGT"[(seed >> 12) & 3]);
      }
      o1[i + 1] = o1[i] + len; o2[i + 1] = o2[i] + len;
      if (i + 1 < NP) { o1[i + 1] = (uint32_t)(i + 1) * 160; o2[i + 1] = (uint32_t)(i + 1) * 160; }
    }
    /* contiguous offsets: read i spans [o[i], o[i+1]) — rebuild as packed */
    static uint8_t p1[NP * 160], p2[NP * 160];
    static uint32_t q1[NP + 1], q2[NP + 1];
    q1[0] = q2[0] = 0;
    for (int i = 0; i < NP; i++) {
      uint32_t len = 30 + (uint32_t)(i % 131);
      memcpy(p1 + q1[i], r1 + (size_t)i * 160, len); q1[i + 1] = q1[i] + len;
      memcpy(p2 + q2[i], r2 + (size_t)i * 160, len); q2[i + 1] = q2[i] + len;
    }
    bg_screen_batch_ref(db, p1, q1, p2, q2, NP, fa_);
    bg_screen_batch_cpu(db, p1, q1, p2, q2, NP, fb_);
    int same = memcmp(fa_, fb_, NP) == 0, pos = 0;
    for (int i = 0; i < NP; i++) pos += fa_[i];
    CHECK(same, "CPU screen equals the reference screen");
    CHECK(pos > NP / 3 && pos < NP, "screen passes database reads and rejects random ones (%d of %d)", pos, NP);
  }

  /* the same over lengths from 21 bases to 5,000: around the AVX2 sampler's 512-base limit, and pairs longer
   * than 2,048 bases in all, which the CPU screen hands to the reference function one by one */
  {
    static const uint32_t lens[] = {21, 22, 28, 29, 150, 301, 511, 512, 513, 520, 600, 1023, 1024, 1025, 1030, 1500, 2000, 2100, 3000, 5000};
    enum { NL = sizeof lens / sizeof lens[0], NP = 120 };
    static uint8_t p1[NP * 5000], p2[NP * 5000], fa_[NP], fb_[NP];
    static uint32_t q1[NP + 1], q2[NP + 1];
    const char *srcs[3] = {s1, s2, s3};
    unsigned seed = 11;
    q1[0] = q2[0] = 0;
    int long_pass = 0, long_fail = 0;
    for (int i = 0; i < NP; i++) {
      for (int mate = 0; mate < 2; mate++) {
        uint32_t len = mate == 0 ? lens[i % NL] : lens[(i * 7 + 3) % NL];
        uint8_t *rd = (mate == 0 ? p1 + q1[i] : p2 + q2[i]);
        seed = seed * 1103515245u + 12345u;
        uint32_t at = len > 300 ? (seed >> 8) % (len - 300) : 0, from = (seed >> 4) % 300; /* a database stretch */
        int plant = i % 4 != 0 && (i + mate) % 2 == 0; /* one mate of three pairs in four */
        for (uint32_t j = 0; j < len; j++) {
          seed = seed * 1103515245u + 12345u;
          char c = "ACGT"[(seed >> 16) & 3];
          if (plant && j >= at && j < at + 300) c = srcs[i % 3][(j - at + from) % 300];
          if (((seed >> 8) & 63) == 0) c = 'N';
          rd[j] = (uint8_t)c;
        }
        if (mate == 0) q1[i + 1] = q1[i] + len;
        else q2[i + 1] = q2[i] + len;
      }
    }
    bg_screen_batch_ref(db, p1, q1, p2, q2, NP, fa_);
    bg_screen_batch_cpu(db, p1, q1, p2, q2, NP, fb_);
    int same = memcmp(fa_, fb_, NP) == 0;
    for (int i = 0; i < NP; i++)
      if (q1[i + 1] - q1[i] + q2[i + 1] - q2[i] > 2048) { long_pass += fa_[i]; long_fail += !fa_[i]; }
    CHECK(same, "CPU screen equals the reference screen for reads of 21 to 5,000 bases");
    CHECK(long_pass > 0 && long_fail > 0, "pairs over 2,048 bases both pass and fail (%d, %d)", long_pass, long_fail);
  }

  /* the AVX2 and AVX-512 k-mer samplers (where the CPU has them) yield exactly the scalar sampler's hashes */
  {
    static uint8_t rd[600];
    uint64_t ha[80], hb[80];
    unsigned seed = 11;
    int same = 1, total = 0;
    for (int i = 0; i < 3000 && same; i++) {
      uint32_t len = (uint32_t)(i % 540);
      for (uint32_t j = 0; j < len; j++) {
        seed = seed * 1103515245u + 12345u;
        rd[j] = (uint8_t)(i % 2 ? s1[(j + (uint32_t)i) % 300] : "ACGT"[(seed >> 16) & 3]);
        if (i % 5 == 0 && ((seed >> 8) & 127) == 0) rd[j] = 'N';
        if (i % 7 == 3 && ((seed >> 9) & 15) == 0) rd[j] = 'N';                     /* dense N */
        if (i % 11 == 0 && j >= 30 + (uint32_t)i % 9 && j < 35 + (uint32_t)i % 9) rd[j] = 'N'; /* a run */
        if (i % 13 == 1 && (j == 0 || j + 1 == len || j == 31 || j == 32)) rd[j] = 'N';  /* at the ends, block edges */
      }
      for (uint32_t j = len; j < len + 40; j++) rd[j] = (uint8_t)"NACGTNacgt\n@+"[(j * 7 + (uint32_t)i) % 13];
      /* readable = len (the tail is copied) and len + 40 (bytes after the read, N among them, are loaded) */
      uint32_t nb = bg_screen_sample(rd, len, len, hb, 80, 0);
      for (int level = 1; level <= 2; level++) { /* AVX2 forms; the fastest (AVX-512 where this CPU has it) */
        uint32_t na = bg_screen_sample(rd, len, len, ha, 80, level);
        same = same && na == nb && memcmp(ha, hb, na * sizeof *ha) == 0;
        na = bg_screen_sample(rd, len, len + 40, ha, 80, level);
        same = same && na == nb && memcmp(ha, hb, na * sizeof *ha) == 0;
      }
      uint32_t cap = 1 + (uint32_t)i % 9, nc = bg_screen_sample(rd, len, len, hb, cap, 0); /* a few only */
      for (int level = 1; level <= 2; level++) {
        uint32_t na = bg_screen_sample(rd, len, len + 40, ha, cap, level);
        same = same && na == nc && nc <= cap && memcmp(ha, hb, na * sizeof *ha) == 0;
      }
      total += (int)nb;
    }
    CHECK(same, "AVX2, fastest and scalar k-mer samplers agree on reads of 0..539 bases, with and without N");
    CHECK(total > 50000, "the samplers sampled k-mers (%d)", total);
  }

  /* a unit's alignments come back as they were stored, in each of the three forms */
  {
    bg_worker_t w;
    bg_worker_init(&w, db);
    w.unit_form = -1;
    w.a1 = calloc(64, sizeof *w.a1); w.a2 = calloc(64, sizeof *w.a2);
    w.cap_a1 = w.cap_a2 = 64;
    bg_aln_t in1[40], in2[3];
    for (uint32_t k = 0; k < 40; k++) in1[k] = (bg_aln_t){.target = 3 * k + 1, .score = 280, .strand = 1, .diag = 17 + (int32_t)(k % 3) - 1};
    for (uint32_t k = 0; k < 3; k++) in2[k] = (bg_aln_t){.target = 3 * k + 1, .score = 270, .strand = 0, .diag = -5};
    uint32_t set[3] = {7, 1, 4};
    int ok = 1;
    for (int rep = 0; rep < 2; rep++) { /* compact: 43 ungapped alignments, one strand per mate */
      memcpy(w.a1, in1, sizeof in1); memcpy(w.a2, in2, sizeof in2);
      size_t sets_before = w.n_sets;
      ok &= bg_worker_add_unit(&w, 0, 100, 100, BG_KIND_RESFINDER, 3, set, 3, 40, 3) == 0;
      const bg_unit_t *u = &w.units[w.n_units - 1];
      ok &= (u->mates >> 2) == 1 && (u->mates & 3) == 3;
      ok &= w.sets[u->set_off] == 1 && w.sets[u->set_off + 1] == 4 && w.sets[u->set_off + 2] == 7;
      if (rep == 1) ok &= w.n_sets == sets_before; /* the second equal unit shares every list */
      int n1 = 0, n2 = 0;
      memset(w.a1, 0, 64 * sizeof *w.a1); memset(w.a2, 0, 64 * sizeof *w.a2);
      ok &= bg_worker_unit_alns(&w, u, (const uint8_t *)"", &n1, &n2) == 0 && n1 == 40 && n2 == 3;
      for (int k = 0; k < n1; k++) ok &= w.a1[k].target == in1[k].target && w.a1[k].strand == 1 && w.a1[k].diag == in1[k].diag && !w.a1[k].gapped;
      for (int k = 0; k < n2; k++) ok &= w.a2[k].target == in2[k].target && w.a2[k].strand == 0 && w.a2[k].diag == -5 && !w.a2[k].gapped;
    }
    CHECK(ok, "compact form: targets, strands and diagonals come back; equal units share storage");
    /* explicit: few alignments come back whole, scores included */
    memcpy(w.a1, in1, 5 * sizeof *in1); memcpy(w.a2, in2, sizeof in2);
    ok = bg_worker_add_unit(&w, 0, 100, 100, BG_KIND_RESFINDER, 1, set, 3, 5, 3) == 0;
    const bg_unit_t *u = &w.units[w.n_units - 1];
    int n1 = 0, n2 = 0;
    ok &= (u->mates >> 2) == 0 && bg_worker_unit_alns(&w, u, (const uint8_t *)"", &n1, &n2) == 0 && n1 == 5 && n2 == 0;
    for (int k = 0; k < n1; k++) ok &= memcmp(&w.a1[k], &in1[k], sizeof *in1) == 0;
    CHECK(ok, "explicit form: the supporting mate's alignments come back whole");
    /* a gapped alignment among many: kept whole while the worker's allowance lasts, and it is used up */
    bg_aln_t g1[40];
    memcpy(g1, in1, sizeof in1);
    g1[7].gapped = 1;
    memcpy(w.a1, g1, sizeof g1); memcpy(w.a2, in2, sizeof in2);
    size_t left = w.explicit_left;
    ok = left >= 43 && bg_worker_add_unit(&w, 0, 100, 100, BG_KIND_RESFINDER, 3, set, 3, 40, 3) == 0;
    u = &w.units[w.n_units - 1];
    ok &= (u->mates >> 2) == 0 && w.explicit_left == left - 43;
    ok &= bg_worker_unit_alns(&w, u, (const uint8_t *)"", &n1, &n2) == 0 && n1 == 40 && n2 == 3;
    for (int k = 0; k < n1; k++) ok &= memcmp(&w.a1[k], &g1[k], sizeof *g1) == 0;
    for (int k = 0; k < n2; k++) ok &= memcmp(&w.a2[k], &in2[k], sizeof *in2) == 0;
    CHECK(ok, "a unit with a gapped alignment among many is kept whole, from the worker's allowance (%zu left)", w.explicit_left);
    /* past the allowance: not kept, the mates are mapped again (here: bases that map nowhere) */
    memcpy(w.a1, in1, sizeof in1); memcpy(w.a2, in2, sizeof in2);
    w.a1[7].gapped = 1;
    w.explicit_left = 42;
    static uint8_t bases[200];
    memset(bases, 'A', sizeof bases);
    ok = bg_worker_add_unit(&w, 0, 100, 100, BG_KIND_RESFINDER, 3, set, 3, 40, 3) == 0;
    u = &w.units[w.n_units - 1];
    ok &= (u->mates >> 2) == 2 && u->aln_off == UINT32_MAX && w.explicit_left == 42;
    ok &= bg_worker_unit_alns(&w, u, bases, &n1, &n2) == 0 && n1 == 0 && n2 == 0;
    CHECK(ok, "past the allowance, a unit with a gapped alignment among many is mapped again");
    bg_worker_free(&w);
  }

  /* a mapped fragment's bases are kept 4 bits each and come back exactly, N and odd lengths included */
  {
    bg_worker_t w;
    bg_worker_init(&w, db);
    uint8_t r1[101], r2[77], want[178];
    memcpy(r1, s1 + 10, sizeof r1);
    r1[5] = 'N';
    r1[100] = 'N';
    for (int i = 0; i < 77; i++) r2[i] = (uint8_t)"TGCA"[strchr("ACGT", s1[226 - i]) - "ACGT"]; /* reverse complement */
    r2[40] = 'N';
    memcpy(want, r1, sizeof r1);
    memcpy(want + sizeof r1, r2, sizeof r2);
    int ok = bg_worker_map_pair(&w, r1, sizeof r1, r2, sizeof r2) == 0;
    CHECK(ok && w.n_units >= 1 && w.mapped_pairs == 1, "the pair maps (%zu units)", w.n_units);
    CHECK(w.n_seqs == (sizeof r1 + sizeof r2 + 1) / 2, "178 bases kept in %zu bytes", w.n_seqs);
    for (size_t i = 0; i < w.n_units; i++) {
      const bg_unit_t *u = &w.units[i];
      const uint8_t *b = bg_worker_unit_bases(&w, u);
      ok &= b && u->len1 == sizeof r1 && u->len2 == sizeof r2 && memcmp(b, want, sizeof want) == 0;
    }
    CHECK(ok, "every unit's bases come back as read, R1 then R2");
    bg_worker_free(&w);
  }

  /* adapter read-through: a 90-base insert read 150 bases on into TruSeq's adapters maps as the insert alone */
  {
    static const char A1[] = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCACATCACGATCTCGTATGCCGTCTTCTGCTTG";
    static const char A2[] = "AGATCGGAAGAGCGTCGTGTAGGGAAAGAGTGTAGATCTCGGTGGTCGCCGTATCATTAAAAAA";
    uint8_t r1[150], r2[150];
    memset(r1, 'A', sizeof r1);
    memset(r2, 'A', sizeof r2);
    memcpy(r1, s1 + 30, 90);
    memcpy(r1 + 90, A1, 60);
    for (int i = 0; i < 90; i++) r2[i] = (uint8_t)"TGCA"[strchr("ACGT", s1[119 - i]) - "ACGT"];
    memcpy(r2 + 90, A2, 60);
    bg_worker_t w, t;
    bg_worker_init(&w, db);
    bg_worker_init(&t, db);
    int ok = bg_worker_map_pair(&w, r1, sizeof r1, r2, sizeof r2) == 0 && bg_worker_map_pair(&t, r1, 90, r2, 90) == 0;
    ok &= w.n_units >= 1 && w.n_units == t.n_units && w.n_seqs == t.n_seqs && w.n_seqs == 90;
    for (size_t i = 0; ok && i < w.n_units; i++)
      ok &= w.units[i].len1 == 90 && w.units[i].len2 == 90 && w.units[i].set_n == t.units[i].set_n &&
            memcmp(w.sets + w.units[i].set_off, t.sets + t.units[i].set_off, w.units[i].set_n * sizeof *w.sets) == 0;
    CHECK(ok, "a pair read into its adapters maps as its insert (%zu units, %zu bytes kept)", w.n_units, w.n_seqs);
    bg_worker_free(&w);
    bg_worker_free(&t);
  }

  /* save / load round trip */
  char idx[512];
  snprintf(idx, sizeof idx, "%s/db.bgdb", dir);
  CHECK(bg_db_save(db, idx) == BG_OK, "save: %s", bg_db_errmsg(db));
  bg_db_t *db2 = bg_db_new();
  s = bg_db_load(db2, idx);
  CHECK(s == BG_OK, "load: %s", bg_db_errmsg(db2));
  CHECK(db2->n_targets == db->n_targets && db2->n_sites == db->n_sites && db2->n_occs == db->n_occs, "same content after load");
  CHECK(db2->n_targets && memcmp(db2->seqs, db->seqs, db->seqs_len) == 0, "same sequences after load");
  {
    const char *i2 = bg_db_info_json(db2);
    CHECK(strstr(i2, "\"resfinder_version\":\"2022-05-24\"") && strstr(i2, "\"pointfinder_version\":\"3.0.0\""), "versions kept by the index file: %s", i2);
  }
  bg_db_free(db2);

  /* damaged files */
  struct stat st;
  stat(idx, &st);
  char bad[512];
  snprintf(bad, sizeof bad, "%s/bad.bgdb", dir);
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "cp %s %s && printf 'X' | dd of=%s bs=1 seek=%lld conv=notrunc status=none", idx, bad, bad, (long long)st.st_size / 2);
  CHECK(system(cmd) == 0, "made a damaged copy");
  db2 = bg_db_new();
  s = bg_db_load(db2, bad);
  CHECK(s == BG_ERR_BAD_INDEX && strstr(bg_db_errmsg(db2), "checksum") && strstr(bg_db_errmsg(db2), bad), "flipped byte: %s", bg_db_errmsg(db2));
  bg_db_free(db2);
  /* a string offset, a site type, a site's position or a variant's site out of range in a file whose checksum is
   * right (crafted): refused, naming the table. The header: crc at byte 24, the sections' offsets from byte 80 (targets, then
   * sites); each case patches the first record's fields. */
  const struct { int sec; size_t off[2]; int32_t val[2]; const char *want, *what; } crafted[] = {
    {0, {offsetof(bg_target_t, mechanism), offsetof(bg_target_t, mechanism)}, {0x7fffff00, 0x7fffff00}, "target table out of range", "target mechanism offset"},
    {1, {offsetof(bg_site_t, mechanism), offsetof(bg_site_t, mechanism)}, {0x7fffff00, 0x7fffff00}, "site table out of range", "site mechanism offset"},
    {1, {offsetof(bg_site_t, type), offsetof(bg_site_t, type)}, {BG_MUT_AA_INS + 1, BG_MUT_AA_INS + 1}, "site table out of range", "site type"},
    /* an amino-acid insertion's label reads the codon ending at tidx: tidx 1 would read before the gene */
    {1, {offsetof(bg_site_t, type), offsetof(bg_site_t, tidx)}, {BG_MUT_AA_INS, 1}, "site table out of range", "amino-acid insertion at base 1"},
    /* a variant target names a long indel's site: one past the table, or the first allele made a variant of site 0 */
    {0, {offsetof(bg_target_t, variant_site), offsetof(bg_target_t, variant_site)}, {0x7fffff00, 0x7fffff00}, "variant target out of range", "variant's site"},
    {0, {offsetof(bg_target_t, variant_site), offsetof(bg_target_t, variant_alt)}, {1, 0}, "variant target out of range", "a ResFinder allele as a variant"},
  };
  for (size_t c = 0; c < sizeof crafted / sizeof crafted[0]; c++) {
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n);
    FILE *f = fopen(idx, "rb");
    int ok = buf && f && fread(buf, 1, n, f) == n;
    if (f) fclose(f);
    uint64_t sec = 0;
    if (ok) {
      memcpy(&sec, buf + 80 + 8 * crafted[c].sec, 8);
      for (int k = 0; k < 2; k++) memcpy(buf + sec + crafted[c].off[k], &crafted[c].val[k], 4);
      uint32_t crc = crc32_gzip_refl(0, buf + 256, n - 256);
      memcpy(buf + 24, &crc, 4);
      f = fopen(bad, "wb");
      ok = f && fwrite(buf, 1, n, f) == n;
      if (f) fclose(f);
    }
    free(buf);
    CHECK(ok, "wrote a crafted index");
    db2 = bg_db_new();
    s = bg_db_load(db2, bad);
    CHECK(s == BG_ERR_BAD_INDEX && strstr(bg_db_errmsg(db2), crafted[c].want), "crafted %s: %s", crafted[c].what, bg_db_errmsg(db2));
    bg_db_free(db2);
  }
  snprintf(cmd, sizeof cmd, "head -c %lld %s > %s", (long long)st.st_size - 100, idx, bad);
  CHECK(system(cmd) == 0, "made a truncated copy");
  db2 = bg_db_new();
  s = bg_db_load(db2, bad);
  CHECK(s == BG_ERR_BAD_INDEX && strstr(bg_db_errmsg(db2), "truncated"), "truncated: %s", bg_db_errmsg(db2));
  bg_db_free(db2);
  /* an index of an earlier format (1: no source versions, ...; 4: no amino-acid insertion sites) is refused with a
   * clear message, so a cached one is rebuilt */
  {
    snprintf(bad, sizeof bad, "%s/v1.bgdb", dir);
    snprintf(cmd, sizeof cmd, "cp %s %s", idx, bad);
    CHECK(system(cmd) == 0, "copied the index");
    for (uint32_t v = 1; v < BG_INDEX_VERSION; v++) {
      FILE *f = fopen(bad, "r+b");
      CHECK(f && fseek(f, 8, SEEK_SET) == 0 && fwrite(&v, 4, 1, f) == 1, "wrote version %u", v);
      if (f) fclose(f);
      char want[128];
      snprintf(want, sizeof want, "index format version %u, this engine reads %u: rebuild it", v, BG_INDEX_VERSION);
      db2 = bg_db_new();
      s = bg_db_load(db2, bad);
      CHECK(s == BG_ERR_BAD_INDEX && strstr(bg_db_errmsg(db2), want), "version %u: %s", v, bg_db_errmsg(db2));
      bg_db_free(db2);
    }
  }
  put("notindex.bgdb", "this is a FASTA file, not an index, but long enough to be read as a header........................................................................................................................................................................................................................");
  snprintf(bad, sizeof bad, "%s/notindex.bgdb", dir);
  db2 = bg_db_new();
  s = bg_db_load(db2, bad);
  CHECK(s == BG_ERR_BAD_INDEX && strstr(bg_db_errmsg(db2), "magic"), "wrong magic: %s", bg_db_errmsg(db2));
  bg_db_free(db2);
  db2 = bg_db_new();
  snprintf(bad, sizeof bad, "%s/nope.bgdb", dir);
  s = bg_db_load(db2, bad);
  CHECK(s == BG_ERR_FILE_NOT_FOUND && strstr(bg_db_errmsg(db2), bad), "missing index: %s", bg_db_errmsg(db2));
  bg_db_free(db2);

  /* a ResFinder VERSION file wins over history.txt; without PointFinder its version is "" */
  put("rf/VERSION", " 2.1.0\n");
  db2 = bg_db_new();
  snprintf(p, sizeof p, "%s/rf", dir);
  s = bg_db_build(db2, p, NULL, NULL);
  {
    const char *i2 = s == BG_OK ? bg_db_info_json(db2) : bg_db_errmsg(db2);
    CHECK(s == BG_OK && strstr(i2, "\"resfinder_version\":\"2.1.0\"") && strstr(i2, "\"pointfinder_version\":\"\""), "VERSION file; no PointFinder: %s", i2);
  }
  bg_db_free(db2);
  snprintf(p, sizeof p, "%s/rf/VERSION", dir); unlink(p);
  snprintf(p, sizeof p, "%s/rf/history.txt", dir); unlink(p);
  db2 = bg_db_new();
  snprintf(p, sizeof p, "%s/rf", dir);
  s = bg_db_build(db2, p, NULL, NULL);
  CHECK(s == BG_OK && strstr(bg_db_info_json(db2), "\"resfinder_version\":\"\""), "neither VERSION nor history.txt: version \"\"");
  bg_db_free(db2);

  test_real_sources();

  /* bad sources */
  db2 = bg_db_new();
  snprintf(p, sizeof p, "%s/empty", dir);
  s = bg_db_build(db2, p, NULL, NULL);
  CHECK(s == BG_ERR_BAD_DATABASE && strstr(bg_db_errmsg(db2), "no alleles") && strstr(bg_db_errmsg(db2), p), "empty folder: %s", bg_db_errmsg(db2));
  bg_db_free(db2);
  db2 = bg_db_new();
  snprintf(p, sizeof p, "%s/does-not-exist", dir);
  s = bg_db_build(db2, p, NULL, NULL);
  CHECK(s == BG_ERR_BAD_DATABASE && strstr(bg_db_errmsg(db2), p), "missing folder: %s", bg_db_errmsg(db2));
  bg_db_free(db2);
  db2 = bg_db_new();
  snprintf(p, sizeof p, "%s/rf", dir);
  s = bg_db_build(db2, p, pf, "nonexistent_species");
  CHECK(s == BG_ERR_BAD_DATABASE && strstr(bg_db_errmsg(db2), "nonexistent_species"), "unknown species: %s", bg_db_errmsg(db2));
  bg_db_free(db2);

  /* options */
  bg_run_options_t o;
  bg_run_options_init(&o);
  CHECK(bg_run_options_check(&o, NULL, 0) == BG_OK && o.min_identity == 90 && o.min_coverage == 60, "defaults are ResFinder's");
  char msg[256];
  o.min_identity = 120;
  CHECK(bg_run_options_check(&o, msg, sizeof msg) == BG_ERR_INVALID_ARGUMENT && strstr(msg, "min_identity"), "bad option named: %s", msg);
  bg_run_options_init(&o);
  CHECK(o.min_point_identity == 95 && o.species[0] == 0, "PointFinder defaults: 95 %% per read, every species");
  o.min_point_identity = 100.5;
  CHECK(bg_run_options_check(&o, msg, sizeof msg) == BG_ERR_INVALID_ARGUMENT && strstr(msg, "min_point_identity"), "bad option named: %s", msg);
  bg_run_options_init(&o);
  memset(o.species, 'x', sizeof o.species);
  CHECK(bg_run_options_check(&o, msg, sizeof msg) == BG_ERR_INVALID_ARGUMENT && strstr(msg, "species") && strstr(msg, "NUL"), "unterminated species list: %s", msg);
  /* species lists against the database (one species, "ecoli") */
  const char *lists[] = {"", ",,", " ecoli ,", "ecoli,ecoli"};
  for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
    bg_buf_t jb = {0};
    s = bg_species_select(db, lists[i], &jb, NULL, msg, sizeof msg);
    CHECK(s == BG_OK && jb.p && strcmp(jb.p, "[\"ecoli\"]") == 0, "species list '%s' chooses ecoli: %s", lists[i], s == BG_OK ? jb.p : msg);
    bg_buf_free(&jb);
  }
  s = bg_species_select(db, "ecoli,salmonella", NULL, NULL, msg, sizeof msg);
  CHECK(s == BG_ERR_INVALID_ARGUMENT && strstr(msg, "options.species: salmonella is not a PointFinder species of this database (it has ecoli)"), "unknown species named: %s", msg);
  s = bg_species_select(db, "ecol", NULL, NULL, msg, sizeof msg);
  CHECK(s == BG_ERR_INVALID_ARGUMENT && strstr(msg, "ecol is not"), "a prefix is not a species: %s", msg);

  bg_db_free(db);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
  printf("index: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
