/* run.h — the run handle and the per-worker state shared by run.c, quantify.c, mutations.c, report.c. */
#ifndef BG_RUN_H
#define BG_RUN_H

#include <stdatomic.h>
#include <string.h>
#include "internal.h"

/** Interning table entry: a distinct target set in a worker's sets (hash 0 = empty). */
typedef struct bg_set_slot_t { uint64_t hash; uint32_t off, n; } bg_set_slot_t;

/** A fragment's hits in one universe: a set of equally good targets and which mates support it. */
typedef struct bg_unit_t {
  uint64_t seq_off;      /* R1 then R2 bases in the worker's seqs, packed two a byte (bg_worker_unit_bases) */
  uint32_t len1, len2;
  uint32_t set_off;      /* into the worker's sets */
  uint16_t set_n;
  uint8_t kind;          /* BG_KIND_* */
  uint8_t mates;         /* bit 0: R1 supports the set, bit 1: R2; bits 2-3: how alignments are kept */
  uint16_t an1, an2;     /* the mates' alignments (within the slack) found when mapping */
  uint32_t aln_off;      /* into the worker's alns (explicit, or two compact headers); UINT32_MAX: none */
} bg_unit_t;

typedef struct bg_worker_t {
  bg_mapper_t m;
  bg_cuda_ctx_t *cuda;
  uint8_t *seqs; size_t n_seqs, cap_seqs;  /* mapped fragments' bases, 4 bits each: memory grows with them */
  uint8_t *bases; size_t cap_bases;       /* one unit's bases, unpacked */
  bg_unit_t *units; size_t n_units, cap_units;
  uint32_t *sets; size_t n_sets, cap_sets;  /* target sets, each stored once (units share equal sets) */
  bg_set_slot_t *set_tab; size_t set_tab_cap, set_tab_n;
  bg_aln_t *a1, *a2; size_t cap_a1, cap_a2;
  bg_aln_t *alns; size_t n_alns, cap_alns;  /* alignments of every unit, so later passes need not map again */
  uint64_t screened, mapped_pairs;
  int unit_form;  /* -1: choose per unit (see bg_worker_add_unit); else every large unit in this form (tests) */
  size_t explicit_left; /* alignments this worker may still keep explicitly for units the compact form cannot hold */
} bg_worker_t;

void bg_worker_init(bg_worker_t *w, const bg_db_t *db);
void bg_worker_free(bg_worker_t *w);
/** Maps one pair in both universes and records its units. 0 on success, -1 out of memory. */
int bg_worker_map_pair(bg_worker_t *w, const uint8_t *s1, uint32_t l1, const uint8_t *s2, uint32_t l2);
/** A mate's length without adapter read-through (Illumina TruSeq, Nextera; MGI/DNBSEQ): cut at the adapter's first 13
 *  bases, or at a read end holding at least its first BG_ADAPTER_MIN_END bases. Pairs are trimmed so before
 *  they are mapped. */
#define BG_ADAPTER_MIN_END 5
uint32_t bg_adapter_trim(const uint8_t *s, uint32_t len);
/** A mate's length without a two-colour sequencer's poly-G tail: cut where a 3' stretch of at least
 *  BG_POLYG_MIN bases, starting with GG, holds at most one other base in eight. Applied before bg_adapter_trim. */
#define BG_POLYG_MIN 10
uint32_t bg_polyg_trim(const uint8_t *s, uint32_t len);
/**
 * Records a unit: the fragment's bases at seq_off, the sorted-on-the-way target set (n ids), which mates
 * support it, and the mates' alignments, taken from w->a1 (n1) and w->a2 (n2). 0, or -1 out of memory.
 */
int bg_worker_add_unit(bg_worker_t *w, uint64_t seq_off, uint32_t l1, uint32_t l2, uint8_t kind, uint8_t mates,
                       const uint32_t *set, uint32_t n, int n1, int n2);
/** The unit's R1 then R2 bases (A C G T N), unpacked into w->bases until the next call; NULL out of memory. */
const uint8_t *bg_worker_unit_bases(bg_worker_t *w, const bg_unit_t *u);
/**
 * The unit's mates' alignments as found when it was mapped, copied into w->a1 / w->a2; counts via n1/n2.
 * bases: the unit's R1 then R2 bases (bg_worker_unit_bases). 0, or -1 out of memory.
 */
int bg_worker_unit_alns(bg_worker_t *w, const bg_unit_t *u, const uint8_t *bases, int *n1, int *n2);

struct bg_run_t {
  const bg_db_t *db;
  char err[BG_ERRMSG_LEN];
  _Atomic int cancel, busy, stage;
  _Atomic uint64_t pairs_done, bytes_done, bytes_total;
  _Atomic uint64_t fraction_bits;
  bg_status_t last;
  bg_run_options_t opts;
  char backend[16], device[256];
  char fallback[BG_ERRMSG_LEN]; /* auto backend: why the CPU screened some or all batches ("" when it did not) */
  int threads;
  uint64_t read_pairs, bases;
  char *result; size_t result_len;
  uint8_t *skip;         /* per target, 1: a PointFinder species the run did not choose; NULL: all chosen */
};

