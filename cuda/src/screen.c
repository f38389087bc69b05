/* screen.c — CPU twin of the CUDA screen (screen.cu): the cheap k-mer Bloom test that decides which
 * read pairs are worth mapping. Both call bg_screen_read from internal.h, so they agree exactly. */
#include <string.h>

#include "cpu.h"
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

/* Sampled canonical k-mers (not yet hashed) of one read, the same positions as bg_screen_read; returns how many. Reads without N
 * (nearly all) take a branch-free loop that rolls the forward k-mer only and derives the reverse
 * complement at the sampled positions; a read with N takes the reference loop. */
static uint32_t sample_kmers(const uint8_t *s, uint32_t len, uint64_t *out, uint32_t cap) {
  uint32_t n = 0;
  if (len >= BG_K && (len - BG_K) / BG_SCREEN_STRIDE + 1 <= cap) {
    /* of the normalised bases only N (0x4E) has bit 3 set: `bad` collects it as the loop runs */
    uint32_t bad = 0;
    uint64_t fw = 0;
    for (uint32_t i = 0; i < BG_K - 1; i++) { bad |= s[i]; fw = (fw << 2) | bg_norm_code(s[i]); }
    for (uint32_t i = BG_K - 1; i < len; i += BG_SCREEN_STRIDE) {
      uint32_t end = i + BG_SCREEN_STRIDE < len ? BG_SCREEN_STRIDE : len - i;
      bad |= s[i];
      fw = ((fw << 2) | bg_norm_code(s[i])) & BG_KMASK;
      uint64_t rv = rc_kmer(fw);
      out[n++] = (fw < rv ? fw : rv);
      for (uint32_t j = 1; j < end; j++) {
        bad |= s[i + j];
        fw = (fw << 2) | bg_norm_code(s[i + j]);
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
    c = bg_norm_code((uint8_t)c); /* A0 C1 G2 T3 for normalised bases */
    fw = ((fw << 2) | c) & BG_KMASK;
    rv = (rv >> 2) | ((uint64_t)(3u - c) << (2 * (BG_K - 1)));
    if (++valid >= BG_K && (valid - BG_K) % BG_SCREEN_STRIDE == 0 && n < cap) out[n++] = (fw < rv ? fw : rv);
  }
  return n;
}

#ifdef BG_HAVE_AVX2_FORMS
#include <immintrin.h>
/* AVX2 form of sample_kmers for reads of BG_K..BG_SIMD_MAX_LEN bases. Packs the read to 2 bits a base,
 * 32 bases per step (maddubs/madd gather four codes into a byte), twice: first base in the high bits
 * (a big-endian load of 8 bytes, shifted, is the forward k-mer) and first base in the low bits (a
 * little-endian load, shifted and complemented, is the reverse complement). N bases are found in the same
 * pass; as in the reference loop, k-mers restart after each N, so a read with N samples from the first
 * base after each N on. */
#define BG_SIMD_MAX_LEN 512u

/* The canonical k-mer of bases p .. p + BG_K - 1 from the two packings: 8 bytes loaded at p / 4, shifted by
 * p % 4 bases. */
static inline uint64_t packed_kmer(const uint8_t *hi_first, const uint8_t *lo_first, uint32_t p) {
  uint64_t a, b;
  uint32_t sh = 2 * (p & 3);
  memcpy(&a, hi_first + p / 4, 8);
  memcpy(&b, lo_first + p / 4, 8);
  uint64_t fw = (__builtin_bswap64(a) << sh) >> (64 - 2 * BG_K), rv = ~(b >> sh) & BG_KMASK;
  return fw < rv ? fw : rv;
}

#if BG_SCREEN_STRIDE != 8
#error "emit_avx512 takes k-mers 8 bases (2 packed bytes) apart"
#endif
/* Byte permutations making lane j (0..7) the 8 packed bytes at 2 j: reversed (first base in the high bits) for
 * the forward k-mer, as they are for the reverse complement's packing. */
static const uint8_t EMIT_IDX_FW[64] = {7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 11, 10, 9, 8, 7, 6, 5, 4,
                                        13, 12, 11, 10, 9, 8, 7, 6, 15, 14, 13, 12, 11, 10, 9, 8, 17, 16, 15, 14, 13, 12, 11, 10,
                                        19, 18, 17, 16, 15, 14, 13, 12, 21, 20, 19, 18, 17, 16, 15, 14};
static const uint8_t EMIT_IDX_RV[64] = {0, 1, 2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6, 7, 8, 9, 4, 5, 6, 7, 8, 9, 10, 11,
                                        6, 7, 8, 9, 10, 11, 12, 13, 8, 9, 10, 11, 12, 13, 14, 15, 10, 11, 12, 13, 14, 15, 16, 17,
                                        12, 13, 14, 15, 16, 17, 18, 19, 14, 15, 16, 17, 18, 19, 20, 21};

/* The canonical k-mers starting at from, from + 8, ... (while p + BG_K <= to) appended to out[n .. cap): what
 * packed_kmer gives, eight a step (AVX-512 VBMI). hi/lo must be readable 32 bytes past from / 4 + 2 * (k-mers - 1). */
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vbmi"))) static uint32_t
emit_avx512(const uint8_t *hi, const uint8_t *lo, uint32_t from, uint32_t to, uint64_t *out, uint32_t n, uint32_t cap) {
  if (to < from + BG_K || n >= cap) return n;
  uint32_t cnt = (to - from - BG_K) / BG_SCREEN_STRIDE + 1;
  if (cnt > cap - n) cnt = cap - n;
  const __m512i ifw = _mm512_loadu_si512(EMIT_IDX_FW), irv = _mm512_loadu_si512(EMIT_IDX_RV);
  const __m512i sh = _mm512_set1_epi64(2 * (from & 3)), kmask = _mm512_set1_epi64((long long)BG_KMASK);
  for (uint32_t done = 0; done < cnt; done += 8) {
    uint32_t at = from / 4 + 2 * done;
    __m512i h = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(hi + at)));
    __m512i l = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(lo + at)));
    __m512i fw = _mm512_srli_epi64(_mm512_sllv_epi64(_mm512_permutexvar_epi8(ifw, h), sh), 64 - 2 * BG_K);
    __m512i rv = _mm512_andnot_si512(_mm512_srlv_epi64(_mm512_permutexvar_epi8(irv, l), sh), kmask);
    uint32_t k = cnt - done < 8 ? cnt - done : 8;
    _mm512_mask_storeu_epi64(out + n + done, (__mmask8)((1u << k) - 1), _mm512_min_epu64(fw, rv));
  }
  return n + cnt;
}

