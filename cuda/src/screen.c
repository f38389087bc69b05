/* screen.c — CPU twin of the CUDA screen (screen.cu): the cheap k-mer Bloom test that decides which
 * read pairs are worth mapping. Both call bg_screen_read from internal.h, so they agree exactly. */
#include "internal.h"

void bg_screen_batch_cpu(const bg_db_t *db, const uint8_t *seq1, const uint32_t *off1, const uint8_t *seq2,
                         const uint32_t *off2, uint32_t n, uint8_t *flags) {
  for (uint32_t i = 0; i < n; i++) {
    int h = bg_screen_read(seq1 + off1[i], off1[i + 1] - off1[i], db->filter, db->filter_mask, BG_SCREEN_STRIDE, BG_SCREEN_NEED);
    if (h < BG_SCREEN_NEED)
      h += bg_screen_read(seq2 + off2[i], off2[i + 1] - off2[i], db->filter, db->filter_mask, BG_SCREEN_STRIDE, BG_SCREEN_NEED - h);
    flags[i] = h >= BG_SCREEN_NEED;
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
