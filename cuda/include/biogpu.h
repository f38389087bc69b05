/*
 * biogpu.h — the whole public ABI of libbiogpu, the BioGPU Stream AMR engine.
 *
 * Plain C99. Every exported symbol starts with `bg_`, every type ends in `_t`.
 * No C++ exception and no exit() ever crosses this ABI: every failure is a
 * bg_status_t plus a message kept on the handle (bg_db_errmsg / bg_run_errmsg).
 *
 * Typical use (see cuda/tests/smoke.c):
 *   bg_db_t *db = bg_db_new();
 *   if (bg_db_load(db, "amr.bgdb") != BG_OK) puts(bg_db_errmsg(db));
 *   bg_run_options_t o; bg_run_options_init(&o);
 *   bg_run_t *run = bg_run_new(db);
 *   if (bg_run_analyze(run, &o, "x_R1.fastq.gz", "x_R2.fastq.gz") == BG_OK)
 *     puts(bg_run_result_json(run, NULL));
 *   bg_run_free(run); bg_db_free(db);
 */
#ifndef BIOGPU_H
#define BIOGPU_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define BG_API __declspec(dllexport)
#else
#define BG_API __attribute__((visibility("default")))
#endif

/** ABI version: bumped on any incompatible change of this header. */
#define BG_ABI_VERSION 2u
/** Engine version string (results.json engine.version). */
#define BG_ENGINE_VERSION "0.1.0"

/** Status codes. 0 is success; every other value names one kind of failure. */
typedef enum bg_status_t {
  BG_OK = 0,
  BG_ERR_INVALID_ARGUMENT = 1,   /* NULL pointer, option out of range, wrong struct size */
  BG_ERR_FILE_NOT_FOUND = 2,     /* an input path does not exist */
  BG_ERR_PERMISSION_DENIED = 3,  /* an input path exists but cannot be read / output cannot be written */
  BG_ERR_IO = 4,                 /* read or write failed for another reason (EIO, disk full) */
  BG_ERR_CORRUPT_GZIP = 5,       /* truncated or corrupt gzip stream */
  BG_ERR_MALFORMED_FASTQ = 6,    /* bad FASTQ record: header, seq/qual length, binary data */
  BG_ERR_PAIR_MISMATCH = 7,      /* R1/R2 differ in record count or read names */
  BG_ERR_EMPTY_INPUT = 8,        /* an input file holds no reads */
  BG_ERR_BAD_DATABASE = 9,       /* database sources missing, empty or unparsable */
  BG_ERR_BAD_INDEX = 10,         /* index file damaged, truncated or of another version */
  BG_ERR_HOST_OOM = 11,          /* host memory allocation failed */
  BG_ERR_DEVICE_OOM = 12,        /* GPU memory allocation failed */
  BG_ERR_DEVICE_UNAVAILABLE = 13,/* no usable CUDA device (or none compiled in) */
  BG_ERR_CANCELLED = 14,         /* bg_run_cancel was called */
  BG_ERR_INTERNAL = 15           /* a bug: please report with the message */
} bg_status_t;

/** Backends. */
typedef enum bg_backend_t { BG_BACKEND_AUTO = 0, BG_BACKEND_CPU = 1, BG_BACKEND_CUDA = 2 } bg_backend_t;

/** Stages of a run, in order. */
typedef enum bg_stage_t {
  BG_STAGE_IDLE = 0,
  BG_STAGE_LOADING = 1,       /* opening inputs, preparing the backend */
  BG_STAGE_SCREENING = 2,     /* streaming reads: k-mer screen and alignment */
  BG_STAGE_QUANTIFYING = 3,   /* EM over multi-mapping reads, abundance */
  BG_STAGE_MUTATIONS = 4,     /* PointFinder codon / nucleotide calls */
  BG_STAGE_REPORTING = 5,     /* building the result JSON */
  BG_STAGE_DONE = 6
} bg_stage_t;

/** ABI version of the loaded library (compare with BG_ABI_VERSION). Thread-safe. */
BG_API uint32_t bg_abi_version(void);
/** Engine version string, static storage. Thread-safe. */
BG_API const char *bg_version_string(void);
/** Static name of a status ("BG_ERR_CORRUPT_GZIP"); "BG_UNKNOWN" for other values. Thread-safe. */
BG_API const char *bg_status_name(int32_t status);
/** 1 when the library was built with the CUDA backend, else 0. Thread-safe. */
BG_API int32_t bg_cuda_compiled(void);
/** Number of usable CUDA devices (0 when none or not compiled in). Thread-safe. */
BG_API int32_t bg_cuda_device_count(void);

/* ------------------------------------------------------------------------- */
/* Database                                                                   */
/* ------------------------------------------------------------------------- */

/** Opaque database: ResFinder alleles + PointFinder genes and mutation catalogue + k-mer index. */
typedef struct bg_db_t bg_db_t;

/** New empty database handle, or NULL when out of memory. The caller frees with bg_db_free. */
BG_API bg_db_t *bg_db_new(void);
/** Frees the database; NULL is accepted. Not while a run uses it. */
BG_API void bg_db_free(bg_db_t *db);

/**
 * Builds the database from sources into an empty handle.
 * resfinder_dir: folder of ResFinder `*.fsa` + `phenotypes.txt` (required).
 * pointfinder_dir: PointFinder root (species folders), or NULL / "" for none.
 * species_csv: comma-separated species folder names, or NULL / "" for every species found.
 * One call per handle; not thread-safe on the same handle.
 */
