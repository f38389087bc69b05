/* mutations.c — PointFinder calls: for every fragment that maps to a catalogued gene, the codon,
 * base or insertion it shows at each catalogued site (one observation per fragment per site). */
#include <stdlib.h>
#include <string.h>

#include "run.h"

typedef struct site_read_t {
  char call[BG_SITE_KEY_LEN]; /* codon / base / inserted bases (amino acids at an AA_INS site) being assembled */
  uint8_t have;        /* bitmask of codon positions seen (AA), 1 = base seen (NUC), 1|2 = the span's ends seen (indels) */
  uint8_t bad;         /* deletion or frameshift inside the site */
  uint8_t ins;         /* an insertion was seen at the site (INS), or the catalogued deletion (DEL) */
  uint8_t done;        /* fixed by an earlier mate */
  int64_t run_start;   /* DEL: the read's current run of deleted target bases */
  uint32_t run_len;
} site_read_t;

typedef struct walk_ctx_t {
  const bg_db_t *db;
  const bg_site_t *sites;   /* the target's sites */
  uint32_t n;
  site_read_t *sr;
  const char *tseq;         /* the target's sequence */
  uint32_t tlen;
  uint32_t cds;             /* index of its first coding base (after a promoter): codons are read from there */
  int32_t *span;            /* indel sites: [2i] and [2i+1], the columns a read must show, base and all, to be
                             * wild type there: beyond every position an equivalent indel could be written */
  int64_t del_start;        /* the walk's current run of deleted target bases (any site's) */
  uint32_t del_len;
} walk_ctx_t;

/* How far from a catalogued insertion's (or deletion's) position an equivalent one is looked for: in a repeat
 * the same inserted (deleted) bases can be written at any position of the run (the aligner puts them leftmost,
 * the catalogue often rightmost, as HGVS does: ampC -13_-12insGT is the reads' -14 insTG) */
#define BG_INDEL_SHIFT 32

/* Whether deleting n bases from target index p gives the same sequence as deleting them from q. */
static int same_deletion(const char *t, uint32_t tlen, int64_t p, int64_t q, uint32_t n) {
  int64_t lo = p < q ? p : q, hi = (p > q ? p : q) + n; /* [lo, hi): past it both are the same */
  if (lo < 0 || hi > (int64_t)tlen) return 0;
  int64_t i = lo, j = lo;
  for (;;) {
    if (i == p) i += n;
    if (j == q) j += n;
    if (i >= hi || j >= hi) return i >= hi && j >= hi;
    if (t[i++] != t[j++]) return 0;
  }
}

/* The length of site s's longest alternative. */
static size_t longest_alt(const bg_db_t *db, const bg_site_t *s) {
  size_t longest = 0;
  for (const char *a = bg_str(db, s->alts); *a;) {
    size_t n = strcspn(a, ",");
    if (n > longest) longest = n;
    if (!a[n]) break;
    a += n + 1;
  }
  return longest;
}

/* The length of site s's longest alternative that has a variant target (db.c, needs_variant: plain bases, longer
 * than the aligner's band, within an observation's key), or 0. M. tuberculosis pncA 369ins lists 18 N, which no
 * read shows: its AG insertion is read as any short one. */
static size_t longest_variant_alt(const bg_db_t *db, const bg_site_t *s) {
  size_t longest = 0;
  for (const char *a = bg_str(db, s->alts); *a;) {
    size_t n = strcspn(a, ","), plain = strspn(a, "ACGT");
    if (plain >= n && n > BG_ALIGN_BAND && n < BG_SITE_KEY_LEN && n > longest) longest = n;
    if (!a[n]) break;
    a += n + 1;
  }
  return longest;
}

/* A DEL site's read saw a run of deleted target bases end: the catalogued deletion (one of the site's deleted
 * sequences, wherever in its repeat the alignment wrote it), or another deletion over the site (bad). */
static void deletion_run_ends(const walk_ctx_t *c, const bg_site_t *s, site_read_t *r) {
  const char *alts = bg_str(c->db, s->alts);
  while (*alts) {
    const char *end = strchr(alts, ',');
    size_t n = end ? (size_t)(end - alts) : strlen(alts);
    if (n == r->run_len && n < sizeof r->call && same_deletion(c->tseq, c->tlen, r->run_start, s->tidx, (uint32_t)n)) {
      memcpy(r->call, alts, n);
      r->call[n] = 0;
      r->ins = 1;
      r->run_len = 0;
      return;
    }
    if (!end) break;
    alts = end + 1;
  }
  size_t site_len = longest_alt(c->db, s); /* the site's span: its longest deleted sequence */
  if (r->run_start < (int64_t)s->tidx + (int64_t)site_len && r->run_start + r->run_len > s->tidx) r->bad = 1;
  r->run_len = 0;
}

/* Bases past a deletion's possible positions that a wild-type read must still show: an alignment that ends
 * within a few bases of a deletion writes mismatches instead of the gap */
#define BG_DEL_ANCHOR 4
/* Bases either side of a long indel (longer than the aligner's band) that a read must show at least, on its variant
 * target (see variant_evidence) */
#define BG_VARIANT_ANCHOR 8

/* The columns a read must show bases at to be wild type at DEL site s (see walk_ctx_t.span). */
static void deletion_span(const walk_ctx_t *c, const bg_site_t *s, int32_t *lo, int32_t *hi) {
  int64_t first = s->tidx, last = s->tidx;
  uint32_t longest = 0;
  for (const char *a = bg_str(c->db, s->alts); *a;) {
    const char *end = strchr(a, ',');
    uint32_t n = (uint32_t)(end ? (size_t)(end - a) : strlen(a));
    if (n > longest) longest = n;
    for (int64_t q = s->tidx - BG_INDEL_SHIFT; q <= (int64_t)s->tidx + BG_INDEL_SHIFT; q++)
      if (q != s->tidx && same_deletion(c->tseq, c->tlen, q, s->tidx, n)) {
        if (q < first) first = q;
        if (q > last) last = q;
      }
    if (!end) break;
    a = end + 1;
  }
  int64_t l = first - 1 - BG_DEL_ANCHOR, h = last + longest + BG_DEL_ANCHOR;
  *lo = (int32_t)(l < 0 ? 0 : l);
  *hi = (int32_t)(h >= (int64_t)c->tlen ? (int64_t)c->tlen - 1 : h);
}

