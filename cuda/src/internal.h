/*
 * internal.h — private declarations shared by the pipeline stages of libbiogpu.
 * Nothing here is part of the ABI.
 */
#ifndef BG_INTERNAL_H
#define BG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "biogpu.h"

#define BG_K 21                          /* k-mer length of the index and the screen */
#define BG_KMASK ((1ull << (2 * BG_K)) - 1)
#define BG_ERRMSG_LEN 1024
#define BG_INDEX_MAGIC "BGDBIDX1"
#define BG_INDEX_VERSION 6u /* 2: source versions recorded; deletion rows no longer insertion sites; 3: deletion sites;
                              4: mechanisms of resistance; 5: amino-acid insertion sites; 6: variant targets of long indels */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- small utilities (util.c) ---------------------------------------------------------- */

/** Formats a message into err (may be NULL) and returns status. */
bg_status_t bg_fail(char *err, size_t err_len, bg_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** Status for an errno from open()/stat(). */
bg_status_t bg_status_from_errno(int e);
/** Reads a whole file, inflating it when it is gzip. *out is malloc'ed and NUL-terminated. */
bg_status_t bg_slurp(const char *path, char **out, size_t *len, char *err, size_t err_len);
/** Monotonic seconds. */
double bg_now(void);
/** Number of online CPUs (>= 1). */
int bg_ncpu(void);
/** Names the calling thread (at most 15 characters show; Linux: top -H, ps -L, perf). */
void bg_thread_name(const char *name);
/** Lowers the calling thread's scheduling priority: its nice value raised by `by` (capped at 19); Linux only,
 *  a failure leaves it as it was. Threads it starts inherit the new value. */
void bg_thread_lower_priority(int by);
/** Grows the array *p of *cap elements of elem bytes (realloc, doubling) to hold need. 0, or -1 out of memory. */
int bg_grow(void **p, size_t *cap, size_t need, size_t elem);
/**
 * Maps the pages of bytes [from, to) of the block at p at once (MADV_POPULATE_WRITE), where the range holds at
 * least BG_PREFAULT_MIN whole pages' bytes: one call instead of a page fault per page when they are first
 * written. Under a hypervisor each fault is a trip out of the guest; in this engine's hot path they cost
 * ~5 % of a run's CPU time. A hint: 0 when the pages were mapped, -1 when not (a smaller range, or a kernel
 * before 5.14), which callers ignore.
 */
int bg_prefault(void *p, size_t from, size_t to);
/** The CRC-32 (gzip's, as crc32_gzip_refl computes it) of A then B, from A's, B's and B's length in bytes. */
uint32_t bg_crc32_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);
#define BG_PREFAULT_MIN ((size_t)64 << 10)