static inline double bg_run_get_fraction(const bg_run_t *r) {
  uint64_t b = atomic_load(&((bg_run_t *)r)->fraction_bits);
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}
static inline void bg_run_set_fraction(bg_run_t *r, double d) {
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  atomic_store(&r->fraction_bits, b);
}

/** Per-target accumulated evidence of a ResFinder allele. */
typedef struct bg_gene_stat_t {
  uint32_t reads;
  double em_count;
  uint32_t *cnt;          /* len * 5: A C G T deletion */
  uint32_t partner;       /* most abundant allele its fragments also align to, or UINT32_MAX */
  uint32_t *support;      /* len * 5: bases of every fragment aligning within the slack */
  uint32_t unsupported;   /* positions where the allele's own base lacks support in that pileup */
  uint32_t support_covered;   /* positions with bases in support */
  uint32_t class_frags;       /* fragments whose best alleles (EM class) include it */
  uint64_t class_bases;       /* their bases aligned to it */
  double coverage, identity; /* percent, from cnt */
  uint64_t depth_sum;     /* bases in cnt */
  int candidate;          /* passes the identity and coverage thresholds and is no partner's shadow */
  int minor;              /* not a candidate on its own fragments, but maybe a mixture's minor allele */
  uint32_t distinct;      /* fragments whose best alleles include it and not its partner, a mate differing from the
                           * partner within the partner's bases (counted for candidates with a partner and minors) */
} bg_gene_stat_t;

/** An allele's coverage and identity (percent) judged on its support pileup: the positions with bases there, and
 *  of those the share where its own base is supported. */
static inline double bg_support_coverage(const bg_gene_stat_t *g, uint32_t len) { return 100.0 * g->support_covered / len; }
static inline double bg_support_identity(const bg_gene_stat_t *g) {
  return g->support_covered ? 100.0 * (g->support_covered - g->unsupported) / g->support_covered : 0;
}

/** Per-site observations (call key -> reads). */
/** An allele whose fragments all also align to an allele with this many times more fragments is
 *  that allele's sequencing-error shadow, not a call (near-identical alleles side by side). */
#define BG_SHADOW_RATIO 0.02

/** A reference base is supported where at least this many reads, and this fraction of the
 *  fragments aligning there, show it (minority alleles of a mixture stay supported). */
#define BG_SUPPORT_MIN_READS 2
#define BG_SUPPORT_MIN_FRACTION 0.05

/** A mixture's minor allele (a relative a base or two from a called allele, the partner) is judged on the
 *  pileup of every fragment aligning to it when the EM gives it at least this share of its partner's
 *  fragments, and at least BG_MINOR_MIN_DISTINCT fragments fit it better than the partner. */
#define BG_MINOR_MIN_SHARE 0.05
#define BG_MINOR_MIN_DISTINCT 3

#define BG_SITE_KEYS 24
typedef struct bg_site_obs_t {
  uint32_t n;
  char key[BG_SITE_KEYS][BG_SITE_KEY_LEN];
  uint32_t count[BG_SITE_KEYS];
  uint32_t reached;       /* fragments whose alignment reached the gene */
} bg_site_obs_t;

/** Calls mutations at catalogued sites from PointFinder units; obs has db->n_sites entries. Uses the workers'
 *  scratch (mapper, bases, a1/a2) and reads the rest; failures are described in err. */
bg_status_t bg_call_sites(bg_run_t *r, bg_worker_t *ws, int nw, bg_site_obs_t *obs, uint8_t *target_hit, char *err,
                          size_t err_len);
/** Checks a comma-separated PointFinder species list against the database ("" = all). With json, appends
 *  the chosen species as a JSON array; with skip, sets *skip to a per-target array marking the PointFinder
 *  targets of the species not chosen (NULL when every species is). BG_ERR_INVALID_ARGUMENT naming a species
 *  the database lacks. */
bg_status_t bg_species_select(const bg_db_t *db, const char *list, bg_buf_t *json, uint8_t **skip, char *err, size_t n);
/** One equivalence class of fragments for the EM: the targets they all align to, and how many fragments. */
typedef struct bg_em_class_t { const uint32_t *set; uint32_t n; double count; } bg_em_class_t;
/** EM over the classes: theta[t] (n_targets entries) receives target t's share of all fragments, by
 * length-normalised likelihood; zero for targets in no class. cancel may be NULL. BG_OK,
 * BG_ERR_HOST_OOM or BG_ERR_CANCELLED (message in err). */
bg_status_t bg_em(const bg_target_t *targets, uint32_t n_targets, const bg_em_class_t *cls, size_t ncls, double *theta,
                  _Atomic int *cancel, char *err, size_t err_len);
/** Quantifies (EM), calls mutations and builds the result JSON into r->result. */
bg_status_t bg_quantify_and_report(bg_run_t *r, bg_worker_t *ws, int nw, double t0);
/** Writes the result JSON. */
bg_status_t bg_report(bg_run_t *r, const bg_gene_stat_t *gs, const bg_site_obs_t *obs, const uint8_t *target_hit, double t0);

#endif