/* Whether inserting x after target index p gives the same sequence as inserting y after q (n bases each). */
static int same_insertion(const char *t, uint32_t tlen, int64_t p, const char *x, int64_t q, const char *y, uint32_t n) {
  int64_t lo = p < q ? p : q, hi = p > q ? p : q;
  if (lo < 0 || hi >= (int64_t)tlen) return 0;
  /* both sequences from t[lo] to t[hi] with their insertion; past t[hi] they are the same */
  char sa[2 * BG_INDEL_SHIFT + 48], sb[sizeof sa];
  size_t span = (size_t)(hi - lo + 1);
  if (span + n > sizeof sa) return 0;
  size_t na = 0, nb = 0;
  for (int64_t i = lo; i <= hi; i++) {
    sa[na++] = t[i];
    if (i == p) { memcpy(sa + na, x, n); na += n; }
    sb[nb++] = t[i];
    if (i == q) { memcpy(sb + nb, y, n); nb += n; }
  }
  return na == nb && memcmp(sa, sb, na) == 0;
}

/* Whether inserting the n bases x after target index p can be written after index q (in a repeat), and then as
 * which bases: into y (n + 1 bytes). */
static int insertion_written_at(const char *t, uint32_t tlen, int64_t p, const uint8_t *x, uint32_t n, int64_t q, char *y) {
  int64_t lo = p < q ? p : q, hi = p > q ? p : q;
  char h[2 * BG_INDEL_SHIFT + 48];
  if (lo < 0 || hi >= (int64_t)tlen || (size_t)(hi - lo + 1) + n > sizeof h) return 0;
  size_t nh = 0;
  for (int64_t i = lo; i <= hi; i++) {
    h[nh++] = t[i];
    if (i == p) { memcpy(h + nh, x, n); nh += n; }
  }
  memcpy(y, h + (q - lo) + 1, n); /* what follows t[q] in the sequence the insertion makes */
  y[n] = 0;
  return same_insertion(t, tlen, p, (const char *)x, q, y, n);
}

/* Whether inserting the n bases x after target index p makes the protein that inserting the amino acids aa (n / 3)
 * after index q makes, q being a codon's last base: the two are compared translated, over the whole codons from
 * the one holding the lower of p and q to the one past the higher, so a duplication written at another copy
 * (ompK36 131insFGGD, a copy of residues 132-135) or with other codons is the same insertion. */
static int same_aa_insertion(const walk_ctx_t *c, int64_t p, const uint8_t *x, uint32_t n, int64_t q, const char *aa, size_t naa) {
  if (n != 3 * naa || p < (int64_t)c->cds) return 0;
  int64_t lo = p < q ? p : q, hi = p > q ? p : q;
  lo = c->cds + (lo - c->cds) / 3 * 3;                /* the codon holding the lower one */
  hi = c->cds + (hi + 1 - c->cds) / 3 * 3 + 3;        /* past the codon holding the base after the higher one */
  if (hi > (int64_t)c->tlen) return 0;
  char a[2 * BG_INDEL_SHIFT + 3 * BG_SITE_KEY_LEN + 12], pa[sizeof a / 3 + 1], pb[sizeof pa];
  size_t na = 0, nb = 0;
  if ((size_t)(hi - lo) + n > sizeof a) return 0;
  for (int64_t i = lo; i < hi; i++) {
    a[na++] = c->tseq[i];
    if (i == p) { memcpy(a + na, x, n); na += n; }
  }
  for (size_t i = 0; i + 3 <= na; i += 3) pa[i / 3] = bg_translate(a + i);
  for (int64_t i = lo; i < hi; i += 3) {
    pb[nb++] = bg_translate(c->tseq + i);
    if (i + 2 == q) { memcpy(pb + nb, aa, naa); nb += naa; }
  }
  return na / 3 == nb && memcmp(pa, pb, nb) == 0;
}

/* Whether inserting the amino acids aa after index q makes the protein that inserting them after index p makes
 * (both a codon's last base; a duplication's copies, ompK36 131insFGGD = 135insFGGD). */
static int same_aa_position(const walk_ctx_t *c, int64_t p, int64_t q, const char *aa, size_t naa) {
  int64_t lo = (p < q ? p : q) - 2, hi = (p > q ? p : q) + 4; /* the codons from the lower one's to the higher's next */
  if (lo < (int64_t)c->cds || hi > (int64_t)c->tlen) return 0;
  char pa[2 * BG_INDEL_SHIFT + BG_SITE_KEY_LEN + 4], pb[sizeof pa];
  size_t na = 0, nb = 0;
  if ((size_t)(hi - lo) / 3 + naa > sizeof pa) return 0;
  for (int64_t i = lo; i < hi; i += 3) {
    pa[na++] = bg_translate(c->tseq + i);
    pb[nb++] = pa[na - 1];
    if (i + 2 == p) { memcpy(pa + na, aa, naa); na += naa; }
    if (i + 2 == q) { memcpy(pb + nb, aa, naa); nb += naa; }
  }
  return memcmp(pa, pb, na) == 0;
}

/* The columns a read must show bases at to be wild type at INS or AA_INS site s: BG_DEL_ANCHOR past everywhere
 * within BG_INDEL_SHIFT that a catalogued insertion could be written. A read that ends inside a duplication
 * (ompK36 131insFGGD, 12 bases) shows no insertion whether or not it carries one. */