BG_API bg_status_t bg_db_build(bg_db_t *db, const char *resfinder_dir, const char *pointfinder_dir,
                               const char *species_csv);
/** Saves a built or loaded database as one versioned index file (written to a temp name, then renamed). */
BG_API bg_status_t bg_db_save(bg_db_t *db, const char *path);
/** Loads an index file (mmap) into an empty handle; a damaged file gives BG_ERR_BAD_INDEX. */
BG_API bg_status_t bg_db_load(bg_db_t *db, const char *path);
/**
 * Summary of the database as JSON (counts of alleles, genes, mutations, species, warnings).
 * The string is owned by the handle and valid until the next call on it or bg_db_free.
 */
BG_API const char *bg_db_info_json(bg_db_t *db);
/** Last error message on this handle ("" if none); owned by the handle. */
BG_API const char *bg_db_errmsg(const bg_db_t *db);

/* ------------------------------------------------------------------------- */
/* Run                                                                        */
/* ------------------------------------------------------------------------- */

/** Size of bg_run_options_t.species, its terminating NUL included. */
#define BG_SPECIES_LIST_MAX 512

/** Options of one analysis. Caller-allocated; `size` must be sizeof(bg_run_options_t). */
typedef struct bg_run_options_t {
  uint32_t size;           /* sizeof(bg_run_options_t), set by bg_run_options_init */
  int32_t backend;         /* bg_backend_t; default AUTO */
  int32_t threads;         /* CPU worker threads; 0 = all cores (default) */
  int32_t device_id;       /* CUDA device; default 0 */
  double min_identity;     /* ResFinder gene call: consensus identity, percent; default 90 */
  double min_coverage;     /* ResFinder gene call: breadth of coverage, percent; default 60 */
  double min_depth;        /* PointFinder site call: minimum reads covering a site; default 3 */
  double min_allele_freq;  /* PointFinder: minimum alt-read fraction to report; default 0.05 */
  int32_t min_alt_reads;   /* PointFinder: minimum alt reads to report; default 2 */
  int32_t batch_pairs;     /* read pairs per batch; default 4096 */
  double min_point_identity; /* PointFinder: a mate is evidence at a catalogued gene's sites only when its
                                alignment to the gene agrees at this percent of its columns; default 95 */
  char species[BG_SPECIES_LIST_MAX]; /* PointFinder species to call, comma-separated, NUL-terminated; "" (default):
                                every species in the database. A name the database lacks fails the run
                                (BG_ERR_INVALID_ARGUMENT). */
} bg_run_options_t;

/** Fills defaults (field-standard thresholds). Thread-safe. */
BG_API void bg_run_options_init(bg_run_options_t *opts);
/** Checks options; BG_ERR_INVALID_ARGUMENT with a message naming the field. msg may be NULL. */
BG_API bg_status_t bg_run_options_check(const bg_run_options_t *opts, char *msg, size_t msg_len);

/** Progress of a run, filled by bg_run_progress. `size` must be sizeof(bg_progress_t). */
typedef struct bg_progress_t {
  uint32_t size;
  int32_t stage;          /* bg_stage_t */
  uint64_t pairs_done;    /* read pairs processed so far */
  uint64_t bytes_done;    /* input bytes (compressed, as on disk) consumed, R1 + R2 */
  uint64_t bytes_total;   /* input file sizes, R1 + R2 */
  double fraction;        /* 0..1, never decreasing within a run */
} bg_progress_t;

/** Opaque run of one paired sample against a database. */
typedef struct bg_run_t bg_run_t;

/** New run bound to a loaded database (which must outlive it); NULL when out of memory. Free with bg_run_free. */
BG_API bg_run_t *bg_run_new(const bg_db_t *db);
/** Frees the run and its results; NULL is accepted. Not while bg_run_analyze is in progress. */
BG_API void bg_run_free(bg_run_t *run);

/**
 * Analyses one paired sample (plain or gzip/bgzip FASTQ), blocking until done.
 * One analysis per handle at a time; call it from any one thread (Deno: nonblocking).
 * On success the result JSON is available from bg_run_result_json.
 */
BG_API bg_status_t bg_run_analyze(bg_run_t *run, const bg_run_options_t *opts, const char *r1_path,
                                  const char *r2_path);
/** Copies the current progress into *out. Thread-safe: may be called while bg_run_analyze runs. */
BG_API bg_status_t bg_run_progress(const bg_run_t *run, bg_progress_t *out);
/** Asks a running analysis to stop; it returns BG_ERR_CANCELLED within 1 s. Thread-safe. */
BG_API void bg_run_cancel(bg_run_t *run);
/**
 * Result of the last successful analysis as a NUL-terminated JSON document; *len (if not NULL)
 * receives its length. Owned by the run, valid until the next analysis or bg_run_free.
 * NULL when no successful analysis.
 */
BG_API const char *bg_run_result_json(const bg_run_t *run, size_t *len);
/** Last error message on this run ("" if none); owned by the run. Valid after bg_run_analyze returns. */
BG_API const char *bg_run_errmsg(const bg_run_t *run);
/** The status of the last bg_run_analyze (BG_OK before any). */
BG_API bg_status_t bg_run_last_status(const bg_run_t *run);

#ifdef __cplusplus
}
#endif
#endif /* BIOGPU_H */
