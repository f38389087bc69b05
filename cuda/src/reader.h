/*
 * reader.h — streaming paired FASTQ reader (internal).
 *
 * Plain FASTQ or gzip (single or many concatenated members, as bgzip writes),
 * detected by magic bytes, inflated with ISA-L. Each file is inflated on its own
 * background thread, so R1 and R2 decompress in parallel; bgzip files can also be
 * inflated by several helper threads each (members are independent). Records are read in
 * lockstep: a count or read-name mismatch between R1 and R2 is an error, never a skip.
 *
 * One pair reader is used by one thread at a time (bg_pair_reader_next); the
 * progress counters may be read from any thread.
 */
#ifndef BG_READER_H
#define BG_READER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "biogpu.h"

/** A batch of read pairs. Sequences are normalised: upper case A/C/G/T, anything else 'N'. */
typedef struct bg_batch_t {
  uint32_t n_pairs;
  uint64_t bases;          /* total bases of R1 + R2 in this batch */
  char *seq1;              /* concatenated R1 sequences (no separators, no NUL needed) */
  uint32_t *off1;          /* n_pairs + 1 offsets into seq1; read i is seq1[off1[i] .. off1[i+1]) */
  char *seq2;              /* same for R2 */
  uint32_t *off2;
  /* capacity bookkeeping, owned by the reader's helpers */
  size_t cap_seq1, cap_seq2, cap_pairs;
} bg_batch_t;

/** Zeroes a batch (no allocation). */
void bg_batch_init(bg_batch_t *b);
/** Frees a batch's buffers; the struct itself is the caller's. NULL accepted. */
void bg_batch_free(bg_batch_t *b);

typedef struct bg_pair_reader_t bg_pair_reader_t;

/**
 * Opens R1 and R2 and starts their inflater threads. inflate_threads >= 2 inflates bgzip files (BGZF
 * members) on that many helper threads per file as well (capped at BG_READER_MAX_INFLATE_THREADS);
 * 0 or 1: each file on its inflater thread alone. Results and errors are the same either way.
 * Errors (status + message naming the file and the problem, written to err):
 *   BG_ERR_FILE_NOT_FOUND, BG_ERR_PERMISSION_DENIED, BG_ERR_IO, BG_ERR_INVALID_ARGUMENT (NULL / same path).
 * Empty files are detected at the first bg_pair_reader_next (BG_ERR_EMPTY_INPUT).
 * BG_ERR_INVALID_ARGUMENT also covers an empty path, a directory, and R1 and R2 being one file
 * under two names (same device and inode). On success *out is freed with bg_pair_reader_close;
 * on failure *out is NULL and nothing is left open.
 */
bg_status_t bg_pair_reader_open(bg_pair_reader_t **out, const char *r1_path, const char *r2_path, int inflate_threads,
                                char *err, size_t err_len);

/** Most helper threads per file (inflate_threads above it is capped). */
#define BG_READER_MAX_INFLATE_THREADS 16

/**
 * Fills `batch` with up to max_pairs pairs (or until max_bases is passed), reusing its buffers.
 * Returns BG_OK with batch->n_pairs == 0 at the end of both files.
 * Errors: BG_ERR_CORRUPT_GZIP (truncated or corrupt stream), BG_ERR_MALFORMED_FASTQ (bad header,
 * missing '+', sequence/quality length mismatch, binary data; message gives file and line),
 * BG_ERR_PAIR_MISMATCH (count or names differ; names compared up to the first space, with a
 * trailing /1 or /2 removed, so CASAVA 1.8 ' 1:N:0:…' / ' 2:N:0:…' and '/1' '/2' both pair),
 * BG_ERR_EMPTY_INPUT (a file holds no records), BG_ERR_IO, BG_ERR_HOST_OOM; BG_ERR_PAIR_MISMATCH also when
 * both files' names mark the same mate (/1 and /1, or ' 1:N:…' in both: one file given twice), and
 * BG_ERR_CANCELLED after the cancel flag (bg_pair_reader_set_cancel) is set while waiting for data.
 * After an error the reader only accepts bg_pair_reader_close (further calls repeat the error).
 * max_pairs must be >= 1 (else BG_ERR_INVALID_ARGUMENT); max_bases == 0 means no base limit
 * (a batch is always capped at 2^31 bases so the uint32_t offsets cannot overflow); a batch
 * holds at least one pair unless at the end. Zero-length reads are kept; blank lines between
 * records are skipped; zero bytes after the last gzip member are ignored, as GNU gzip does.
 * The batch's buffers are valid until the next call with the same batch.
 */
bg_status_t bg_pair_reader_next(bg_pair_reader_t *r, bg_batch_t *batch, uint32_t max_pairs,
                                uint64_t max_bases, char *err, size_t err_len);

/**
 * Gives the reader the caller's cancel flag (NULL: none), before the first bg_pair_reader_next. Once the flag
 * is set, a bg_pair_reader_next waiting for data that does not come (a stalled FIFO or pipe, a slow mount)
 * returns BG_ERR_CANCELLED within ~50 ms instead of waiting on.
 */
void bg_pair_reader_set_cancel(bg_pair_reader_t *r, const atomic_int *cancel);

/** Compressed (on-disk) bytes consumed so far, R1 + R2. Thread-safe. */
uint64_t bg_pair_reader_bytes_done(const bg_pair_reader_t *r);
/** Sum of both files' sizes. Thread-safe. */
uint64_t bg_pair_reader_bytes_total(const bg_pair_reader_t *r);
/** Stops the inflater threads (promptly, even mid-file) and frees everything; NULL accepted.
 *  Not concurrently with bg_pair_reader_next on the same reader. */
void bg_pair_reader_close(bg_pair_reader_t *r);

#endif