static void insertion_span(const walk_ctx_t *c, const bg_site_t *s, int32_t *lo, int32_t *hi) {
  int64_t first = s->tidx, last = s->tidx;
  for (const char *a = bg_str(c->db, s->alts); *a;) {
    const char *end = strchr(a, ',');
    uint32_t n = (uint32_t)(end ? (size_t)(end - a) : strlen(a));
    char y[BG_SITE_KEY_LEN];
    if (s->type == BG_MUT_AA_INS) {
      for (int64_t q = s->tidx - BG_INDEL_SHIFT / 3 * 3; q <= (int64_t)s->tidx + BG_INDEL_SHIFT / 3 * 3; q += 3)
        if (q != s->tidx && same_aa_position(c, s->tidx, q, a, n)) {
          if (q < first) first = q;
          if (q > last) last = q;
        }
    } else if (n < sizeof y) {
      for (int64_t q = s->tidx - BG_INDEL_SHIFT; q <= (int64_t)s->tidx + BG_INDEL_SHIFT; q++)
        if (q != s->tidx && insertion_written_at(c->tseq, c->tlen, s->tidx, (const uint8_t *)a, n, q, y)) {
          if (q < first) first = q;
          if (q > last) last = q;
        }
    }
    if (!end) break;
    a = end + 1;
  }
  int64_t l = first - BG_DEL_ANCHOR, h = last + 1 + BG_DEL_ANCHOR;
  /* A long insertion's reads show it on its variant target, over its bases and BG_VARIANT_ANCHOR either side
   * (variant_evidence): a wild-type read must show as many columns about the site, or the site's frequency would
   * count the wild type's reads more readily than the mutant's (40 % of katG 1560ins64 came out as 25 %). */
  size_t longest = s->type == BG_MUT_INS ? longest_variant_alt(c->db, s) : 0;
  if (longest) {
    int64_t w = (int64_t)longest + 2 * BG_VARIANT_ANCHOR, from = (int64_t)s->tidx + 1 - w / 2;
    if (from < l) l = from;
    if (from + w - 1 > h) h = from + w - 1;
  }
  *lo = (int32_t)(l < 0 ? 0 : l);
  *hi = (int32_t)(h >= (int64_t)c->tlen ? (int64_t)c->tlen - 1 : h);
}

/* Whether inserting `ins` after tpos is one of site s's catalogued insertions (bases, or amino acids at an AA_INS
 * site): then that one into out. */
static int equivalent_alt(const walk_ctx_t *c, const bg_site_t *s, uint32_t tpos, const uint8_t *ins, uint32_t ins_len,
                          char *out, size_t out_len) {
  const char *alts = bg_str(c->db, s->alts);
  while (*alts) {
    const char *end = strchr(alts, ',');
    size_t n = end ? (size_t)(end - alts) : strlen(alts);
    if (n < out_len && (s->type == BG_MUT_AA_INS
                            ? same_aa_insertion(c, tpos, ins, ins_len, s->tidx, alts, n)
                            : n == ins_len && same_insertion(c->tseq, c->tlen, tpos, (const char *)ins, s->tidx, alts, (uint32_t)n))) {
      memcpy(out, alts, n);
      out[n] = 0;
      return 1;
    }
    if (!end) break;
    alts = end + 1;
  }
  return 0;
}

/* Whether inserting `ins` after tpos is a catalogued insertion of one of the target's other sites. */
static int other_site_insertion(const walk_ctx_t *c, uint32_t self, uint32_t tpos, const uint8_t *ins, uint32_t ins_len) {
  char tmp[BG_SITE_KEY_LEN];
  for (uint32_t j = 0; j < c->n; j++)
    if (j != self && (c->sites[j].type == BG_MUT_INS || c->sites[j].type == BG_MUT_AA_INS) && c->sites[j].tidx >= 0 &&
        (int64_t)tpos - c->sites[j].tidx >= -BG_INDEL_SHIFT && (int64_t)tpos - c->sites[j].tidx <= BG_INDEL_SHIFT &&
        equivalent_alt(c, &c->sites[j], tpos, ins, ins_len, tmp, sizeof tmp))
      return 1;
  return 0;
}

/* A read's indel that an equally good alignment could write inside a codon (AA) or over a base (NUC) site leaves
 * that site unread: the bases the alignment put in its columns are one choice among several. A deletion of
 * target bases [p, p + n) can be written anywhere in the run its bases repeat in; an insertion after p anywhere
 * insertion_written_at allows. Without this, pncA 172delT (a frameshift) also gave F58L and F58S, and rpoB
 * 1294delCAATTC (in frame) Q432L. */
static void indel_unreads_sites(walk_ctx_t *c, int64_t p, uint32_t n, const uint8_t *ins) {
  int64_t lo, hi; /* the target columns an equivalent indel may touch: [lo, hi] */
  if (!ins) {
    lo = p;
    hi = p + n - 1;
    while (lo > 0 && hi > 0 && c->tseq[lo - 1] == c->tseq[hi]) { lo--; hi--; }       /* leftmost */
    int64_t l2 = p, h2 = p + n - 1;
    while (h2 + 1 < (int64_t)c->tlen && c->tseq[l2] == c->tseq[h2 + 1]) { l2++; h2++; } /* rightmost */
    hi = h2;
  } else {
    char y[BG_SITE_KEY_LEN];
    lo = hi = p;
    for (int64_t q = p - BG_INDEL_SHIFT; n < sizeof y && q <= p + BG_INDEL_SHIFT; q++)
      if (q != p && insertion_written_at(c->tseq, c->tlen, p, ins, n, q, y)) {
        if (q < lo) lo = q;
        if (q > hi) hi = q;
      }
    hi++; /* an insertion after q sits between columns q and q + 1 */
  }
  for (uint32_t i = 0; i < c->n; i++) {
    const bg_site_t *s = &c->sites[i];
    if (c->sr[i].done || s->tidx < 0 || (s->type != BG_MUT_AA && s->type != BG_MUT_NUC)) continue;
    int64_t first = s->tidx, last = s->tidx + (s->type == BG_MUT_AA ? 2 : 0);
    /* a deletion touching the site's columns, or an insertion between two of them or at their edges */
    if (lo <= last && hi >= first) c->sr[i].bad = 1;
  }
}