__attribute__((target("avx2"))) static uint32_t sample_kmers_avx2(const uint8_t *s, uint32_t len, uint32_t readable,
                                                                 uint64_t *out, uint32_t cap, int wide) {
  uint8_t hi_first[BG_SIMD_MAX_LEN / 4 + 48], lo_first[BG_SIMD_MAX_LEN / 4 + 48];
  uint32_t nmask[BG_SIMD_MAX_LEN / 32]; /* bit j of word b: base 32 b + j is N */
  const __m256i three = _mm256_set1_epi8(3);
  const __m256i w1h = _mm256_set1_epi16(0x0104), w2h = _mm256_set1_epi32(0x00010010); /* 64a+16b+4c+d */
  const __m256i w1l = _mm256_set1_epi16(0x0401), w2l = _mm256_set1_epi32(0x00100001); /* a+4b+16c+64d */
  const __m256i gather = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  uint32_t i = 0;
  for (; i < len; i += 32) {
    __m256i v;
    uint32_t keep = 0xffffffffu; /* bases of this read among the 32 loaded */
    if (i + 32 <= readable) {
      v = _mm256_loadu_si256((const __m256i *)(s + i));
      if (i + 32 > len) keep = (1u << (len - i)) - 1; /* the rest is the next read's: never in a k-mer */
    } else {
      uint8_t tail[32];
      memset(tail, 'A', sizeof tail);
      memcpy(tail, s + i, len - i);
      v = _mm256_loadu_si256((const __m256i *)tail);
    }
    nmask[i / 32] = (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(v, 4)) & keep; /* bit 3: only N has it */
    __m256i code = _mm256_and_si256(_mm256_srli_epi16(_mm256_xor_si256(v, _mm256_srli_epi16(v, 1)), 1), three);
    __m256i qh = _mm256_shuffle_epi8(_mm256_madd_epi16(_mm256_maddubs_epi16(code, w1h), w2h), gather);
    __m256i ql = _mm256_shuffle_epi8(_mm256_madd_epi16(_mm256_maddubs_epi16(code, w1l), w2l), gather);
    uint32_t x;
    x = (uint32_t)_mm256_extract_epi32(qh, 0); memcpy(hi_first + i / 4, &x, 4);
    x = (uint32_t)_mm256_extract_epi32(qh, 4); memcpy(hi_first + i / 4 + 4, &x, 4);
    x = (uint32_t)_mm256_extract_epi32(ql, 0); memcpy(lo_first + i / 4, &x, 4);
    x = (uint32_t)_mm256_extract_epi32(ql, 4); memcpy(lo_first + i / 4 + 4, &x, 4);
  }
  memset(hi_first + i / 4, 0, 40); /* the last loads (8 bytes; 32 for emit_avx512) may reach past the packed bases */
  memset(lo_first + i / 4, 0, 40);
  /* N-free stretches [from, to) (the whole read when it holds none): k-mers start at from, from + stride, ... */
  uint32_t n = 0, from = 0;
  for (uint32_t b = 0; b * 32 < len; b++) {
    for (uint32_t m = nmask[b]; m; m &= m - 1) {
      uint32_t to = b * 32 + (uint32_t)__builtin_ctz(m);
      if (wide) n = emit_avx512(hi_first, lo_first, from, to, out, n, cap);
      else
        for (uint32_t p = from; p + BG_K <= to && n < cap; p += BG_SCREEN_STRIDE) out[n++] = packed_kmer(hi_first, lo_first, p);
      from = to + 1;
    }
  }
  if (wide) return emit_avx512(hi_first, lo_first, from, len, out, n, cap);
  for (uint32_t p = from; p + BG_K <= len && n < cap; p += BG_SCREEN_STRIDE)
    out[n++] = packed_kmer(hi_first, lo_first, p);
  return n;
}
#endif

