// screen.cu — CUDA twin of screen.c: the k-mer Bloom screen of read batches on the GPU.
// Pinned host staging, one stream per worker context so several workers overlap transfers and
// kernels; the per-read logic is bg_screen_read from internal.h, shared with the CPU backend.
// No C++ exception crosses into C: every entry point catches everything and returns a status.
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct bg_cuda_ctx_t {
  int device;
  cudaStream_t stream;
  uint64_t *d_filter;
  uint64_t filter_mask;
  uint8_t *h_seq, *d_seq;
  size_t cap_seq;
  uint32_t *h_off, *d_off;   // 2 * (n + 1) offsets: R1 offsets, then R2 offsets shifted by len(seq1)
  size_t cap_off;
  uint8_t *h_flags, *d_flags;
  size_t cap_flags;
};

__global__ void screen_kernel(const uint8_t *seq, const uint32_t *off1, const uint32_t *off2, uint32_t n,
                              const uint64_t *filter, uint64_t mask, uint8_t *flags) {
  uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  int h = bg_screen_read(seq + off1[i], off1[i + 1] - off1[i], filter, mask, BG_SCREEN_STRIDE, BG_SCREEN_NEED);
  if (h < BG_SCREEN_NEED)
    h += bg_screen_read(seq + off2[i], off2[i + 1] - off2[i], filter, mask, BG_SCREEN_STRIDE, BG_SCREEN_NEED - h);
  flags[i] = h >= BG_SCREEN_NEED;
}

static bg_status_t cuda_fail(cudaError_t e, const char *what, char *err, size_t err_len) {
  bg_status_t s = e == cudaErrorMemoryAllocation ? BG_ERR_DEVICE_OOM : BG_ERR_DEVICE_UNAVAILABLE;
  return bg_fail(err, err_len, s, "CUDA %s failed: %s", what, cudaGetErrorString(e));
}

/* Pinned staging lives in host memory: its allocation failing is the host's memory, not the device's. */
static bg_status_t pinned_fail(cudaError_t e, char *err, size_t err_len) {
  bg_status_t s = e == cudaErrorMemoryAllocation ? BG_ERR_HOST_OOM : BG_ERR_DEVICE_UNAVAILABLE;
  return bg_fail(err, err_len, s, "CUDA pinned host allocation failed: %s", cudaGetErrorString(e));
}

#define CKP(call)                                        \
  do {                                                   \
    cudaError_t e_ = (call);                             \
    if (e_ != cudaSuccess) return pinned_fail(e_, err, err_len); \
  } while (0)

#define CK(call, what)                                   \
  do {                                                   \
    cudaError_t e_ = (call);                             \
    if (e_ != cudaSuccess) return cuda_fail(e_, what, err, err_len); \
  } while (0)

static bg_status_t reserve(bg_cuda_ctx_t *c, size_t seq, size_t off, size_t flags, char *err, size_t err_len) {
  if (seq > c->cap_seq) {
    size_t cap = seq + seq / 2;
    cudaFreeHost(c->h_seq); cudaFree(c->d_seq);
    c->h_seq = NULL; c->d_seq = NULL; c->cap_seq = 0;
    CKP(cudaMallocHost((void **)&c->h_seq, cap));
    CK(cudaMalloc((void **)&c->d_seq, cap), "device allocation");
    c->cap_seq = cap;
  }
  if (off > c->cap_off) {
    size_t cap = off + off / 2;
    cudaFreeHost(c->h_off); cudaFree(c->d_off);
    c->h_off = NULL; c->d_off = NULL; c->cap_off = 0;
    CKP(cudaMallocHost((void **)&c->h_off, cap * sizeof(uint32_t)));
    CK(cudaMalloc((void **)&c->d_off, cap * sizeof(uint32_t)), "device allocation");
    c->cap_off = cap;
  }
  if (flags > c->cap_flags) {
    size_t cap = flags + flags / 2;
    cudaFreeHost(c->h_flags); cudaFree(c->d_flags);
    c->h_flags = NULL; c->d_flags = NULL; c->cap_flags = 0;
    CKP(cudaMallocHost((void **)&c->h_flags, cap));
    CK(cudaMalloc((void **)&c->d_flags, cap), "device allocation");
    c->cap_flags = cap;
  }
  return BG_OK;
}

