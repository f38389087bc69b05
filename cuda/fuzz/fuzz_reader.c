/*
 * fuzz_reader.c — libFuzzer target for the paired FASTQ reader.
 *
 * The input becomes R1 as is. The first byte picks R2: an exact copy, the first
 * half of the input, a single-member gzip of the input, or a multi-member gzip
 * cut at input-chosen points (so the plain and gzip paths both see the same
 * arbitrary bytes). The pair is read to the end with small batches, or closed
 * mid-stream. The reader must never crash, leak, hang or read out of bounds.
 *
 * Built by `make -C cuda fuzz` with small ring blocks (see the Makefile) so that
 * block hand-over, line carry and block growth are exercised by small inputs.
 */
#include <isa-l/igzip_lib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Appends a gzip member of data[0..n) at out[*len..]; out has room for the worst case. */
static void gzip_member(uint8_t *out, size_t *len, size_t cap, const uint8_t *data, size_t n) {
  struct isal_zstream zs;
  isal_deflate_init(&zs);
  zs.level = 0;
  zs.gzip_flag = IGZIP_GZIP;
  zs.end_of_stream = 1;
  zs.flush = NO_FLUSH;
  zs.next_in = (uint8_t *)data;
  zs.avail_in = (uint32_t)n;
  zs.next_out = out + *len;
  zs.avail_out = (uint32_t)(cap - *len);
  if (isal_deflate(&zs) == COMP_OK) *len += zs.total_out;
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
    gzip_member(r2, &r2_len, cap, data, size);
    break;
  default: {
    /* Members of 1..256 bytes, sizes taken from the input, plus an empty member. */
    size_t at = 0, k = 1;
    while (at < size) {
      size_t chunk = 1 + (size > k ? data[k] : 97);
      if (chunk > size - at) chunk = size - at;
      gzip_member(r2, &r2_len, cap, data + at, chunk);
      at += chunk;
      k += 7;
    }
    gzip_member(r2, &r2_len, cap, data, 0);
    if (mode & 4 && r2_len > 3) r2_len -= 3; /* cut inside the last trailer */
    break;
  }
  }
  int ok = write_all(g_r2, r2, r2_len);
  free(r2);
  if (!ok) return 0;

  bg_pair_reader_t *r = NULL;
  char err[256];
  if (bg_pair_reader_open(&r, g_r1, g_r2, err, sizeof err) != BG_OK) return 0;
  bg_batch_t b;
  bg_batch_init(&b);
  uint32_t max_pairs = 1 + ((mode >> 3) & 7);
  uint64_t max_bases = (mode & 0x40) ? 64 : 0;
  int stop_after = (mode & 0x80) ? 1 : -1; /* close mid-stream */
  for (int i = 0; i != stop_after; i++) {
    bg_status_t st = bg_pair_reader_next(r, &b, max_pairs, max_bases, err, sizeof err);
    if (st != BG_OK || b.n_pairs == 0) break;
    /* Touch every base so out-of-bounds offsets show up under ASan. */
    volatile unsigned sum = 0;
    for (uint32_t p = 0; p < b.n_pairs; p++) {
      for (uint32_t j = b.off1[p]; j < b.off1[p + 1]; j++) sum += (unsigned char)b.seq1[j];
      for (uint32_t j = b.off2[p]; j < b.off2[p + 1]; j++) sum += (unsigned char)b.seq2[j];
    }
    (void)sum;
  }
  (void)bg_pair_reader_bytes_done(r);
  bg_batch_free(&b);
  bg_pair_reader_close(r);
  return 0;
}