#ifdef BG_HAVE_AVX2_FORMS
/* bg_mix64 of n values in place, eight at a time (64-bit lane multiplies of AVX-512 DQ). */
__attribute__((target("avx512f,avx512dq"))) static void mix_all_avx512(uint64_t *x, uint32_t n) {
  const __m512i c1 = _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ull), c2 = _mm512_set1_epi64((long long)0x94d049bb133111ebull);
  for (uint32_t i = 0; i < n; i += 8) {
    __mmask8 k = n - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - i)) - 1);
    __m512i v = _mm512_maskz_loadu_epi64(k, x + i);
    v = _mm512_mullo_epi64(_mm512_xor_si512(v, _mm512_srli_epi64(v, 30)), c1);
    v = _mm512_mullo_epi64(_mm512_xor_si512(v, _mm512_srli_epi64(v, 27)), c2);
    v = _mm512_xor_si512(v, _mm512_srli_epi64(v, 31));
    _mm512_mask_storeu_epi64(x + i, k, v);
  }
}
#endif

#ifdef BG_HAVE_AVX2_FORMS
/* How many of n hashes have all their filter bits set (bg_filter_add_bits), eight at a time: the words
 * gathered, the three bits of each made by lane shifts. */
__attribute__((target("avx512f,avx512dq"))) static uint32_t probe_avx512(const uint64_t *words, uint64_t mask,
                                                                        const uint64_t *h, uint32_t n) {
  const __m512i wmask = _mm512_set1_epi64((long long)mask), low6 = _mm512_set1_epi64(63), one = _mm512_set1_epi64(1);
  uint32_t hits = 0;
  for (uint32_t i = 0; i < n; i += 8) {
    __mmask8 k = n - i >= 8 ? (__mmask8)0xff : (__mmask8)((1u << (n - i)) - 1);
    __m512i v = _mm512_maskz_loadu_epi64(k, h + i);
    __m512i m = _mm512_or_si512(
        _mm512_or_si512(_mm512_sllv_epi64(one, _mm512_and_si512(_mm512_srli_epi64(v, 40), low6)),
                        _mm512_sllv_epi64(one, _mm512_and_si512(_mm512_srli_epi64(v, 46), low6))),
        _mm512_sllv_epi64(one, _mm512_and_si512(_mm512_srli_epi64(v, 52), low6)));
    __m512i w = _mm512_mask_i64gather_epi64(_mm512_setzero_si512(), k, _mm512_and_si512(v, wmask), words, 8);
    hits += (uint32_t)__builtin_popcount(_mm512_mask_cmpeq_epi64_mask(k, _mm512_and_si512(w, m), m));
  }
  return hits;
}
#endif

