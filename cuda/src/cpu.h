/* cpu.h — whether this CPU's AVX2 (and AVX-512) forms may run (x86-64 with them, and BIOGPU_NO_SIMD not set), asked once
 * per process. Header-only, so the reader (built alone for the fuzz target) and the screen share it. */
#ifndef BG_CPU_H
#define BG_CPU_H

#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define BG_HAVE_AVX2_FORMS 1
static inline int bg_avx2_usable(void) {
  static _Atomic int ok = -1;
  int v = atomic_load_explicit(&ok, memory_order_relaxed);
  if (v < 0) {
    __builtin_cpu_init();
    v = __builtin_cpu_supports("avx2") && getenv("BIOGPU_NO_SIMD") == NULL;
    atomic_store_explicit(&ok, v, memory_order_relaxed);
  }
  return v;
}
/* AVX-512 F + DQ (64-bit lane multiplies), for the screen's hashing; BIOGPU_NO_SIMD turns it off too. */
static inline int bg_avx512_usable(void) {
  static _Atomic int ok = -1;
  int v = atomic_load_explicit(&ok, memory_order_relaxed);
  if (v < 0) {
    __builtin_cpu_init();
    v = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && getenv("BIOGPU_NO_SIMD") == NULL;
    atomic_store_explicit(&ok, v, memory_order_relaxed);
  }
  return v;
}
/* ... and byte permutes (AVX-512 VBMI, BW), for the screen's k-mer extraction. */
static inline int bg_avx512vbmi_usable(void) {
  static _Atomic int ok = -1;
  int v = atomic_load_explicit(&ok, memory_order_relaxed);
  if (v < 0) {
    __builtin_cpu_init();
    v = bg_avx512_usable() && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi");
    atomic_store_explicit(&ok, v, memory_order_relaxed);
  }
  return v;
}
#endif

#endif
