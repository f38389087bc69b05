/* screen.c — CPU twin of the CUDA screen (screen.cu): the cheap k-mer Bloom test that decides which
 * read pairs are worth mapping. Both call bg_screen_read from internal.h, so they agree exactly. */
#include <string.h>

#include "internal.h"

/* Reference form: the per-read function the CUDA kernel runs, pair by pair. */
void bg_screen_batch_ref(const bg_db_t *db, const uint8_t *seq1, const uint32_t *off1, const uint8_t *seq2,
                         const uint32_t *off2, uint32_t n, uint8_t *flags) {
  for (uint32_t i = 0; i < n; i++) {
    int h = bg_screen_read(seq1 + off1[i], off1[i + 1] - off1[i], db->filter, db->filter_mask, BG_SCREEN_STRIDE, BG_SCREEN_NEED);
    if (h < BG_SCREEN_NEED)
      h += bg_screen_read(seq2 + off2[i], off2[i + 1] - off2[i], db->filter, db->filter_mask, BG_SCREEN_STRIDE, BG_SCREEN_NEED - h);
    flags[i] = h >= BG_SCREEN_NEED;
  }
}

/* Reverse complement of a k-mer packed 2 bits a base, first base in the high bits. */
static inline uint64_t rc_kmer(uint64_t x) {
  x = ~x;
  x = ((x >> 2) & 0x3333333333333333ull) | ((x & 0x3333333333333333ull) << 2);
  x = ((x >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((x & 0x0F0F0F0F0F0F0F0Full) << 4);
  return __builtin_bswap64(x) >> (64 - 2 * BG_K);
}

/* Sampled k-mers of one read, the same positions as bg_screen_read; returns how many. Reads without N
 * (nearly all) take a branch-free loop that rolls the forward k-mer only and derives the reverse
 * complement at the sampled positions; a read with N takes the reference loop. */
static uint32_t sample_kmers(const uint8_t *s, uint32_t len, uint64_t *out, uint32_t cap) {
  uint32_t n = 0;
  if (len >= BG_K && (len - BG_K) / BG_SCREEN_STRIDE + 1 <= cap) {
    /* of the normalised bases only N (0x4E) has bit 3 set: `bad` collects it as the loop runs */
    uint32_t bad = 0;
    uint64_t fw = 0;
    for (uint32_t i = 0; i < BG_K - 1; i++) { bad |= s[i]; fw = (fw << 2) | (((uint32_t)s[i] >> 1 ^ (uint32_t)s[i] >> 2) & 3); }
    for (uint32_t i = BG_K - 1; i < len; i += BG_SCREEN_STRIDE) {
      uint32_t end = i + BG_SCREEN_STRIDE < len ? BG_SCREEN_STRIDE : len - i;
      bad |= s[i];
      fw = ((fw << 2) | (((uint32_t)s[i] >> 1 ^ (uint32_t)s[i] >> 2) & 3)) & BG_KMASK;
      uint64_t rv = rc_kmer(fw);
      out[n++] = bg_mix64(fw < rv ? fw : rv);
      for (uint32_t j = 1; j < end; j++) {
        bad |= s[i + j];
        fw = (fw << 2) | (((uint32_t)s[i + j] >> 1 ^ (uint32_t)s[i + j] >> 2) & 3);
      }
    }
    if (!(bad & 8)) return n;
    n = 0; /* the read holds an N: the reference loop restarts k-mers after it */
  }
  uint64_t fw = 0, rv = 0;
  uint32_t valid = 0;
  for (uint32_t i = 0; i < len; i++) {
    uint32_t c = s[i];
    if (c == 'N') { valid = 0; fw = rv = 0; continue; }
    c = ((c >> 1) ^ (c >> 2)) & 3; /* A0 C1 G2 T3 for normalised bases */
    fw = ((fw << 2) | c) & BG_KMASK;
    rv = (rv >> 2) | ((uint64_t)(3u - c) << (2 * (BG_K - 1)));
    if (++valid >= BG_K && (valid - BG_K) % BG_SCREEN_STRIDE == 0 && n < cap) out[n++] = bg_mix64(fw < rv ? fw : rv);
  }
  return n;
}

/* CPU form: the same decision (sampled k-mers of R1 and R2 in the filter >= BG_SCREEN_NEED), with the
 * filter words of a whole pair prefetched before they are tested, so the cache misses overlap. */
void bg_screen_batch_cpu(const bg_db_t *db, const uint8_t *seq1, const uint32_t *off1, const uint8_t *seq2,
                         const uint32_t *off2, uint32_t n, uint8_t *flags) {
  uint64_t h[512];
  const uint64_t *words = db->filter, mask = db->filter_mask;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t l1 = off1[i + 1] - off1[i], l2 = off2[i + 1] - off2[i];
    if (l1 + l2 > 8 * 256) { /* very long reads: the reference path */
      bg_screen_batch_ref(db, seq1, off1 + i, seq2, off2 + i, 1, flags + i);
      continue;
    }
    uint32_t k = sample_kmers(seq1 + off1[i], l1, h, 512);
    k += sample_kmers(seq2 + off2[i], l2, h + k, 512 - k);
    for (uint32_t j = 0; j < k; j++) __builtin_prefetch(&words[h[j] & mask]);
    int hits = 0;
    for (uint32_t j = 0; j < k && hits < BG_SCREEN_NEED; j++) {
      uint64_t wi, m;
      bg_filter_add_bits(h[j], &wi, &m, mask);
      hits += (words[wi] & m) == m;
    }
    flags[i] = hits >= BG_SCREEN_NEED;
  }
}

#ifndef BG_WITH_CUDA
bg_status_t bg_cuda_ctx_new(bg_cuda_ctx_t **out, const bg_db_t *db, int device_id, char *err, size_t err_len,
                            char *device_name, size_t name_len) {
  *out = NULL;
  return bg_fail(err, err_len, BG_ERR_DEVICE_UNAVAILABLE, "The CUDA backend is not compiled into this library (built without nvcc)");
}
bg_status_t bg_cuda_screen_batch(bg_cuda_ctx_t *ctx, const uint8_t *seq1, const uint32_t *off1, const uint8_t *seq2,
                                 const uint32_t *off2, uint32_t n, uint8_t *flags, char *err, size_t err_len) {
  return bg_fail(err, err_len, BG_ERR_DEVICE_UNAVAILABLE, "The CUDA backend is not compiled into this library");
}
void bg_cuda_ctx_free(bg_cuda_ctx_t *ctx) { (void)ctx; }
int bg_cuda_devices(void) { return 0; }
#endif