/* How far from an alignment's end a codon or base site is checked for the shifted bases of an indel the alignment
 * did not make (see unread_near_ends). */
#define BG_SITE_END_WINDOW 30
/* ... and how many bases beyond it, on both sides, a read must align to read it at all: a read that starts inside
 * an indel's shadow shows the shifted bases at the site itself (embB 983delA gave D328V and D328G) */
#define BG_SITE_END_MIN 3

/* A mate's alignment as a walk gives it: its first and last target columns, and its columns that differ from the
 * gene (a mismatch, a deleted base, the column before an insertion), the first 64. */
typedef struct aln_ends_t {
  const char *t;
  int64_t first, last;
  int64_t diff[64];
  uint32_t n;
} aln_ends_t;

static void ends_col(void *vctx, uint32_t tpos, uint8_t rb, const uint8_t *ins, uint32_t ins_len) {
  aln_ends_t *e = vctx;
  (void)ins;
  if (e->first < 0) e->first = tpos;
  e->last = tpos;
  if ((ins_len || rb == '-' || rb != (uint8_t)e->t[tpos] || rb == 'N') && e->n < sizeof e->diff / sizeof e->diff[0])
    e->diff[e->n++] = tpos;
}

/* A read that ends a little past an indel, aligned without the gap, shows the shifted bases after it as
 * mismatches (pncA 172delT: the few reads ending within a few bases of it gave F58L and F58S, at 2-4 reads of
 * 4-6 where the reads spanning it are unread). A codon or base site is unread when fewer than BG_SITE_END_MIN
 * aligned bases lie beyond it on either side, or d bases from an end (d < BG_SITE_END_WINDOW) when the read differs from the gene at 1 + d / 10 or more columns between
 * the site and that end: one within 10 bases, three within 20-29, which sequencing errors seldom give and a
 * shifted stretch nearly always does. The rule looks past the site, not at it, so it takes depth from
 * wild-type and mutant reads alike. */
static void unread_near_ends(walk_ctx_t *c, bg_worker_t *w, const uint8_t *seq, uint32_t len, const bg_aln_t *a) {
  int near = 0;
  int64_t lo = (int64_t)a->diag - BG_ALIGN_BAND, hi = (int64_t)a->diag + len + BG_ALIGN_BAND;
  for (uint32_t i = 0; i < c->n && !near; i++) {
    const bg_site_t *s = &c->sites[i];
    if (c->sr[i].done || s->tidx < 0 || (s->type != BG_MUT_AA && s->type != BG_MUT_NUC)) continue;
    near = s->tidx - lo < BG_SITE_END_WINDOW + BG_ALIGN_BAND + 3 || hi - s->tidx < BG_SITE_END_WINDOW + BG_ALIGN_BAND + 3;
  }
  if (!near) return; /* every site far from both possible ends: the common case, no walk */
  aln_ends_t e = {c->tseq, -1, -1, {0}, 0};
  bg_align_walk(&w->m, seq, len, a, ends_col, &e);
  if (e.first < 0) return;
  for (uint32_t i = 0; i < c->n; i++) {
    const bg_site_t *s = &c->sites[i];
    if (c->sr[i].done || s->tidx < 0 || (s->type != BG_MUT_AA && s->type != BG_MUT_NUC)) continue;
    int64_t first = s->tidx, last = s->tidx + (s->type == BG_MUT_AA ? 2 : 0);
    /* bases between the site and each end of the read's alignment; an end that is the gene's own is no read's end
     * (ramR *195K: the stop codon ends the gene) */
    int64_t dl = e.first > 0 ? first - e.first : INT64_MAX, dr = e.last + 1 < (int64_t)c->tlen ? e.last - last : INT64_MAX;
    uint32_t nl = 0, nr = 0;
    for (uint32_t k = 0; k < e.n; k++) {
      nl += e.diff[k] < first;
      nr += e.diff[k] > last;
    }
    if (dl < BG_SITE_END_MIN || dr < BG_SITE_END_MIN || (dl < BG_SITE_END_WINDOW && nl >= 1 + dl / 10) ||
        (dr < BG_SITE_END_WINDOW && nr >= 1 + dr / 10))
      c->sr[i].bad = 1;
  }
}