static bg_status_t ctx_new(bg_cuda_ctx_t **out, const bg_db_t *db, int device_id, char *err, size_t err_len,
                           char *name, size_t name_len) {
  *out = NULL;
  int n = 0;
  CK(cudaGetDeviceCount(&n), "device query");
  if (device_id >= n) return bg_fail(err, err_len, BG_ERR_DEVICE_UNAVAILABLE, "No CUDA device %d: %d device(s) found", device_id, n);
  CK(cudaSetDevice(device_id), "device selection");
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, device_id), "device query");
  if (name && name_len) snprintf(name, name_len, "%s (cuda:%d)", prop.name, device_id);
  bg_cuda_ctx_t *c = (bg_cuda_ctx_t *)calloc(1, sizeof *c);
  if (!c) return bg_fail(err, err_len, BG_ERR_HOST_OOM, "Out of memory creating a CUDA context");
  c->device = device_id;
  c->filter_mask = db->filter_mask;
  cudaError_t e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
  if (e == cudaSuccess) e = cudaMalloc((void **)&c->d_filter, (db->filter_mask + 1) * sizeof(uint64_t));
  /* on the worker's own stream, and waited for: the stream does not sync with the legacy default stream, and
   * a copy from pageable memory may return before the device has all of it */
  if (e == cudaSuccess)
    e = cudaMemcpyAsync(c->d_filter, db->filter, (db->filter_mask + 1) * sizeof(uint64_t), cudaMemcpyHostToDevice,
                        c->stream);
  if (e == cudaSuccess) e = cudaStreamSynchronize(c->stream);
  if (e != cudaSuccess) {
    bg_cuda_ctx_free(c);
    return cuda_fail(e, "context setup", err, err_len);
  }
  *out = c;
  return BG_OK;
}

static bg_status_t screen(bg_cuda_ctx_t *c, const uint8_t *seq1, const uint32_t *off1, const uint8_t *seq2,
                          const uint32_t *off2, uint32_t n, uint8_t *flags, char *err, size_t err_len) {
  if (n == 0) return BG_OK;
  CK(cudaSetDevice(c->device), "device selection");
  size_t l1 = off1[n], l2 = off2[n];
  bg_status_t s = reserve(c, l1 + l2, 2 * ((size_t)n + 1), n, err, err_len);
  if (s != BG_OK) return s;
  memcpy(c->h_seq, seq1, l1);
  memcpy(c->h_seq + l1, seq2, l2);
  memcpy(c->h_off, off1, ((size_t)n + 1) * sizeof(uint32_t));
  for (uint32_t i = 0; i <= n; i++) c->h_off[n + 1 + i] = off2[i] + (uint32_t)l1;
  CK(cudaMemcpyAsync(c->d_seq, c->h_seq, l1 + l2, cudaMemcpyHostToDevice, c->stream), "copy to device");
  CK(cudaMemcpyAsync(c->d_off, c->h_off, 2 * ((size_t)n + 1) * sizeof(uint32_t), cudaMemcpyHostToDevice, c->stream), "copy to device");
  uint32_t threads = 256, blocks = (n + threads - 1) / threads;
  screen_kernel<<<blocks, threads, 0, c->stream>>>(c->d_seq, c->d_off, c->d_off + n + 1, n, c->d_filter, c->filter_mask, c->d_flags);
  CK(cudaGetLastError(), "kernel launch");
  CK(cudaMemcpyAsync(c->h_flags, c->d_flags, n, cudaMemcpyDeviceToHost, c->stream), "copy from device");
  CK(cudaStreamSynchronize(c->stream), "stream synchronisation");
  memcpy(flags, c->h_flags, n);
  return BG_OK;
}

extern "C" {

bg_status_t bg_cuda_ctx_new(bg_cuda_ctx_t **out, const bg_db_t *db, int device_id, char *err, size_t err_len,
                            char *device_name, size_t name_len) {
  try {
    return ctx_new(out, db, device_id, err, err_len, device_name, name_len);
  } catch (...) {
    return bg_fail(err, err_len, BG_ERR_INTERNAL, "Unexpected exception creating a CUDA context");
  }
}

bg_status_t bg_cuda_screen_batch(bg_cuda_ctx_t *ctx, const uint8_t *seq1, const uint32_t *off1, const uint8_t *seq2,
                                 const uint32_t *off2, uint32_t n, uint8_t *flags, char *err, size_t err_len) {
  try {
    return screen(ctx, seq1, off1, seq2, off2, n, flags, err, err_len);
  } catch (...) {
    return bg_fail(err, err_len, BG_ERR_INTERNAL, "Unexpected exception in the CUDA screen");
  }
}

void bg_cuda_ctx_free(bg_cuda_ctx_t *c) {
  if (!c) return;
  cudaSetDevice(c->device);
  cudaFreeHost(c->h_seq); cudaFree(c->d_seq);
  cudaFreeHost(c->h_off); cudaFree(c->d_off);
  cudaFreeHost(c->h_flags); cudaFree(c->d_flags);
  cudaFree(c->d_filter);
  if (c->stream) cudaStreamDestroy(c->stream);
  free(c);
}

int bg_cuda_devices(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) { cudaGetLastError(); return 0; }
  return n;
}

int bg_cuda_devices_error(char *buf, size_t n) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  cudaGetLastError();
  /* without a driver the runtime also says "insufficient driver": only a loaded driver makes it news */
  if (e == cudaSuccess || e == cudaErrorNoDevice || access("/proc/driver/nvidia/version", R_OK) != 0) return 0;
  snprintf(buf, n, "the device query failed although an NVIDIA driver is loaded: %s", cudaGetErrorString(e));
  return 1;
}

}  // extern "C"