/** Growable byte buffer. */
typedef struct bg_buf_t { char *p; size_t n, cap; int oom; } bg_buf_t;
void bg_buf_put(bg_buf_t *b, const void *p, size_t n);
void bg_buf_puts(bg_buf_t *b, const char *s);
void bg_buf_printf(bg_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Appends s as a JSON string literal (quotes and escapes). */
void bg_buf_json_str(bg_buf_t *b, const char *s);
/** Appends a double as JSON with 17 significant digits (round-trips exactly; NaN/inf become 0). */
void bg_buf_json_num(bg_buf_t *b, double v);
void bg_buf_free(bg_buf_t *b);

/* ---- k-mers, shared by CPU and CUDA code ------------------------------------------------- */
#ifdef __CUDACC__
#define BG_HD __host__ __device__ __forceinline__
#else
#define BG_HD static inline
#endif

/** 2-bit code of a normalised base: A0 C1 G2 T3, N -> 4. */
BG_HD uint32_t bg_base_code(uint8_t c) {
  return c == 'A' ? 0u : c == 'C' ? 1u : c == 'G' ? 2u : c == 'T' ? 3u : 4u;
}
/** 2-bit code of a normalised base A C G T by two bit operations (branch-free; callers exclude N). */
BG_HD uint32_t bg_norm_code(uint8_t c) { return ((uint32_t)c >> 1 ^ (uint32_t)c >> 2) & 3u; }
/** Standard genetic code of a codon of normalised bases; 'X' when it holds N. */
static inline char bg_translate(const char *c) {
  static const char AA[] = "KNKNTTTTRSRSIIMIQHQHPPPPRRRRLLLLEDEDAAAAGGGGVVVV*Y*YSSSS*CWCLFLF";
  int v = 0;
  for (int i = 0; i < 3; i++) {
    uint32_t k = bg_base_code((uint8_t)c[i]);
    if (k > 3) return 'X';
    v = v * 4 + (int)k;
  }
  return AA[v];
}
/** 64-bit mixer (splitmix64 finaliser). */
BG_HD uint64_t bg_mix64(uint64_t x) {
  x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27; x *= 0x94d049bb133111ebull;
  x ^= x >> 31; return x;
}
/** Blocked Bloom filter probe: one 64-bit word, 3 bits. bits = words * 64, words a power of two. */
BG_HD int bg_filter_test(const uint64_t *words, uint64_t word_mask, uint64_t canon) {
  uint64_t h = bg_mix64(canon);
  uint64_t w = words[h & word_mask];
  uint64_t m = (1ull << ((h >> 40) & 63)) | (1ull << ((h >> 46) & 63)) | (1ull << ((h >> 52) & 63));
  return (w & m) == m;
}
BG_HD void bg_filter_add_bits(uint64_t h, uint64_t *idx, uint64_t *m, uint64_t word_mask) {
  *idx = h & word_mask;
  *m = (1ull << ((h >> 40) & 63)) | (1ull << ((h >> 46) & 63)) | (1ull << ((h >> 52) & 63));
}
/**
 * Screens one read: samples the k-mer ending at every `stride`-th valid position and counts
 * those present in the filter. Returns the count (stops early at `need`).
 */
BG_HD int bg_screen_read(const uint8_t *s, uint32_t len, const uint64_t *words, uint64_t word_mask,
                         uint32_t stride, int need) {
  uint64_t fw = 0, rv = 0;
  uint32_t valid = 0;
  int hits = 0;
  for (uint32_t i = 0; i < len; i++) {
    uint32_t c = bg_base_code(s[i]);
    if (c > 3) { valid = 0; fw = rv = 0; continue; }
    fw = ((fw << 2) | c) & BG_KMASK;
    rv = (rv >> 2) | ((uint64_t)(3u - c) << (2 * (BG_K - 1)));
    if (++valid >= BG_K && (valid - BG_K) % stride == 0) {
      uint64_t canon = fw < rv ? fw : rv;
      if (bg_filter_test(words, word_mask, canon) && ++hits >= need) return hits;
    }
  }
  return hits;
}

/* ---- database (db.c, index.c) --------------------------------------------------------------- */

enum { BG_KIND_RESFINDER = 0, BG_KIND_POINTFINDER = 1 };
enum { BG_MUT_AA = 0, BG_MUT_NUC = 1, BG_MUT_INS = 2, BG_MUT_DEL = 3, BG_MUT_AA_INS = 4 };
/* an observation's key at a site (codon, base, inserted or deleted sequence), NUL included: room for every indel
 * the catalogue lists (M. tuberculosis katG 1560ins: 64 bases; a 12-base key once did not fit, and rpoB 1300del12
 * went uncalled) */
#define BG_SITE_KEY_LEN 72

/** One reference sequence: a ResFinder allele or a PointFinder gene. Offsets point into strings. */
typedef struct bg_target_t {
  uint32_t name, gene, accession, drug_class, phenotype; /* string offsets */
  uint32_t species;      /* string offset ("" for ResFinder) */
  uint64_t seq;          /* offset into seqs */
  uint32_t len;
  uint32_t kind;         /* BG_KIND_* */
  int32_t promoter_len;  /* > 0: first promoter_len bases are upstream, numbered -promoter_len..-1 */
  uint32_t is_rna;
  uint32_t first_site, n_sites; /* PointFinder: catalogued sites of this gene */
  uint32_t mechanism;    /* string: mechanism of resistance (ResFinder's phenotypes.txt; "" for PointFinder genes) */
  uint32_t variant_site; /* 0, or a variant target: its gene with catalogued site variant_site - 1's indel, one longer
                          * than the aligner's band, written in (its alternative number variant_alt) */
  uint32_t variant_alt;
  uint32_t reserved;     /* 0 */
} bg_target_t;

/** One catalogued PointFinder site (repeated table rows merged). */
typedef struct bg_site_t {
  uint32_t target;
  int32_t pos;           /* codon number (AA) or nucleotide position (NUC/INS; negative = promoter) */
  uint32_t type;         /* BG_MUT_* */
  uint32_t ref;          /* string: reference AA, base, or "-" */
  uint32_t ref_codon;    /* string: reference codon (AA sites) */
  uint32_t alts;         /* string: comma-separated resistant AAs / bases / inserted sequences */
  uint32_t drug_class, phenotype, pmid; /* strings */
  int32_t tidx;          /* 0-based index into the target sequence of the site's first base (-1: outside) */
  uint32_t mechanism;    /* string: mechanism of resistance */
} bg_site_t;

/** k-mer hash table slot; key 0 = empty, else canonical k-mer + 1. */
typedef struct bg_kslot_t { uint64_t key; uint32_t start, count; } bg_kslot_t;
/** Occurrence: target index and position; bit 31 of pos = the canonical k-mer is the reverse strand. */
typedef struct bg_occ_t { uint32_t target, pos; } bg_occ_t;

struct bg_db_t {
  char err[BG_ERRMSG_LEN];
  char *info;
  /* content, either owned (built) or pointing into the mapping (loaded) */
  const bg_target_t *targets; uint32_t n_targets;
  const bg_site_t *sites; uint32_t n_sites;
  const char *strings; uint64_t strings_len;
  const char *seqs; uint64_t seqs_len;
  const bg_kslot_t *slots; uint64_t slot_mask;
  const bg_occ_t *occs; uint64_t n_occs;
  const uint64_t *filter; uint64_t filter_mask; /* words - 1 */
  uint32_t n_resfinder, n_pointfinder, n_species, n_warnings;
  /* ownership */
  void *owned[8]; int n_owned;
  void *map; size_t map_len;
  int loaded;
  /* build-time notes (JSON array text) */
  char *warnings_json;
  double build_seconds, load_seconds;
};

static inline const char *bg_str(const bg_db_t *db, uint32_t off) { return db->strings + off; }
static inline const char *bg_tseq(const bg_db_t *db, const bg_target_t *t) { return db->seqs + t->seq; }

/** Alternative k (0-based) of site s's comma-separated list into key (BG_SITE_KEY_LEN bytes; may be NULL): 1, or 0
 *  when there is none or it does not fit the key. */
int bg_site_alt(const bg_db_t *db, const bg_site_t *s, uint32_t k, char *key);
/** Looks a canonical k-mer up; returns the slot or NULL. */
const bg_kslot_t *bg_index_find(const bg_db_t *db, uint64_t canon);
/** Builds the k-mer hash, occurrence list and screening filter over db's targets (owned by db). */
bg_status_t bg_index_build(bg_db_t *db);

/* ---- per-run mapping (match.c) ------------------------------------------------------------- */

/** An alignment of one read to one target. */
typedef struct bg_aln_t {
  uint32_t target;
  int32_t score;
  uint32_t strand;       /* 1: the read's reverse complement aligns */
  int32_t diag;          /* target position of read base 0 (of the oriented read) */
  uint32_t mism, alen;   /* mismatches and aligned columns (ungapped: overlap length) */
  uint32_t gapped;
} bg_aln_t;

typedef struct bg_seed_t { uint32_t start, count, rp, read_rev, rf_count; } bg_seed_t;
/** A read's seeds, cached while its buffer holds it (see bg_mapper_forget). */
typedef struct bg_seedset_t { const uint8_t *of; uint32_t len; bg_seed_t *s; size_t n, cap; } bg_seedset_t;

/** Per-thread scratch space for mapping; reused across reads. */
typedef struct bg_mapper_t {
  const bg_db_t *db;
  uint64_t *keys; size_t cap_keys;
  bg_aln_t *alns; size_t cap_alns;
  uint8_t *rc; size_t cap_rc;
  int32_t *dp; size_t cap_dp;
  uint8_t *ops; size_t cap_ops;
  uint64_t *vote_keys; uint32_t *vote_cnt; size_t hsize; /* vote tables, zero between reads */
  bg_seed_t *seeds; size_t cap_seeds;
  const uint8_t *rc_of; uint32_t rc_len; /* which read m->rc holds */
  bg_seedset_t cache[2]; int cache_next;
  uint64_t *cand_bits;   /* one bit per (target, strand), zero between reads */
  const uint8_t *skip;   /* per target, 1: left out of this run (a PointFinder species not chosen); NULL: none */
  int banded_simd;       /* 1: gapped alignments filled in AVX-512 (the CPU has it); 0: one cell at a time (same) */
} bg_mapper_t;

void bg_mapper_init(bg_mapper_t *m, const bg_db_t *db);
void bg_mapper_free(bg_mapper_t *m);
/** Drops cached per-read state; call before mapping reads from a buffer whose content changed. */
void bg_mapper_forget(bg_mapper_t *m);
/**
 * Maps one read against one universe (kind). Fills m->alns with the best-scoring alignment per
 * target, keeping targets whose score is within `slack` of the best; returns their count
 * (0 = unmapped, -1 = out of memory). Alignments keep candidate order (target, strand).
 */
int bg_map_read(bg_mapper_t *m, const uint8_t *seq, uint32_t len, uint32_t kind, int32_t slack);
/** Half-width of the band of gapped alignments: a read aligned at diagonal d covers target positions
 *  within [d - BG_ALIGN_BAND, d + len + BG_ALIGN_BAND). */
#define BG_ALIGN_BAND 12
/** Score of one mismatch relative to a match (for slack computations). */
#define BG_MISMATCH_COST 6

/** Visitor of aligned columns: tpos is the target index, rbase the read base (or '-' for a
 *  deletion in the read); ins_len > 0 marks an insertion of ins_len read bases after tpos. */
typedef void (*bg_col_fn)(void *ctx, uint32_t tpos, uint8_t rbase, const uint8_t *ins, uint32_t ins_len);
/**
 * Re-aligns a read to one target in the orientation and diagonal of aln and calls fn for every
 * aligned column, in target order. Returns the number of columns.
 */
uint32_t bg_align_walk(bg_mapper_t *m, const uint8_t *seq, uint32_t len, const bg_aln_t *aln, bg_col_fn fn,
                       void *ctx);
/**
 * The columns bg_align_walk would give fn at the target positions tpos[0..n) only, read directly when the
 * alignment is ungapped; a gapped one is walked whole, so fn must ignore the other columns.
 */
void bg_align_walk_at(bg_mapper_t *m, const uint8_t *seq, uint32_t len, const bg_aln_t *aln, const uint32_t *tpos,
                      uint32_t n, bg_col_fn fn, void *ctx);
/** Tests: the banded gapped alignment's best score (aligned columns and matches via alen, matches), in the
 *  mapper's form (m->banded_simd); -1 out of memory. */
int32_t bg_banded_score(bg_mapper_t *m, const uint8_t *q, uint32_t len, const uint8_t *t, uint32_t tlen, int32_t diag,
                        uint32_t *alen, uint32_t *matches);
/**
 * Adds a read's aligned bases to a pileup of 5 counts per target position (A C G T, deletion): the
 * columns bg_align_walk would give `fn`, counted directly when the alignment is ungapped (the common
 * case); a gapped one is walked with fn(ctx), which must count the same way into cnt. Returns the bases
 * it counted directly (0 for a gapped alignment: those reach fn).
 */
uint32_t bg_align_count(bg_mapper_t *m, const uint8_t *seq, uint32_t len, const bg_aln_t *aln, uint32_t *cnt,
                        bg_col_fn fn, void *ctx);

/* ---- screening backends (screen.c, screen.cu) ---------------------------------------------- */

#define BG_SCREEN_STRIDE 8
#define BG_SCREEN_NEED 2

/** Reference screen of a batch (the CUDA kernel's per-read function, pair by pair). */
void bg_screen_batch_ref(const bg_db_t *db, const uint8_t *seq1, const uint32_t *off1, const uint8_t *seq2,
                         const uint32_t *off2, uint32_t n, uint8_t *flags);
/** CPU screen of a batch: flags[i] = 1 when pair i (either mate) needs mapping; equal to the reference. */
void bg_screen_batch_cpu(const bg_db_t *db, const uint8_t *seq1, const uint32_t *off1, const uint8_t *seq2,
                         const uint32_t *off2, uint32_t n, uint8_t *flags);

/** One read's sampled k-mer hashes (mixed canonical k-mers at the screen's positions), at most cap;
 *  `readable` (>= len) bytes from s may be read (a batch's later reads), which spares copying the
 *  read's tail; simd: 0 the scalar forms, 1 the AVX2 forms at most, 2 the fastest this CPU runs (AVX-512
 *  where usable); tests compare them. Returns how many. */
uint32_t bg_screen_sample(const uint8_t *s, uint32_t len, uint32_t readable, uint64_t *out, uint32_t cap, int simd);

typedef struct bg_cuda_ctx_t bg_cuda_ctx_t;
/** Creates a CUDA screening context on device_id (uploads the filter); *out is NULL on failure. */
bg_status_t bg_cuda_ctx_new(bg_cuda_ctx_t **out, const bg_db_t *db, int device_id, char *err, size_t err_len,
                            char *device_name, size_t name_len);
/** Screens a batch on the GPU; identical flags to bg_screen_batch_cpu. One caller per context. */
bg_status_t bg_cuda_screen_batch(bg_cuda_ctx_t *ctx, const uint8_t *seq1, const uint32_t *off1,
                                 const uint8_t *seq2, const uint32_t *off2, uint32_t n, uint8_t *flags,
                                 char *err, size_t err_len);
void bg_cuda_ctx_free(bg_cuda_ctx_t *ctx);
int bg_cuda_devices(void);
/** 1 (reason in buf) when the device query fails although an NVIDIA driver is loaded (a driver too old for this
 *  CUDA runtime, say): a GPU is there but cannot be used. 0 when there is plainly no device. */
int bg_cuda_devices_error(char *buf, size_t n);

/** The CUDA calls a run makes, through a table so that tests can stand in for a device (a device that
 *  fails to start, or fails mid-run) where there is none. */
typedef struct bg_cuda_ops_t {
  int (*devices)(void);
  bg_status_t (*ctx_new)(bg_cuda_ctx_t **out, const bg_db_t *db, int device_id, char *err, size_t err_len,
                         char *device_name, size_t name_len);
  bg_status_t (*screen)(bg_cuda_ctx_t *ctx, const uint8_t *seq1, const uint32_t *off1, const uint8_t *seq2,
                        const uint32_t *off2, uint32_t n, uint8_t *flags, char *err, size_t err_len);
  void (*ctx_free)(bg_cuda_ctx_t *ctx);
  int (*devices_error)(char *buf, size_t n); /* may be NULL */
} bg_cuda_ops_t;
/** The real calls; a test may point it elsewhere while no run is in progress. */
extern const bg_cuda_ops_t *bg_cuda_ops;

#ifdef __cplusplus
}
#endif

#endif