static void site_col(void *vctx, uint32_t tpos, uint8_t rb, const uint8_t *ins, uint32_t ins_len) {
  walk_ctx_t *c = vctx;
  if (rb == '-' && !ins_len) {
    if (c->del_len && (int64_t)tpos == c->del_start + c->del_len) c->del_len++;
    else {
      if (c->del_len) indel_unreads_sites(c, c->del_start, c->del_len, NULL);
      c->del_start = tpos;
      c->del_len = 1;
    }
  } else {
    if (c->del_len) indel_unreads_sites(c, c->del_start, c->del_len, NULL);
    c->del_len = 0;
    if (ins_len) indel_unreads_sites(c, tpos, ins_len, ins);
  }
  for (uint32_t i = 0; i < c->n; i++) {
    const bg_site_t *s = &c->sites[i];
    site_read_t *r = &c->sr[i];
    if (r->done || s->tidx < 0) continue;
    int64_t d = (int64_t)tpos - s->tidx;
    if (s->type == BG_MUT_AA) {
      if (d < 0 || d > 2) continue;
      if (ins_len) { if (d < 2) r->bad = 1; continue; }
      if (rb == '-') r->bad = 1;
      r->call[d] = (char)rb;
      r->have |= (uint8_t)(1u << d);
    } else if (s->type == BG_MUT_NUC) {
      if (d != 0 || ins_len) continue;
      if (rb == '-') r->bad = 1;
      r->call[0] = (char)rb;
      r->have = 1;
    } else if (s->type == BG_MUT_DEL) {
      if ((int64_t)tpos < c->span[2 * i] || (int64_t)tpos > c->span[2 * i + 1] + 12) continue;
      if (rb == '-') {
        if (r->run_len && tpos == r->run_start + r->run_len) r->run_len++;
        else { r->run_start = tpos; r->run_len = 1; }
        continue;
      }
      if (r->run_len) deletion_run_ends(c, s, r);
      if (ins_len && d >= -1 && d < 1) r->bad = 1; /* an insertion at the site: not what the catalogue lists */
      /* wild type needs bases on both sides of everywhere the deletion could be written, and some beyond */
      if ((int64_t)tpos == c->span[2 * i]) r->have |= 1;
      else if ((int64_t)tpos == c->span[2 * i + 1]) r->have |= 2;
    } else {
      if (ins_len && d >= -BG_INDEL_SHIFT && d <= BG_INDEL_SHIFT &&
          equivalent_alt(c, s, tpos, ins, ins_len, r->call, sizeof r->call)) {
        r->ins = 1; /* the catalogued insertion, wherever in its repeat the alignment wrote it */
      } else if (ins_len && d >= -BG_INDEL_SHIFT && d <= BG_INDEL_SHIFT && other_site_insertion(c, i, tpos, ins, ins_len)) {
        /* another catalogued insertion that the alignment happens to write here: not this site's */
      } else if (ins_len && d >= -BG_INDEL_SHIFT && d <= BG_INDEL_SHIFT && ins_len < sizeof r->call &&
                 (d == 0 || insertion_written_at(c->tseq, c->tlen, tpos, ins, ins_len, s->tidx, r->call))) {
        /* another insertion at the site, wherever in a repeat the alignment wrote it: its bases as written at the
         * site (lower case at an amino-acid site) */
        if (d == 0) memcpy(r->call, ins, ins_len);
        r->call[ins_len] = 0;
        if (s->type == BG_MUT_AA_INS) for (uint32_t k = 0; k < ins_len; k++) r->call[k] = (char)(r->call[k] | 0x20);
        r->ins = 1;
      } else if (d == 0 && ins_len) { /* a longer one: its first bases */
        memcpy(r->call, ins, sizeof r->call - 1);
        r->call[sizeof r->call - 1] = 0;
        if (s->type == BG_MUT_AA_INS) for (size_t k = 0; k + 1 < sizeof r->call; k++) r->call[k] = (char)(r->call[k] | 0x20);
        r->ins = 1;
      } else if (!ins_len && (int64_t)tpos >= c->span[2 * i] && (int64_t)tpos <= c->span[2 * i + 1]) {
        /* no insertion: wild type once bases show at both ends of the span, with no deletion between */
        if (rb == '-') r->bad = 1;
        if ((int64_t)tpos == c->span[2 * i]) r->have |= 1;
        if ((int64_t)tpos == c->span[2 * i + 1]) r->have |= 2;
      }
    }
  }
}

static void observe(bg_site_obs_t *o, const char *key) {
  for (uint32_t i = 0; i < o->n; i++)
    if (strcmp(o->key[i], key) == 0) { o->count[i]++; return; }
  if (o->n < BG_SITE_KEYS) {
    snprintf(o->key[o->n], sizeof o->key[o->n], "%s", key);
    o->count[o->n++] = 1;
  } else {
    /* rare: more distinct calls than slots; fold into the last slot as "other" */
    snprintf(o->key[BG_SITE_KEYS - 1], sizeof o->key[0], "?");
    o->count[BG_SITE_KEYS - 1]++;
  }
}

/* Turns one mate's per-site evidence into observations. */
static void flush(walk_ctx_t *c, bg_site_obs_t *obs, uint32_t first) {
  for (uint32_t i = 0; i < c->n; i++) {
    site_read_t *r = &c->sr[i];
    const bg_site_t *s = &c->sites[i];
    if (r->done || r->bad) continue;
    if (s->type == BG_MUT_AA && r->have == 7) {
      char codon[4] = {r->call[0], r->call[1], r->call[2], 0};
      if (strchr(codon, 'N')) continue;
      observe(&obs[first + i], codon);
      r->done = 1;
    } else if (s->type == BG_MUT_NUC && r->have == 1) {
      if (r->call[0] == 'N') continue;
      char b[2] = {r->call[0], 0};
      observe(&obs[first + i], b);
      r->done = 1;
    } else if ((s->type == BG_MUT_INS || s->type == BG_MUT_DEL || s->type == BG_MUT_AA_INS) && (r->ins || r->have == 3)) {
      observe(&obs[first + i], r->ins ? r->call : "");
      r->done = 1;
    }
  }
  /* what one mate left incomplete is not combined with the other mate's partial view */
  for (uint32_t i = 0; i < c->n; i++) if (!c->sr[i].done) memset(&c->sr[i], 0, sizeof c->sr[i]);
}

/* The target positions site_col looks at (a codon's three, a base, an insertion's two flanks, a deletion's
 * span), into cols (3 per site at most); returns how many, and fills c->span for DEL sites. An ungapped
 * alignment is read at these alone (bg_align_walk_at). */
static uint32_t site_columns(walk_ctx_t *c, uint32_t *cols) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < c->n; i++) {
    const bg_site_t *s = &c->sites[i];
    if (s->tidx < 0) continue;
    if (s->type == BG_MUT_DEL || s->type == BG_MUT_INS || s->type == BG_MUT_AA_INS) {
      /* an ungapped read has no indel: the two ends of the site's span */
      if (s->type == BG_MUT_DEL) deletion_span(c, s, &c->span[2 * i], &c->span[2 * i + 1]);
      else insertion_span(c, s, &c->span[2 * i], &c->span[2 * i + 1]);
      cols[n++] = (uint32_t)c->span[2 * i];
      cols[n++] = (uint32_t)c->span[2 * i + 1];
      continue;
    }
    uint32_t span = s->type == BG_MUT_AA ? 3 : 1;
    for (uint32_t d = 0; d < span; d++) cols[n++] = (uint32_t)s->tidx + d;
  }
  return n;
}