/* bg_mix64 of n values in place; simd: 0 the scalar form, 1 AVX2 forms at most (the same), 2 the fastest. */
static void mix_all(uint64_t *x, uint32_t n, int simd) {
#ifdef BG_HAVE_AVX2_FORMS
  if (simd >= 2 && bg_avx512_usable()) { mix_all_avx512(x, n); return; }
#endif
  for (uint32_t i = 0; i < n; i++) x[i] = bg_mix64(x[i]);
}

/* One read's sampled canonical k-mers, not yet hashed; simd as for bg_screen_sample. */
static uint32_t sample_canon(const uint8_t *s, uint32_t len, uint32_t readable, uint64_t *out, uint32_t cap, int simd) {
#ifdef BG_HAVE_AVX2_FORMS
  if (simd && len >= BG_K && len <= BG_SIMD_MAX_LEN && (len - BG_K) / BG_SCREEN_STRIDE + 1 <= cap && bg_avx2_usable())
    return sample_kmers_avx2(s, len, readable, out, cap, simd >= 2 && bg_avx512vbmi_usable());
#else
  (void)simd; (void)readable;
#endif
  return sample_kmers(s, len, out, cap);
}

/* One read's sampled k-mer hashes; simd: 0 the scalar forms, 1 AVX2 forms at most, 2 the fastest this CPU runs. */
uint32_t bg_screen_sample(const uint8_t *s, uint32_t len, uint32_t readable, uint64_t *out, uint32_t cap, int simd) {
  uint32_t n = sample_canon(s, len, readable, out, cap, simd);
  mix_all(out, n, simd);
  return n;
}

/* CPU form: the same decision (sampled k-mers of R1 and R2 in the filter >= BG_SCREEN_NEED). The filter
 * words of pair i + 1 are prefetched before pair i is tested, so the cache misses overlap with work. */
void bg_screen_batch_cpu(const bg_db_t *db, const uint8_t *seq1, const uint32_t *off1, const uint8_t *seq2,
                         const uint32_t *off2, uint32_t n, uint8_t *flags) {
  uint64_t h[2][512];
  uint32_t k[2] = {0, 0};
  const uint64_t *words = db->filter, mask = db->filter_mask;
#ifdef BG_HAVE_AVX2_FORMS
  const int wide = bg_avx512_usable();
#endif
  for (uint32_t i = 0; i <= n; i++) {
    uint64_t *cur = h[i & 1];
    k[i & 1] = 0;
    if (i < n) { /* sample and prefetch pair i */
      uint32_t l1 = off1[i + 1] - off1[i], l2 = off2[i + 1] - off2[i];
      if (i + 4 < n) { /* the bases of pair i + 4, which the last stage wrote long ago */
        for (uint32_t b = off1[i + 4]; b < off1[i + 5]; b += 64) __builtin_prefetch(seq1 + b);
        for (uint32_t b = off2[i + 4]; b < off2[i + 5]; b += 64) __builtin_prefetch(seq2 + b);
      }
      if (l1 + l2 > 8 * 256) { /* very long reads: the reference path */
        bg_screen_batch_ref(db, seq1, off1 + i, seq2, off2 + i, 1, flags + i);
        k[i & 1] = UINT32_MAX;
      } else {
        uint32_t c = sample_canon(seq1 + off1[i], l1, off1[n] - off1[i], cur, 512, 2);
        c += sample_canon(seq2 + off2[i], l2, off2[n] - off2[i], cur + c, 512 - c, 2);
        mix_all(cur, c, 2); /* both mates' k-mers hashed together: fewer partial vectors */
        for (uint32_t j = 0; j < c; j++) __builtin_prefetch(&words[cur[j] & mask]);
        k[i & 1] = c;
      }
    }
    if (i > 0 && k[(i - 1) & 1] != UINT32_MAX) { /* test pair i - 1 */
      const uint64_t *prev = h[(i - 1) & 1];
      uint32_t c = k[(i - 1) & 1];
      uint32_t hits = 0; /* every probe, without an early exit: nearly all pairs test them all anyway */
#ifdef BG_HAVE_AVX2_FORMS
      if (wide) hits = probe_avx512(words, mask, prev, c);
      else
#endif
        for (uint32_t j = 0; j < c; j++) {
          uint64_t wi, m;
          bg_filter_add_bits(prev[j], &wi, &m, mask);
          hits += (words[wi] & m) == m;
        }
      flags[i - 1] = hits >= BG_SCREEN_NEED;
    }
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
int bg_cuda_devices_error(char *buf, size_t n) { (void)buf; (void)n; return 0; }
#endif
