/*
 * fuzz_reader.c — libFuzzer target for the paired FASTQ reader.
 *
 * The input becomes R1 as is. The first byte picks R2: an exact copy, the first
 * half of the input, a single-member gzip of the input, or a multi-member gzip
 * cut at input-chosen points, its members in plain or bgzip framing (so the plain
 * and gzip paths both see the same arbitrary bytes). The pair is read to the end
 * with small batches, or closed mid-stream, once with one inflater thread per file
 * and once with helper threads for bgzip members: both must give the same pairs,
 * status and message. The reader must never crash, leak, hang or read out of bounds.
 *
 * Built by `make -C cuda fuzz` with small ring blocks (see the Makefile) so that
 * block hand-over, line carry and block growth are exercised by small inputs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gz_writer.h"
#include "reader.h"

static char g_dir[64];
static char g_r1[96], g_r2[96];

static void cleanup(void) {
  unlink(g_r1);
  unlink(g_r2);
  rmdir(g_dir);
}

static int write_all(const char *path, const uint8_t *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (f == NULL) return 0;
  int ok = (n == 0 || fwrite(data, 1, n, f) == n);
  return (fclose(f) == 0) && ok;
}

/* Appends a gzip member of data[0..n) at out[*len..] (out has room for the worst case): plain gzip
 * framing, or bgzip's, which the reader may inflate on helper threads. A BGZF member too big for its
 * size field is written in plain framing. */
static void gzip_member(uint8_t *out, size_t *len, size_t cap, const uint8_t *data, size_t n, int bgzf) {
  size_t k = bgzf ? gz_write_member(out + *len, cap - *len, data, n, GZ_BGZF, 0) : 0;
  if (k == 0) k = gz_write_member(out + *len, cap - *len, data, n, GZ_PLAIN, 0);
  *len += k;
}

/* What one reading of the pair gave: status, message, pairs and a hash of every base. */
typedef struct outcome_t {
  bg_status_t st;
  char err[256];
  uint64_t pairs, hash;
} outcome_t;

/* Reads the pair with the given batch limits and inflater helpers; stop_after >= 0 closes mid-stream. */
static outcome_t read_pair(int inflate_threads, uint32_t max_pairs, uint64_t max_bases, int stop_after) {
  outcome_t o;
  memset(&o, 0, sizeof o);
  o.hash = 1469598103934665603ull;
  bg_pair_reader_t *r = NULL;
  o.st = bg_pair_reader_open(&r, g_r1, g_r2, inflate_threads, o.err, sizeof o.err);
  if (o.st != BG_OK) return o;
  bg_batch_t b;
  bg_batch_init(&b);
  for (int i = 0; i != stop_after; i++) {
    o.st = bg_pair_reader_next(r, &b, max_pairs, max_bases, o.err, sizeof o.err);
    if (o.st != BG_OK || b.n_pairs == 0) break;
    o.pairs += b.n_pairs;
    /* Touch every base so out-of-bounds offsets show up under ASan. */
    for (uint32_t p = 0; p < b.n_pairs; p++) {
      for (uint32_t j = b.off1[p]; j < b.off1[p + 1]; j++) o.hash = (o.hash ^ (unsigned char)b.seq1[j]) * 1099511628211ull;
      o.hash = (o.hash ^ 0x100) * 1099511628211ull;
      for (uint32_t j = b.off2[p]; j < b.off2[p + 1]; j++) o.hash = (o.hash ^ (unsigned char)b.seq2[j]) * 1099511628211ull;
      o.hash = (o.hash ^ 0x200) * 1099511628211ull;
    }
  }
  (void)bg_pair_reader_bytes_done(r);
  bg_batch_free(&b);
  bg_pair_reader_close(r);
  return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (g_dir[0] == '\0') {
    snprintf(g_dir, sizeof g_dir, "/tmp/bg_fuzz_XXXXXX");
    if (mkdtemp(g_dir) == NULL) return 0;
    snprintf(g_r1, sizeof g_r1, "%s/r1.fq", g_dir);
    snprintf(g_r2, sizeof g_r2, "%s/r2.fq", g_dir);
    atexit(cleanup);
  }
  unsigned mode = size > 0 ? data[0] : 0;
  if (!write_all(g_r1, data, size)) return 0;

  size_t cap = size * 2 + 1024 * (size / 512 + 2);
  uint8_t *r2 = malloc(cap);
  if (r2 == NULL) return 0;
  size_t r2_len = 0;
  switch (mode & 3) {
  case 0:
    memcpy(r2, data, size);
    r2_len = size;
    break;
  case 1:
    memcpy(r2, data, size / 2);
    r2_len = size / 2;
    break;
  case 2:
    gzip_member(r2, &r2_len, cap, data, size, 0);
    break;
  default: {
    /* Members of 1..256 bytes, sizes taken from the input, plus an empty member. */
    size_t at = 0, k = 1;
    while (at < size) {
      size_t chunk = 1 + (size > k ? data[k] : 97);
      if (chunk > size - at) chunk = size - at;
      gzip_member(r2, &r2_len, cap, data + at, chunk, !(data[k < size ? k : 0] & 1));
      at += chunk;
      k += 7;
    }
    gzip_member(r2, &r2_len, cap, data, 0, 1);
    if (mode & 4 && r2_len > 3) r2_len -= 3; /* cut inside the last trailer */
    break;
  }
  }
  int ok = write_all(g_r2, r2, r2_len);
  free(r2);
  if (!ok) return 0;

  uint32_t max_pairs = 1 + ((mode >> 3) & 7);
  uint64_t max_bases = (mode & 0x40) ? 64 : 0;
  int stop_after = (mode & 0x80) ? 1 : -1; /* close mid-stream */
  /* One inflater thread per file, then helpers for bgzip members: the same pairs, status and message. */
  outcome_t one = read_pair(0, max_pairs, max_bases, stop_after);
  outcome_t many = read_pair(3, max_pairs, max_bases, stop_after);
  if (stop_after < 0 && (one.st != many.st || one.pairs != many.pairs || one.hash != many.hash ||
                         strcmp(one.err, many.err) != 0)) {
    fprintf(stderr, "helpers changed the outcome: %d %llu '%s' vs %d %llu '%s'\n", one.st,
            (unsigned long long)one.pairs, one.err, many.st, (unsigned long long)many.pairs, many.err);
    abort();
  }
  return 0;
}