/* Whether an alignment of a read of `len` bases can reach any of the target's sites (a site spans at most
 * its position and the two after it; a gapped alignment stays within the band). Most fragments of a
 * catalogued gene cover none of its few sites and are not walked. */
static int reaches_site(const walk_ctx_t *c, const bg_aln_t *a, uint32_t len) {
  int64_t lo = (int64_t)a->diag - BG_ALIGN_BAND - 1, hi = (int64_t)a->diag + len + BG_ALIGN_BAND + 1;
  for (uint32_t i = 0; i < c->n; i++) {
    uint32_t type = c->sites[i].type;
    /* an indel site's evidence spans up to BG_INDEL_SHIFT either side, its anchors, and the columns after a deletion */
    int64_t margin = type == BG_MUT_DEL || type == BG_MUT_INS || type == BG_MUT_AA_INS ? BG_INDEL_SHIFT + BG_DEL_ANCHOR + 13 : 0;
    if (c->sites[i].tidx >= 0 && (int64_t)c->sites[i].tidx + 3 + margin > lo && (int64_t)c->sites[i].tidx - margin < hi) return 1;
  }
  return 0;
}

/* Whether an alignment's identity over its columns (gaps' columns as differences) reaches min_identity. */
static int close_enough(const bg_aln_t *a, double min_identity) {
  return a->alen && (double)(a->alen - a->mism) * 100.0 + 1e-9 >= min_identity * (double)a->alen;
}

/* A gapped alignment's columns as a walk gives them: matches, mismatches and gaps (an insertion, or a run of
 * deleted columns, is one). */
typedef struct gap_count_t { const char *t; uint32_t matches, mism, gaps; int in_del; } gap_count_t;

static void count_col(void *vctx, uint32_t tpos, uint8_t rb, const uint8_t *ins, uint32_t ins_len) {
  gap_count_t *g = vctx;
  if (ins_len) { g->gaps++; g->in_del = 0; return; } /* inserted bases after column tpos */
  if (rb == '-') { g->gaps += !g->in_del; g->in_del = 1; return; }
  g->in_del = 0;
  if (rb == (uint8_t)g->t[tpos] && rb != 'N') g->matches++;
  else g->mism++;
}

/* Whether a mate's alignment is close enough to its gene to be evidence at the gene's sites: its identity, or for
 * a gapped alignment its identity with each gap counted as one difference. A catalogued insertion is not a
 * homologue's difference: a read that carries ompK36 184insGAL (9 bases) is 94 % identical column by column. */
static int mate_close(bg_worker_t *w, const bg_aln_t *a, const uint8_t *seq, uint32_t len, double min_identity) {
  if (close_enough(a, min_identity)) return 1;
  if (!a->gapped) return 0;
  const bg_target_t *tg = &w->m.db->targets[a->target];
  gap_count_t g = {bg_tseq(w->m.db, tg), 0, 0, 0, 0};
  bg_align_walk(&w->m, seq, len, a, count_col, &g);
  uint32_t cols = g.matches + g.mism + g.gaps;
  return cols && (double)g.matches * 100.0 + 1e-9 >= min_identity * (double)cols;
}

/* Whether one of the unit's mates (bases s1 and s2, of len1 and len2) aligns to target t closely enough. */
static int unit_close(bg_worker_t *w, int n1, int n2, uint32_t t, double min_identity, const uint8_t *s1, uint32_t len1,
                      const uint8_t *s2, uint32_t len2) {
  for (int k = 0; k < n1 + n2; k++) {
    const bg_aln_t *a = k < n1 ? &w->a1[k] : &w->a2[k - n1];
    if (a->target == t && mate_close(w, a, k < n1 ? s1 : s2, k < n1 ? len1 : len2, min_identity)) return 1;
  }
  return 0;
}

/* The columns of a variant target's window [lo, hi) that a mate's alignment shows. */
typedef struct window_t { const char *t; int64_t lo, hi, first, last; uint32_t mism, gaps; } window_t;

static void window_col(void *vctx, uint32_t tpos, uint8_t rb, const uint8_t *ins, uint32_t ins_len) {
  window_t *w = vctx;
  (void)ins;
  if (ins_len) { w->gaps += (int64_t)tpos >= w->lo && (int64_t)tpos + 1 < w->hi; return; } /* read bases after tpos */
  if ((int64_t)tpos < w->lo || (int64_t)tpos >= w->hi) return;
  if (rb == '-') { w->gaps++; return; }
  if (w->first < 0) w->first = tpos;
  w->last = tpos;
  w->mism += rb != (uint8_t)w->t[tpos];
}

/*
 * Whether a fragment shows the long indel `alt` of variant target t (db.c, needs_variant): a mate's alignment to
 * t, close enough, shows a window of columns about the indel (below) with no gap there and at most one mismatch in
 * 16 columns (sequencing errors). Only where the fragment's targets leave out the variant's gene: a read that fits
 * both as well does not reach past the indel.
 */
