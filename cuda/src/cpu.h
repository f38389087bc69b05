/* cpu.h — which of this CPU's SIMD forms may run (x86-64 with AVX2, AVX-512; BIOGPU_NO_SIMD set: none), asked
 * once per process. Header-only, so the reader (built alone for the fuzz target) and the screen share it. */
#ifndef BG_CPU_H
#define BG_CPU_H

#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BG_HAVE_AVX2_FORMS 1
/* 0: the scalar forms only; 1: AVX2; 2: also AVX-512 F and DQ (64-bit lane multiplies, the screen's hashing);
 * 3: also AVX-512 BW, VL and VBMI (byte permutes, the screen's k-mer extraction). */
static inline int bg_simd_level(void) {
  static _Atomic int level = -1;
  int v = atomic_load_explicit(&level, memory_order_relaxed);
  if (v < 0) {
    __builtin_cpu_init();
    v = 0;
    if (getenv("BIOGPU_NO_SIMD") == NULL && __builtin_cpu_supports("avx2")) {
      v = 1;
      if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) {
        v = 2;
        if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi")) v = 3;
      }
    }
    atomic_store_explicit(&level, v, memory_order_relaxed);
  }
  return v;
}
static inline int bg_avx2_usable(void) { return bg_simd_level() >= 1; }
static inline int bg_avx512_usable(void) { return bg_simd_level() >= 2; }
static inline int bg_avx512vbmi_usable(void) { return bg_simd_level() >= 3; }
#endif

#endif
