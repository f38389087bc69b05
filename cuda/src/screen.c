/* screen.c — CPU twin of the CUDA screen (screen.cu): the cheap k-mer Bloom test that decides which
 * read pairs are worth mapping. Both call bg_screen_read from internal.h, so they agree exactly. */
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

/* Sampled k-mers of one read, the same positions as bg_screen_read; returns how many. */
static uint32_t sample_kmers(const uint8_t *s, uint32_t len, uint64_t *out, uint32_t cap) {
  uint64_t fw = 0, rv = 0;
  uint32_t valid = 0, n = 0;
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