static int variant_evidence(bg_worker_t *w, const bg_db_t *db, uint32_t t, const char *alt, const uint32_t *set, uint32_t n,
                            int n1, int n2, const uint8_t *s1, uint32_t len1, const uint8_t *s2, uint32_t len2, double min_id) {
  const bg_target_t *tg = &db->targets[t];
  const bg_site_t *site = &db->sites[tg->variant_site - 1];
  for (uint32_t k = 0; k < n; k++) if (set[k] == site->target) return 0;
  /* the window: as many columns as a wild-type read must show at the site on the gene (deletion_span,
   * insertion_span), so that both are read as readily; a deletion's centred on its junction, an insertion's
   * holding its bases and at least BG_VARIANT_ANCHOR either side */
  const bg_target_t *g = &db->targets[site->target];
  walk_ctx_t gc = {.db = db, .tseq = bg_tseq(db, g), .tlen = g->len, .cds = (uint32_t)g->promoter_len};
  int32_t glo, ghi;
  if (site->type == BG_MUT_DEL) deletion_span(&gc, site, &glo, &ghi);
  else insertion_span(&gc, site, &glo, &ghi);
  int64_t width = (int64_t)ghi - glo + 1, len = (int64_t)strlen(alt), lo;
  if (site->type == BG_MUT_DEL) lo = (int64_t)site->tidx - width / 2;
  else {
    if (width < len + 2 * BG_VARIANT_ANCHOR) width = len + 2 * BG_VARIANT_ANCHOR;
    lo = (int64_t)site->tidx + 1 - (width - len) / 2;
  }
  if (width < 2 * BG_VARIANT_ANCHOR) width = 2 * BG_VARIANT_ANCHOR;
  int64_t hi = lo + width;
  if (lo < 0) lo = 0;
  if (hi > (int64_t)tg->len) hi = tg->len;
  for (int k = 0; k < n1 + n2; k++) {
    const bg_aln_t *a = k < n1 ? &w->a1[k] : &w->a2[k - n1];
    const uint8_t *s = k < n1 ? s1 : s2;
    uint32_t len = k < n1 ? len1 : len2;
    if (a->target != t || !mate_close(w, a, s, len, min_id)) continue;
    window_t win = {bg_tseq(db, tg), lo, hi, -1, -1, 0, 0};
    bg_align_walk(&w->m, s, len, a, window_col, &win);
    if (win.first == lo && win.last == hi - 1 && !win.gaps && win.mism * 16 <= (uint64_t)(hi - lo)) return 1;
  }
  return 0;
}

/* The database's PointFinder species, numbered in the order they first appear: each target's number in
 * sp (ResFinder targets: 0, unused) and a target of each species in first. Both NULL when out of memory. */
typedef struct species_t { uint32_t *sp, *first, n; } species_t;

static species_t species_of(const bg_db_t *db) {
  species_t s = {calloc(db->n_targets ? db->n_targets : 1, sizeof *s.sp), calloc(db->n_targets ? db->n_targets : 1, sizeof *s.first), 0};
  if (!s.sp || !s.first) { free(s.sp); free(s.first); return (species_t){NULL, NULL, 0}; }
  for (uint32_t t = 0; t < db->n_targets; t++) {
    if (db->targets[t].kind != BG_KIND_POINTFINDER) continue;
    const char *name = bg_str(db, db->targets[t].species);
    uint32_t i = 0;
    while (i < s.n && strcmp(bg_str(db, db->targets[s.first[i]].species), name) != 0) i++;
    if (i == s.n) s.first[s.n++] = t;
    s.sp[t] = i;
  }
  return s;
}

/* Marks in sel (s->n entries) the species named in list (comma-separated; "" or only commas: all). */
static bg_status_t select_species(const bg_db_t *db, const species_t *s, const char *list, uint8_t *sel, char *err, size_t n) {
  int any = 0;
  memset(sel, 0, s->n ? s->n : 1);
  for (const char *p = list; *p;) {
    while (*p == ',' || *p == ' ') p++;
    size_t len = strcspn(p, ",");
    while (len && p[len - 1] == ' ') len--;
    if (!len) { p += strcspn(p, ","); continue; }
    uint32_t i = 0;
    while (i < s->n && !(strlen(bg_str(db, db->targets[s->first[i]].species)) == len &&
                         memcmp(bg_str(db, db->targets[s->first[i]].species), p, len) == 0)) i++;
    if (i == s->n) {
      char have[400] = "";
      size_t h = 0;
      for (uint32_t k = 0; k < s->n && h < sizeof have; k++)
        h += (size_t)snprintf(have + h, sizeof have - h, "%s%s", k ? ", " : "", bg_str(db, db->targets[s->first[k]].species));
      return bg_fail(err, n, BG_ERR_INVALID_ARGUMENT, "options.species: %.*s is not a PointFinder species of this database (%s%s)",
                     (int)(len > 100 ? 100 : len), p, s->n ? "it has " : "it has none", have);
    }
    sel[i] = 1;
    any = 1;
    p += strcspn(p, ",");
  }
  if (!any) memset(sel, 1, s->n ? s->n : 1);
  return BG_OK;
}

bg_status_t bg_species_select(const bg_db_t *db, const char *list, bg_buf_t *json, uint8_t **skip, char *err, size_t n) {
  species_t s = species_of(db);
  uint8_t *sel = malloc(s.n ? s.n : 1);
  if (!s.sp || !sel) { free(s.sp); free(s.first); free(sel); return bg_fail(err, n, BG_ERR_HOST_OOM, "Out of memory choosing species"); }
  bg_status_t st = select_species(db, &s, list, sel, err, n);
  int all = 1;
  for (uint32_t i = 0; i < s.n; i++) all &= sel[i];
  if (st == BG_OK && json) {
    bg_buf_puts(json, "[");
    for (uint32_t i = 0, first = 1; i < s.n; i++)
      if (sel[i]) {
        if (!first) bg_buf_puts(json, ",");
        first = 0;
        bg_buf_json_str(json, bg_str(db, db->targets[s.first[i]].species));
      }
    bg_buf_puts(json, "]");
  }
  if (st == BG_OK && skip) {
    *skip = NULL;
    if (!all && !(*skip = calloc(db->n_targets, 1))) st = bg_fail(err, n, BG_ERR_HOST_OOM, "Out of memory choosing species");
    else if (!all)
      for (uint32_t t = 0; t < db->n_targets; t++) (*skip)[t] = db->targets[t].kind == BG_KIND_POINTFINDER && !sel[s.sp[t]];
  }
  free(s.sp); free(s.first); free(sel);
  return st;
}

/*
 * Calls the catalogued sites. A fragment's equally good PointFinder targets can belong to several species
 * when the database holds more than one (gyrA reads identical to E. coli's and to K. pneumoniae's gyrA over
 * their length; 16S rRNA): such a fragment counts only for the species with the most fragments of its own,
 * i.e. fragments whose targets are all that species' and that align closely enough. And a mate counts at a
 * gene's sites only when it aligns to the gene at >= min_point_identity: a homologue from another species
 * (E. coli ompC reads on K. pneumoniae ompK36, 82-89 % identity) is not evidence about that gene.
 */
bg_status_t bg_call_sites(bg_run_t *r, bg_worker_t *ws, int nw, bg_site_obs_t *obs, uint8_t *target_hit, char *err,
                          size_t err_len) {
  const bg_db_t *db = r->db;
  const double min_id = r->opts.min_point_identity;
  uint32_t max_sites = 0;
  for (uint32_t t = 0; t < db->n_targets; t++) if (db->targets[t].n_sites > max_sites) max_sites = db->targets[t].n_sites;
  site_read_t *sr = calloc(max_sites ? max_sites : 1, sizeof *sr);
  uint32_t *cols = calloc(max_sites ? 3 * (size_t)max_sites : 1, sizeof *cols);
  int32_t *span = calloc(max_sites ? 2 * (size_t)max_sites : 1, sizeof *span);
  species_t sp = species_of(db);
  uint64_t *weight = calloc(sp.n ? sp.n : 1, sizeof *weight);
  bg_status_t st = BG_OK;
  if (!sr || !cols || !span || !sp.sp || !weight) { st = bg_fail(err, err_len, BG_ERR_HOST_OOM, "Out of memory calling mutations"); goto out; }
  /* the species' own fragments are counted (pass 0) only when some fragment has targets of several species */
  int any_mixed = 0;
  for (int wi = 0; wi < nw && !any_mixed; wi++)
    for (size_t ui = 0; ui < ws[wi].n_units && !any_mixed; ui++) {
      const bg_unit_t *u = &ws[wi].units[ui];
      for (uint32_t k = 1; u->kind == BG_KIND_POINTFINDER && k < u->set_n; k++)
        any_mixed |= sp.sp[ws[wi].sets[u->set_off + k]] != sp.sp[ws[wi].sets[u->set_off]];
    }
  for (int pass = any_mixed ? 0 : 1; pass < 2; pass++) /* 0: each species' own fragments; 1: the sites */
    for (int wi = 0; wi < nw; wi++) {
      bg_worker_t *w = &ws[wi];
      for (size_t ui = 0; ui < w->n_units; ui++) {
        const bg_unit_t *u = &w->units[ui];
        if (u->kind != BG_KIND_POINTFINDER) continue;
        if ((ui & 1023) == 0 && atomic_load(&r->cancel)) { st = bg_fail(err, err_len, BG_ERR_CANCELLED, "The analysis was cancelled"); goto out; }
        const uint32_t *set = w->sets + u->set_off, n = u->set_n;
        int mixed = 0;
        for (uint32_t k = 1; k < n; k++) mixed |= sp.sp[set[k]] != sp.sp[set[0]];
        if (pass == 0 && mixed) continue;
        int n1, n2;
        const uint8_t *s1 = bg_worker_unit_bases(w, u);
        if (!s1 || bg_worker_unit_alns(w, u, s1, &n1, &n2) != 0) { st = bg_fail(err, err_len, BG_ERR_HOST_OOM, "Out of memory calling mutations"); goto out; }
        if (pass == 0) {
          for (uint32_t k = 0; k < n; k++)
            if (unit_close(w, n1, n2, set[k], min_id, s1, u->len1, s1 + u->len1, u->len2)) { weight[sp.sp[set[0]]]++; break; }
          continue;
        }
        uint64_t best = 0;
        if (mixed) for (uint32_t k = 0; k < n; k++) if (weight[sp.sp[set[k]]] > best) best = weight[sp.sp[set[k]]];
        const uint8_t *s2 = s1 + u->len1;
        for (uint32_t k = 0; k < n; k++) {
          uint32_t t = set[k];
          if (mixed && weight[sp.sp[t]] != best) continue; /* another species has more fragments of its own */
          const bg_target_t *tg = &db->targets[t];
          if (!unit_close(w, n1, n2, t, min_id, s1, u->len1, s2, u->len2)) continue;
          target_hit[t] = 1;
          if (tg->variant_site) { /* the long indel of one of the gene's sites */
            char alt[BG_SITE_KEY_LEN];
            if (bg_site_alt(db, &db->sites[tg->variant_site - 1], tg->variant_alt, alt) &&
                variant_evidence(w, db, t, alt, set, n, n1, n2, s1, u->len1, s2, u->len2, min_id))
              observe(&obs[tg->variant_site - 1], alt);
            continue;
          }
          if (!tg->n_sites) continue;
          memset(sr, 0, tg->n_sites * sizeof *sr);
          walk_ctx_t c = {db, db->sites + tg->first_site, tg->n_sites, sr, bg_tseq(db, tg), tg->len, tg->promoter_len, span, 0, 0};
          uint32_t ncols = site_columns(&c, cols);
          for (int m = 0; m < 2; m++) { /* each mate's alignment to t, when close enough and it can reach a site */
            const bg_aln_t *as = m ? w->a2 : w->a1;
            const uint8_t *s = m ? s2 : s1;
            uint32_t len = m ? u->len2 : u->len1;
            for (int a = 0; a < (m ? n2 : n1); a++)
              if (as[a].target == t) {
                if (reaches_site(&c, &as[a], len) && mate_close(w, &as[a], s, len, min_id)) {
                  c.del_len = 0;
                  bg_align_walk_at(&w->m, s, len, &as[a], cols, ncols, site_col, &c);
                  if (c.del_len) indel_unreads_sites(&c, c.del_start, c.del_len, NULL);
                  unread_near_ends(&c, w, s, len, &as[a]);
                  flush(&c, obs, tg->first_site);
                }
                break;
              }
          }
        }
      }
    }
out:
  free(sr); free(cols); free(span); free(sp.sp); free(sp.first); free(weight);
  return st;
}
