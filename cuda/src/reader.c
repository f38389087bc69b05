/*
 * reader.c — streaming paired FASTQ reader (see reader.h for the contract).
 *
 * Layout of one input ("source"):
 *
 *   inflater thread                      consumer (bg_pair_reader_next)
 *   read() 1 MiB ─► isal_inflate ─► ring of BG_READER_SLOTS blocks ─► memchr line split
 *                                   (1 MiB each, line-aligned)        + LUT normalisation
 *
 * The inflater thread owns the block it fills; a block is handed to the consumer
 * only when it ends at a '\n' (the partial last line is carried into the next
 * block), so the consumer never sees a line cut in two and parses straight out of
 * the ring with no copy. Only the end-of-file block may lack a final '\n'. A block
 * without any '\n' is grown (doubling) up to BG_READER_MAX_LINE.
 *
 * Errors of the inflater (I/O, corrupt gzip, over-long line) are kept on the
 * source and reported to the consumer once it has parsed every block published
 * before the error, so a truncated gzip reports CORRUPT_GZIP, not a cut record.
 *
 * Threads: one inflater per source, plus the single consumer thread; for bgzip
 * input optionally helper threads per source (pump_bgzf), which touch only their
 * jobs, under the pool's mutex. The ring indices, `done`, `status` and `msg` are
 * guarded by the source's mutex; `stop` and `bytes_read` are atomics.
 */
#define _GNU_SOURCE /* memrchr */
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <isa-l/igzip_lib.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "cpu.h"
#include "internal.h" /* bg_thread_name */
#ifdef BG_HAVE_AVX2_FORMS
#include <immintrin.h> /* AVX2 forms of the sequence and quality checks, chosen at run time */
#endif

/* Tunables; the fuzz build shrinks them to exercise block boundaries. */
#ifndef BG_READER_BLOCK_SIZE
#define BG_READER_BLOCK_SIZE ((size_t)1 << 18)  /* decompressed bytes per ring block */
#endif
#ifndef BG_READER_INPUT_SIZE
#define BG_READER_INPUT_SIZE ((size_t)1 << 20)  /* bytes per read() of the compressed file */
#endif
#ifndef BG_READER_MAX_LINE
#define BG_READER_MAX_LINE ((size_t)64 << 20)   /* longest accepted FASTQ line */
#endif
#ifndef BG_READER_SLOTS
#define BG_READER_SLOTS 32                       /* blocks in each ring (8 MiB): slack between R1, R2 and the parser */
#endif
#ifndef BG_READER_WAKE_BLOCKS
/* A waiting parser is woken when this many blocks are ready, a waiting inflater when this many are free (or at
 * the end): not at every block, so that the two do not take turns on a core block by block, each turn a
 * context switch (in a VM, an inter-processor interrupt). */
#define BG_READER_WAKE_BLOCKS 8
#endif
#define BG_WAKE (BG_READER_WAKE_BLOCKS < BG_READER_SLOTS ? BG_READER_WAKE_BLOCKS : BG_READER_SLOTS)
#define BG_READER_MSG 512
/* Bases per batch are capped so offsets (uint32_t) cannot overflow. */
#define BG_READER_MAX_BATCH_BASES ((uint64_t)1 << 31)

/* ------------------------------------------------------------------------- */
/* Messages                                                                   */
/* ------------------------------------------------------------------------- */

/* snprintf into a caller buffer that may be NULL or tiny; always NUL-terminated. */
static void put_msg(char *dst, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void put_msg(char *dst, size_t len, const char *fmt, ...) {
  if (dst == NULL || len == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dst, len, fmt, ap);
  va_end(ap);
}

/* Copies up to 80 bytes of `s` into `out` (>= 84 bytes), replacing non-printable bytes by '?'. */
static void printable(char *out, const char *s, size_t n) {
  size_t k = n > 80 ? 80 : n;
  for (size_t i = 0; i < k; i++) {
    unsigned char c = (unsigned char)s[i];
    out[i] = (c >= 32 && c < 127) ? (char)c : '?';
  }
  if (n > k) {
    memcpy(out + k, "...", 3);
    k += 3;
  }
  out[k] = '\0';
}

/* ------------------------------------------------------------------------- */
/* Sequence normalisation                                                     */
/* ------------------------------------------------------------------------- */

/* 'A','C','G','T' for acgtACGT, 'N' for any other printable byte, 0 for control/binary bytes. */
static unsigned char g_norm[256];
static pthread_once_t g_norm_once = PTHREAD_ONCE_INIT;

static void norm_table_init(void) {
  for (int c = 0; c < 256; c++) g_norm[c] = (c > 32 && c < 127) ? 'N' : 0;
  g_norm['A'] = g_norm['a'] = 'A';
  g_norm['C'] = g_norm['c'] = 'C';
  g_norm['G'] = g_norm['g'] = 'G';
  g_norm['T'] = g_norm['t'] = 'T';
}

/* Normalises n bytes of src into dst from byte i on, one byte at a time. Returns the index of the first
 * invalid byte, or n. */
static size_t normalise_tail(char *restrict dst, const char *restrict src, size_t i, size_t n) {
  for (; i < n; i++) {
    unsigned char m = g_norm[(unsigned char)src[i]];
    if (m == 0) return i;
    dst[i] = (char)m;
  }
  return n;
}

/* 1 when bytes i..n of q are all Phred+33 quality characters ('!'..'~'). Vectorised by the compiler. */
static int quality_tail_ok(const char *q, size_t i, size_t n) {
  unsigned bad = 0;
  for (; i < n; i++) bad |= (unsigned char)((unsigned char)q[i] - 33u) > 93u;
  return bad == 0;
}

#ifdef BG_HAVE_AVX2_FORMS
/* One 32-byte step of normalise_avx2: 1 when every byte is printable (then written to dst: acgtACGT
 * upper-cased, any other printable byte 'N'), 0 when one is not (nothing written). */
__attribute__((target("avx2"))) static inline int normalise32(char *dst, const char *src) {
  const __m256i lower_bit = _mm256_set1_epi8((char)0xDF), n = _mm256_set1_epi8('N');
  const __m256i a = _mm256_set1_epi8('A'), c = _mm256_set1_epi8('C');
  const __m256i g = _mm256_set1_epi8('G'), t = _mm256_set1_epi8('T');
  const __m256i space = _mm256_set1_epi8(' '), del = _mm256_set1_epi8(127);
  __m256i raw = _mm256_loadu_si256((const __m256i *)src), v = _mm256_and_si256(raw, lower_bit);
  __m256i acgt = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, a), _mm256_cmpeq_epi8(v, c)),
                                 _mm256_or_si256(_mm256_cmpeq_epi8(v, g), _mm256_cmpeq_epi8(v, t)));
  if ((uint32_t)_mm256_movemask_epi8(acgt) != 0xFFFFFFFFu) { /* N, IUPAC codes or invalid bytes */
    /* printable: 32 < byte < 127 (signed compares: bytes >= 0x80 are negative) */
    __m256i printable = _mm256_and_si256(_mm256_cmpgt_epi8(raw, space), _mm256_cmpgt_epi8(del, raw));
    if ((uint32_t)_mm256_movemask_epi8(printable) != 0xFFFFFFFFu) return 0;
    v = _mm256_blendv_epi8(n, v, acgt);
  }
  _mm256_storeu_si256((__m256i *)dst, v);
  return 1;
}

/* 32 bytes a step, the last step overlapping the one before when n is not a multiple of 32 (it writes the
 * same bytes again); as normalise_tail (the table) byte for byte, which finds an invalid byte's index. */
__attribute__((target("avx2"))) static size_t normalise_avx2(char *restrict dst, const char *restrict src, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    if (!normalise32(dst + i, src + i)) return normalise_tail(dst, src, i, n);
  if (i == n) return n;
  if (n < 32 || !normalise32(dst + n - 32, src + n - 32)) return normalise_tail(dst, src, i, n);
  return n;
}
/* 1 when every byte is a Phred+33 quality character ('!'..'~'); the last step overlaps as in normalise_avx2. */
__attribute__((target("avx2"))) static int quality_ok_avx2(const char *q, size_t n) {
  const __m256i lo = _mm256_set1_epi8('!'), hi = _mm256_set1_epi8('~');
  __m256i bad = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) { /* signed compares: bytes >= 0x80 are negative, so below '!' */
    __m256i v = _mm256_loadu_si256((const __m256i *)(q + i));
    bad = _mm256_or_si256(bad, _mm256_or_si256(_mm256_cmpgt_epi8(lo, v), _mm256_cmpgt_epi8(v, hi)));
  }
  if (i < n && n >= 32) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(q + n - 32));
    bad = _mm256_or_si256(bad, _mm256_or_si256(_mm256_cmpgt_epi8(lo, v), _mm256_cmpgt_epi8(v, hi)));
    i = n;
  }
  return _mm256_testz_si256(bad, bad) && quality_tail_ok(q, i, n);
}
#endif

/* Normalises n bytes of src into dst. Returns the index of the first invalid byte, or n. */
static size_t normalise_seq(char *restrict dst, const char *restrict src, size_t n) {
#ifdef BG_HAVE_AVX2_FORMS
  if (bg_avx2_usable()) return normalise_avx2(dst, src, n);
#endif
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i lower_bit = _mm_set1_epi8((char)0xDF);
  const __m128i a = _mm_set1_epi8('A'), c = _mm_set1_epi8('C');
  const __m128i g = _mm_set1_epi8('G'), t = _mm_set1_epi8('T');
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_and_si128(_mm_loadu_si128((const __m128i *)(src + i)), lower_bit);
    __m128i ok = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, a), _mm_cmpeq_epi8(v, c)),
                              _mm_or_si128(_mm_cmpeq_epi8(v, g), _mm_cmpeq_epi8(v, t)));
    if (_mm_movemask_epi8(ok) == 0xFFFF) {
      _mm_storeu_si128((__m128i *)(dst + i), v);
    } else {
      size_t bad = normalise_tail(dst, src, i, i + 16);
      if (bad < i + 16) return bad;
    }
  }
#endif
  return normalise_tail(dst, src, i, n);
}

/* 1 when every byte is a Phred+33 quality character ('!'..'~'). */
static int quality_ok(const char *q, size_t n) {
#ifdef BG_HAVE_AVX2_FORMS
  if (bg_avx2_usable()) return quality_ok_avx2(q, n);
#endif
  return quality_tail_ok(q, 0, n);
}

/* ------------------------------------------------------------------------- */
/* Sources: one input file, its inflater thread and its ring of blocks        */
/* ------------------------------------------------------------------------- */

typedef struct bg_slot_t {
  char *data;
  size_t cap, len;
} bg_slot_t;

typedef enum { SRC_OK = 0, SRC_LINE_TOO_LONG = 1 } src_detail_t;

typedef struct bg_source_t {
  /* Fixed after open. */
  const char *label;  /* "R1" / "R2" */
  char *path;
  int fd;
  int pollable;           /* a pipe, FIFO, socket or terminal: read() may wait for the writer indefinitely */
  uint64_t size;
  int inflate_threads;    /* >= 2: bgzip members are inflated by that many helper threads */

  /* Shared; guarded by mu. */
  pthread_mutex_t mu;
  pthread_cond_t can_fill, can_read;
  bg_slot_t slot[BG_READER_SLOTS];
  unsigned head, count;   /* consumer reads slot[head]; count = published, not yet released */
  int fill_waiting, read_waiting; /* the inflater waits for free blocks / the consumer for published ones */
  int done;               /* inflater finished (EOF, error or stop) */
  bg_status_t status;     /* inflater result, valid once done */
  src_detail_t detail;
  char msg[BG_READER_MSG];
  atomic_int stop;
  atomic_uint_fast64_t bytes_read;
  pthread_t thread;
  int thread_started;
  int sync_ready;

  /* Inflater thread only. */
  bg_slot_t *fill;        /* block being filled, or NULL */
  char *carry;            /* partial last line moved to the next block */
  size_t carry_len, carry_cap;
  uint8_t *in;
  struct inflate_state *zs;

  /* Consumer only. */
  const char *cur;        /* held block, or NULL */
  size_t cur_len, pos;
  int holding, at_eof;
  uint64_t line;          /* lines consumed so far */
  char *name;             /* read-name key of the last record */
  size_t name_cap, name_len;
  int mate;               /* the last record's mate number from its name (/1, ' 1:N:…'), 0 when unmarked */
  const atomic_int *cancel; /* the caller's cancel flag (bg_pair_reader_set_cancel), or NULL */
  char head_bytes[8];     /* first bytes of the file, for format hints */
  size_t head_len;
} bg_source_t;

struct bg_pair_reader_t {
  bg_source_t src[2];
  uint64_t pairs;         /* pairs returned so far */
  bg_status_t failed;     /* sticky error */
  char fail_msg[BG_READER_MSG];
  int finished;
};

static void src_fail(bg_source_t *s, bg_status_t st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void src_fail(bg_source_t *s, bg_status_t st, const char *fmt, ...) {
  pthread_mutex_lock(&s->mu);
  if (s->status == BG_OK) {
    s->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
  }
  pthread_mutex_unlock(&s->mu);
}

static int src_stopped(bg_source_t *s) { return atomic_load_explicit(&s->stop, memory_order_relaxed); }

/* Inflater: waits for a free slot. NULL when stopped. */
static bg_slot_t *slot_for_fill(bg_source_t *s) {
  pthread_mutex_lock(&s->mu);
  while (s->count == BG_READER_SLOTS && !atomic_load(&s->stop)) {
    s->fill_waiting = 1;
    pthread_cond_wait(&s->can_fill, &s->mu);
  }
  s->fill_waiting = 0;
  bg_slot_t *slot = atomic_load(&s->stop) ? NULL : &s->slot[(s->head + s->count) % BG_READER_SLOTS];
  pthread_mutex_unlock(&s->mu);
  return slot;
}

static void slot_publish(bg_source_t *s) {
  pthread_mutex_lock(&s->mu);
  s->count++;
  if (s->read_waiting && s->count >= BG_WAKE) pthread_cond_signal(&s->can_read);
  pthread_mutex_unlock(&s->mu);
  s->fill = NULL;
}

static int slot_reserve(bg_slot_t *slot, size_t need) {
  if (slot->cap >= need) return 1;
  size_t cap = slot->cap ? slot->cap : BG_READER_BLOCK_SIZE;
  while (cap < need) cap *= 2;
  char *p = realloc(slot->data, cap);
  if (p == NULL) return 0;
  bg_prefault(p, slot->cap, cap);
  slot->data = p;
  slot->cap = cap;
  return 1;
}

/* Inflater: takes a free block and puts the carried partial line at its start. */
static bg_status_t fill_begin(bg_source_t *s) {
  bg_slot_t *slot = slot_for_fill(s);
  if (slot == NULL) return BG_ERR_CANCELLED;
  if (!slot_reserve(slot, s->carry_len + BG_READER_BLOCK_SIZE / 2)) {
    src_fail(s, BG_ERR_HOST_OOM, "Cannot read %s: out of memory for a %zu-byte block (%s)", s->label,
             s->carry_len + BG_READER_BLOCK_SIZE / 2, s->path);
    return BG_ERR_HOST_OOM;
  }
  if (s->carry_len > 0) memcpy(slot->data, s->carry, s->carry_len);
  slot->len = s->carry_len;
  s->carry_len = 0;
  s->fill = slot;
  return BG_OK;
}

/* Inflater: the filled block is full. Publish it up to its last '\n', or grow it if it holds none. */
static bg_status_t fill_full(bg_source_t *s) {
  bg_slot_t *slot = s->fill;
  const char *nl = memrchr(slot->data, '\n', slot->len);
  if (nl == NULL) {
    if (slot->cap >= BG_READER_MAX_LINE) {
      pthread_mutex_lock(&s->mu);
      s->detail = SRC_LINE_TOO_LONG;
      pthread_mutex_unlock(&s->mu);
      if (BG_READER_MAX_LINE >= ((size_t)1 << 20))
        src_fail(s, BG_ERR_MALFORMED_FASTQ, "line is longer than %zu MiB", BG_READER_MAX_LINE >> 20);
      else
        src_fail(s, BG_ERR_MALFORMED_FASTQ, "line is longer than %zu KiB", BG_READER_MAX_LINE >> 10);
      return BG_ERR_MALFORMED_FASTQ;
    }
    if (!slot_reserve(slot, slot->cap * 2)) {
      src_fail(s, BG_ERR_HOST_OOM, "Cannot read %s: out of memory for a %zu-byte line (%s)", s->label,
               slot->cap * 2, s->path);
      return BG_ERR_HOST_OOM;
    }
    return BG_OK;
  }
  size_t keep = (size_t)(nl - slot->data) + 1, tail = slot->len - keep;
  if (tail > s->carry_cap) {
    char *p = realloc(s->carry, tail);
    if (p == NULL) {
      src_fail(s, BG_ERR_HOST_OOM, "Cannot read %s: out of memory (%s)", s->label, s->path);
      return BG_ERR_HOST_OOM;
    }
    s->carry = p;
    s->carry_cap = tail;
  }
  memcpy(s->carry, slot->data + keep, tail);
  s->carry_len = tail;
  slot->len = keep;
  slot_publish(s);
  return fill_begin(s);
}

/* Inflater: publishes what is left at end of file. */
static void fill_end(bg_source_t *s) {
  if (s->fill != NULL && s->fill->len > 0) slot_publish(s);
  s->fill = NULL;
}

#ifndef BG_READER_POLL_MS
#define BG_READER_POLL_MS 50 /* how often a wait on a stalled pipe, or on a stalled inflater, checks for a stop */
#endif

/* read() that retries EINTR; counts bytes for progress. Returns bytes read, 0 at EOF, -1 on error. */
static ssize_t src_read(bg_source_t *s, void *buf, size_t n) {
  for (;;) {
    /* A pipe or FIFO whose writer stalls would block read() until it writes or closes, and the reader could
     * not be stopped (a cancelled run would wait on it): wait for data in slices, watching the stop flag. */
    while (s->pollable) {
      if (src_stopped(s)) {
        src_fail(s, BG_ERR_CANCELLED, "Cannot read %s: reading was stopped (%s)", s->label, s->path);
        return -1;
      }
      struct pollfd pf = {.fd = s->fd, .events = POLLIN};
      int pr = poll(&pf, 1, BG_READER_POLL_MS);
      if (pr > 0 || (pr < 0 && errno != EINTR)) break; /* data, end of file or an error: read() says which */
    }
    ssize_t k = read(s->fd, buf, n);
    if (k >= 0) {
      atomic_fetch_add_explicit(&s->bytes_read, (uint64_t)k, memory_order_relaxed);
      return k;
    }
    if (errno != EINTR) {
      int e = errno;
      src_fail(s, e == EACCES ? BG_ERR_PERMISSION_DENIED : BG_ERR_IO, "Cannot read %s: %s (%s)", s->label,
               e == EISDIR ? "path is a directory" : strerror(e), s->path);
      return -1;
    }
  }
}

/* Inflater for plain FASTQ: reads straight into the ring blocks. `have` bytes are already in s->in. */
static bg_status_t pump_plain(bg_source_t *s, size_t have) {
  bg_status_t st = fill_begin(s);
  if (st != BG_OK) return st;
  if (!slot_reserve(s->fill, s->fill->len + have)) { /* the first read may be larger than a block */
    src_fail(s, BG_ERR_HOST_OOM, "Cannot read %s: out of memory for a %zu-byte block (%s)", s->label, s->fill->len + have, s->path);
    return BG_ERR_HOST_OOM;
  }
  memcpy(s->fill->data + s->fill->len, s->in, have);
  s->fill->len += have;
  for (;;) {
    if (src_stopped(s)) return BG_ERR_CANCELLED;
    if (s->fill->len == s->fill->cap && (st = fill_full(s)) != BG_OK) return st;
    size_t want = s->fill->cap - s->fill->len;
    if (want > BG_READER_INPUT_SIZE) want = BG_READER_INPUT_SIZE;
    ssize_t k = src_read(s, s->fill->data + s->fill->len, want);
    if (k < 0) return BG_ERR_IO;
    if (k == 0) break;
    s->fill->len += (size_t)k;
  }
  fill_end(s);
  return BG_OK;
}

static const char *isal_error_text(int ret) {
  switch (ret) {
  case ISAL_INCORRECT_CHECKSUM: return "CRC or length check failed";
  case ISAL_INVALID_WRAPPER: return "invalid gzip header";
  case ISAL_UNSUPPORTED_METHOD: return "unsupported compression method";
  case ISAL_INVALID_BLOCK: return "invalid deflate block";
  case ISAL_INVALID_SYMBOL: return "invalid deflate symbol";
  case ISAL_INVALID_LOOKBACK: return "invalid back-reference distance";
  case ISAL_NEED_DICT: return "stream needs a preset dictionary";
  default: return "inflate failed";
  }
}

/*
 * Inflater for gzip: any number of concatenated members (bgzip), each checked
 * (CRC32 and length) by ISA-L. Trailing zero bytes after the last member are
 * ignored, as GNU gzip does; any other trailing data is an error.
 */
/* Inflater: out of memory for its buffers. */
static bg_status_t inflater_oom(bg_source_t *s) {
  src_fail(s, BG_ERR_HOST_OOM, "Cannot read %s: out of memory for the inflater (%s)", s->label, s->path);
  return BG_ERR_HOST_OOM;
}

#define BG_BGZF_MAX_ISIZE ((uint32_t)1 << 16) /* the BGZF limit on a member's inflated size */
static long bgzf_member_len(const uint8_t *p, size_t n, int final);
static uint32_t le32(const uint8_t *p);

static bg_status_t pump_gzip(bg_source_t *s, const uint8_t *in, size_t have, uint64_t in_total, uint64_t members) {
  struct inflate_state *zs = s->zs ? s->zs : malloc(sizeof *zs);
  if (zs == NULL) return inflater_oom(s);
  s->zs = zs;
  isal_inflate_init(zs);
  zs->crc_flag = ISAL_GZIP;
  zs->next_in = (uint8_t *)in;
  zs->avail_in = (uint32_t)have;
  /* in_total: bytes of the file read so far (`in` holds the last `have` of them); members: members before it */
  int in_eof = 0, member_open = 0, zero_tail = 0;
#define GZ_POS() (in_total - zs->avail_in)

  bg_status_t st = s->fill ? BG_OK : fill_begin(s);
  if (st != BG_OK) return st;
  for (;;) {
    if (src_stopped(s)) return BG_ERR_CANCELLED;
    if (zs->avail_in == 0 && !in_eof) {
      ssize_t k = src_read(s, s->in, BG_READER_INPUT_SIZE);
      if (k < 0) return BG_ERR_IO;
      in_total += (uint64_t)k;
      zs->next_in = s->in;
      zs->avail_in = (uint32_t)k;
      if (k == 0) in_eof = 1;
      continue;
    }
    if (!member_open) {
      if (zs->avail_in == 0) break; /* clean end after the last member */
      if (zero_tail || (members > 0 && zs->next_in[0] == 0)) {
        /* Zero padding after the last member: everything up to EOF must be zero. */
        zero_tail = 1;
        for (uint32_t i = 0; i < zs->avail_in; i++) {
          if (zs->next_in[i] != 0) {
            src_fail(s, BG_ERR_CORRUPT_GZIP,
                     "Cannot read %s: gzip stream has unexpected data after member %llu at byte %llu (%s)",
                     s->label, (unsigned long long)members, (unsigned long long)(GZ_POS() + i), s->path);
            return BG_ERR_CORRUPT_GZIP;
          }
        }
        zs->next_in += zs->avail_in;
        zs->avail_in = 0;
        continue;
      }
      if (members > 0 && zs->next_in[0] != 0x1f) {
        src_fail(s, BG_ERR_CORRUPT_GZIP,
                 "Cannot read %s: gzip stream has unexpected data after member %llu at byte %llu, "
                 "not a gzip header (%s)",
                 s->label, (unsigned long long)members, (unsigned long long)GZ_POS(), s->path);
        return BG_ERR_CORRUPT_GZIP;
      }
      /* A whole BGZF member in the input: inflated by one stateless call straight into the block, when the
       * block has room for its stated size (the streaming call inflates a member's first 32 KiB into ISA-L's
       * own buffer and copies them, and saves 32 KiB of history at each return: for bgzip's 64 KiB members,
       * every byte twice). Anything unexpected goes the streaming way from the member's first byte, which
       * says what is wrong exactly as before. */
      long ml = bgzf_member_len(zs->next_in, zs->avail_in, in_eof);
      uint32_t isize = ml > 0 && (size_t)ml <= zs->avail_in ? le32(zs->next_in + ml - 4) : UINT32_MAX;
      if (isize <= BG_BGZF_MAX_ISIZE) {
        if (s->fill->cap - s->fill->len < isize && (st = fill_full(s)) != BG_OK) return st;
        size_t room = s->fill->cap - s->fill->len;
        if (room >= isize) {
          uint8_t *m_in = zs->next_in;
          uint32_t m_avail = zs->avail_in;
          zs->avail_in = (uint32_t)ml;
          zs->next_out = (uint8_t *)s->fill->data + s->fill->len;
          zs->avail_out = room > UINT32_MAX ? UINT32_MAX : (uint32_t)room; /* past isize: an overlong member fails below */
          int ret = isal_inflate_stateless(zs);
          int ok = ret == ISAL_DECOMP_OK && zs->avail_in == 0 && zs->total_out == isize;
          isal_inflate_reset(zs);
          zs->crc_flag = ISAL_GZIP;
          zs->next_in = ok ? m_in + ml : m_in;
          zs->avail_in = ok ? m_avail - (uint32_t)ml : m_avail;
          if (ok) {
            s->fill->len += isize;
            members++;
            continue;
          }
        }
      }
      member_open = 1;
    }
    if (s->fill->len == s->fill->cap && (st = fill_full(s)) != BG_OK) return st;
    uint8_t *out = (uint8_t *)s->fill->data + s->fill->len;
    size_t room = s->fill->cap - s->fill->len;
    uint32_t avail_in = zs->avail_in;
    zs->next_out = out;
    zs->avail_out = room > UINT32_MAX ? UINT32_MAX : (uint32_t)room;
    int ret = isal_inflate(zs);
    size_t produced = (size_t)(zs->next_out - out);
    s->fill->len += produced;
    if (ret >= 0 && produced == 0 && zs->avail_in == avail_in && avail_in > 0 &&
        zs->block_state != ISAL_BLOCK_FINISH) {
      /* Never loop without progress, whatever the input. */
      src_fail(s, BG_ERR_CORRUPT_GZIP, "Cannot read %s: gzip stream is corrupt (inflater stalled) near byte %llu (%s)",
               s->label, (unsigned long long)GZ_POS(), s->path);
      return BG_ERR_CORRUPT_GZIP;
    }
    if (ret < 0) {
      const char *what = (ret == ISAL_INVALID_WRAPPER && members > 0) ? "unexpected data after a member, "
                                                                       : "";
      src_fail(s, BG_ERR_CORRUPT_GZIP, "Cannot read %s: gzip stream is corrupt (%s%s) near byte %llu (%s)",
               s->label, what, isal_error_text(ret), (unsigned long long)GZ_POS(), s->path);
      return BG_ERR_CORRUPT_GZIP;
    }
    if (zs->block_state == ISAL_BLOCK_FINISH) {
      members++;
      uint8_t *next_in = zs->next_in;
      uint32_t avail_in = zs->avail_in;
      isal_inflate_reset(zs);
      zs->crc_flag = ISAL_GZIP;
      zs->next_in = next_in;
      zs->avail_in = avail_in;
      member_open = 0;
      continue;
    }
    if (zs->avail_in == 0 && in_eof && zs->avail_out > 0) {
      src_fail(s, BG_ERR_CORRUPT_GZIP, "Cannot read %s: gzip stream is truncated after %llu compressed bytes (%s)",
               s->label, (unsigned long long)in_total, s->path);
      return BG_ERR_CORRUPT_GZIP;
    }
  }
#undef GZ_POS
  fill_end(s);
  return BG_OK;
}

/* ------------------------------------------------------------------------- */
/* bgzip input on several threads                                            */
/* ------------------------------------------------------------------------- */

/*
 * A bgzip file is a run of gzip members of at most 64 KiB each whose header says
 * the member's compressed size (the BC extra field) and whose trailer says its
 * inflated size, so members can be cut out of the compressed bytes without
 * inflating and inflated independently. With inflate_threads >= 2 the source's
 * thread cuts members into jobs of about BG_BGZF_JOB_BYTES inflated bytes, helper
 * threads inflate the jobs, and the source's thread appends their output to the
 * ring in file order.
 *
 * Only members that are whole, BGZF-framed and inflate cleanly to exactly their
 * stated size go this way. At the first member that is not (another gzip framing,
 * zero padding, trailing garbage, a truncated or corrupt member), the members
 * before it are published and pump_gzip takes over at that member's first byte
 * with the same counters, so errors, messages and results are exactly those of
 * the one-thread path.
 */
#ifndef BG_BGZF_JOB_BYTES
#define BG_BGZF_JOB_BYTES ((size_t)1 << 20)    /* inflated bytes per job */
#endif
#define BG_BGZF_CHUNK ((size_t)1 << 20)       /* compressed bytes read at a time for cutting members */

typedef struct bgzf_member_t {
  size_t at, len;       /* compressed bytes job->in[at .. at + len) */
  uint32_t isize;       /* inflated size from the trailer */
} bgzf_member_t;

typedef struct bgzf_job_t {
  uint8_t *in, *out;
  size_t in_len, in_cap, out_len, out_cap;
  bgzf_member_t *m;
  size_t n, m_cap;
  size_t ok;            /* members inflated cleanly, a prefix of m */
  size_t ok_bytes;      /* their inflated bytes, a prefix of out */
  int state;            /* JOB_FREE, JOB_QUEUED, JOB_RUNNING, JOB_DONE */
} bgzf_job_t;

enum { JOB_FREE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

typedef struct bgzf_pool_t {
  pthread_mutex_t mu;
  pthread_cond_t work, done;
  bgzf_job_t *jobs;
  unsigned n_jobs, head, count; /* jobs[head .. head + count) in file order */
  int quit;
} bgzf_pool_t;

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* Inflates the job's members in order into job->out; stops at the first that does not inflate exactly. */
static void bgzf_inflate_job(bgzf_job_t *job, struct inflate_state *zs) {
  size_t out = 0, k = 0;
  for (; k < job->n; k++) {
    const bgzf_member_t *m = &job->m[k];
    isal_inflate_reset(zs);
    zs->crc_flag = ISAL_GZIP;
    zs->next_in = job->in + m->at;
    zs->avail_in = (uint32_t)m->len;
    zs->next_out = job->out + out;
    zs->avail_out = (uint32_t)(job->out_cap - out); /* room past isize: an overlong member fails its checks */
    int ret = isal_inflate_stateless(zs); /* the whole member at once: no copy through ISA-L's own buffer */
    size_t produced = (size_t)(zs->next_out - (job->out + out));
    if (ret != ISAL_DECOMP_OK || zs->avail_in != 0 || produced != m->isize)
      break;
    out += produced;
  }
  job->ok = k;
  job->ok_bytes = out;
}

typedef struct bgzf_helper_t {
  bgzf_pool_t *pool;
  struct inflate_state zs;
} bgzf_helper_t;

static void *bgzf_helper_main(void *arg) {
  bgzf_helper_t *h = arg;
  bgzf_pool_t *p = h->pool;
  bg_thread_name("bg-bgzf");
  isal_inflate_init(&h->zs);
  pthread_mutex_lock(&p->mu);
  for (;;) {
    bgzf_job_t *job = NULL;
    for (unsigned i = 0; i < p->count && job == NULL; i++) {
      bgzf_job_t *j = &p->jobs[(p->head + i) % p->n_jobs];
      if (j->state == JOB_QUEUED) job = j;
    }
    if (job == NULL) {
      if (p->quit) break;
      pthread_cond_wait(&p->work, &p->mu);
      continue;
    }
    job->state = JOB_RUNNING;
    pthread_mutex_unlock(&p->mu);
    bgzf_inflate_job(job, &h->zs);
    pthread_mutex_lock(&p->mu);
    job->state = JOB_DONE;
    pthread_cond_broadcast(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* Length of the whole BGZF member at p (n bytes available): > 0 its length, 0 when more bytes are needed to
 * tell, -1 when p does not start a BGZF member (or n is final and too short). */
static long bgzf_member_len(const uint8_t *p, size_t n, int final) {
  if (n < 12) return final ? -1 : 0;
  if (p[0] != 0x1f || p[1] != 0x8b || p[2] != 8 || p[3] != 4) return -1; /* deflate, FEXTRA and no other flag */
  size_t xlen = (size_t)p[10] | (size_t)p[11] << 8;
  if (n < 12 + xlen) return final ? -1 : 0;
  for (size_t at = 12; at + 4 <= 12 + xlen;) {
    size_t slen = (size_t)p[at + 2] | (size_t)p[at + 3] << 8;
    if (p[at] == 'B' && p[at + 1] == 'C' && slen == 2 && at + 6 <= 12 + xlen) {
      long len = (long)((size_t)p[at + 4] | (size_t)p[at + 5] << 8) + 1;
      return len >= (long)(12 + xlen + 8) ? len : -1;
    }
    at += 4 + slen;
  }
  return -1;
}

static int grow_bytes(uint8_t **p, size_t *cap, size_t need) {
  if (*cap >= need) return 1;
  size_t c = *cap ? *cap : 65536;
  while (c < need) c *= 2;
  uint8_t *q = realloc(*p, c);
  if (q == NULL) return 0;
  *p = q;
  *cap = c;
  return 1;
}

/* Appends n inflated bytes to the ring, publishing full blocks. */
static bg_status_t ring_append(bg_source_t *s, const uint8_t *data, size_t n) {
  while (n > 0) {
    if (s->fill->len == s->fill->cap) {
      bg_status_t st = fill_full(s);
      if (st != BG_OK) return st;
    }
    size_t k = s->fill->cap - s->fill->len;
    if (k > n) k = n;
    memcpy(s->fill->data + s->fill->len, data, k);
    s->fill->len += k;
    data += k;
    n -= k;
  }
  return BG_OK;
}

/* Compressed bytes of a bgzip file not yet cut into jobs: file[pos .. pos + len) in c, cut from c[cut ..). */
typedef struct bgzf_input_t {
  uint8_t *c;
  size_t len, cap, cut;
  uint64_t pos;
  int eof;
} bgzf_input_t;

/* Cuts whole BGZF members from `in` into `job` (copying their bytes) up to about BG_BGZF_JOB_BYTES, reading
 * the file as needed. *scan_end is set at the first byte that does not start a whole BGZF member of at most
 * BG_BGZF_MAX_ISIZE inflated bytes (or at the end of the file): the one-thread path goes on from there. */
static bg_status_t bgzf_cut_job(bg_source_t *s, bgzf_input_t *in, bgzf_job_t *job, int *scan_end) {
  job->n = job->in_len = job->out_len = 0;
  while (job->out_len < BG_BGZF_JOB_BYTES && job->in_len < BG_BGZF_JOB_BYTES) {
    const uint8_t *p = in->c + in->cut;
    size_t avail = in->len - in->cut;
    long len = bgzf_member_len(p, avail, in->eof);
    if (len > 0 && (size_t)len > avail) len = in->eof ? -1 : 0; /* a truncated member: pump_gzip says so */
    if (len == 0) { /* more compressed bytes: drop what is cut (it was copied into jobs) and read on */
      memmove(in->c, p, avail);
      in->pos += in->cut;
      in->len = avail;
      in->cut = 0;
      if (!grow_bytes(&in->c, &in->cap, in->len + BG_BGZF_CHUNK)) return inflater_oom(s);
      ssize_t k = src_read(s, in->c + in->len, BG_BGZF_CHUNK);
      if (k < 0) return BG_ERR_IO;
      if (k == 0) in->eof = 1;
      in->len += (size_t)k;
      continue;
    }
    uint32_t isize = len > 0 ? le32(p + len - 4) : 0;
    if (len < 0 || isize > BG_BGZF_MAX_ISIZE) {
      *scan_end = 1;
      return BG_OK;
    }
    if (job->n == job->m_cap) {
      size_t cap = job->m_cap ? 2 * job->m_cap : 64;
      bgzf_member_t *m = realloc(job->m, cap * sizeof *m);
      if (m == NULL) return inflater_oom(s);
      job->m = m;
      job->m_cap = cap;
    }
    if (!grow_bytes(&job->in, &job->in_cap, job->in_len + (size_t)len) ||
        !grow_bytes(&job->out, &job->out_cap, job->out_len + isize + 64))
      return inflater_oom(s);
    memcpy(job->in + job->in_len, p, (size_t)len);
    job->m[job->n++] = (bgzf_member_t){job->in_len, (size_t)len, isize};
    job->in_len += (size_t)len;
    job->out_len += isize;
    in->cut += (size_t)len;
  }
  return BG_OK;
}

static bg_status_t pump_bgzf(bg_source_t *s, size_t have) {
  bgzf_pool_t pool;
  memset(&pool, 0, sizeof pool);
  int nh = s->inflate_threads, started = 0;
  pool.n_jobs = (unsigned)(2 * nh + 2);
  pool.jobs = calloc(pool.n_jobs, sizeof *pool.jobs);
  bgzf_helper_t *helpers = calloc((size_t)nh, sizeof *helpers);
  pthread_t *tids = calloc((size_t)nh, sizeof *tids);
  bgzf_input_t in = {0};
  uint64_t members = 0; /* members published */
  int scan_end = 0, sync_ok = 0;
  bg_status_t st = BG_OK;
  if (pool.jobs == NULL || helpers == NULL || tids == NULL || !grow_bytes(&in.c, &in.cap, BG_BGZF_CHUNK + have))
    st = inflater_oom(s);
  if (st == BG_OK) {
    memcpy(in.c, s->in, have);
    in.len = have;
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.work, NULL);
    pthread_cond_init(&pool.done, NULL);
    sync_ok = 1;
    for (; started < nh; started++) {
      helpers[started].pool = &pool;
      if (pthread_create(&tids[started], NULL, bgzf_helper_main, &helpers[started]) != 0) break;
    }
    st = fill_begin(s);
  }
  /* the job whose member failed, if any: its members from `ok` on, and the jobs after it, go to pump_gzip */
  bgzf_job_t *failed = NULL;
  while (st == BG_OK && started > 0) {
    if (src_stopped(s)) { st = BG_ERR_CANCELLED; break; }
    /* Cut members into free jobs. */
    while (!scan_end && pool.count < pool.n_jobs) {
      bgzf_job_t *job = &pool.jobs[(pool.head + pool.count) % pool.n_jobs];
      st = bgzf_cut_job(s, &in, job, &scan_end);
      if (st != BG_OK || job->n == 0) break;
      pthread_mutex_lock(&pool.mu);
      job->state = JOB_QUEUED;
      pool.count++;
      pthread_cond_signal(&pool.work);
      pthread_mutex_unlock(&pool.mu);
    }
    if (st != BG_OK || pool.count == 0) break;
    /* Publish the oldest job once inflated. */
    bgzf_job_t *job = &pool.jobs[pool.head];
    pthread_mutex_lock(&pool.mu);
    while (job->state != JOB_DONE) pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    st = ring_append(s, job->out, job->ok_bytes);
    members += job->ok;
    if (st != BG_OK) break;
    if (job->ok < job->n) { failed = job; break; }
    pthread_mutex_lock(&pool.mu);
    job->state = JOB_FREE;
    pool.head = (pool.head + 1) % pool.n_jobs;
    pool.count--;
    pthread_mutex_unlock(&pool.mu);
  }
  /* Stop the helpers; every queued job is left as it is (its input is still needed below). */
  if (started > 0) {
    pthread_mutex_lock(&pool.mu);
    for (unsigned i = 0; i < pool.count; i++) {
      bgzf_job_t *j = &pool.jobs[(pool.head + i) % pool.n_jobs];
      if (j->state == JOB_QUEUED) j->state = JOB_FREE; /* never started: not to be picked up */
    }
    pool.quit = 1;
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
  }
  if (st == BG_OK) {
    /* The one-thread path from the first member not published: the rest of the failed job, the jobs queued
     * after it, then the compressed bytes not yet cut, then the file. Without helpers that is the whole file. */
    uint8_t *tail = NULL;
    size_t rest = 0, tail_cap = 0;
    for (unsigned i = 0; i <= pool.count && st == BG_OK; i++) {
      bgzf_job_t *j = i < pool.count ? &pool.jobs[(pool.head + i) % pool.n_jobs] : NULL;
      const uint8_t *from = j ? j->in + (j == failed ? j->m[j->ok].at : 0) : in.c + in.cut;
      size_t n = j ? (size_t)(j->in + j->in_len - from) : in.len - in.cut;
      if (!grow_bytes(&tail, &tail_cap, rest + n + 1)) {
        st = inflater_oom(s);
      } else {
        memcpy(tail + rest, from, n);
        rest += n;
      }
    }
    if (st == BG_OK) st = pump_gzip(s, tail, rest, in.pos + in.len, members);
    free(tail);
  }
  if (pool.jobs != NULL) {
    for (unsigned i = 0; i < pool.n_jobs; i++) { free(pool.jobs[i].in); free(pool.jobs[i].out); free(pool.jobs[i].m); }
  }
  if (sync_ok) {
    pthread_cond_destroy(&pool.done);
    pthread_cond_destroy(&pool.work);
    pthread_mutex_destroy(&pool.mu);
  }
  free(pool.jobs);
  free(helpers);
  free(tids);
  free(in.c);
  return st;
}

static void *inflater_main(void *arg) {
  bg_source_t *s = arg;
  char name[16];
  snprintf(name, sizeof name, "bg-inflate-%s", s->label);
  bg_thread_name(name);
  bg_status_t st = BG_OK;
  size_t have = 0;
  /* Read the first bytes: gzip is told by its magic 1f 8b, never by the file name. */
  while (have < 2) {
    ssize_t k = src_read(s, s->in + have, BG_READER_INPUT_SIZE - have);
    if (k < 0) {
      st = BG_ERR_IO;
      break;
    }
    if (k == 0) break;
    have += (size_t)k;
  }
  if (st == BG_OK) {
    if (have >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b)
      st = s->inflate_threads >= 2 ? pump_bgzf(s, have) : pump_gzip(s, s->in, have, have, 0);
    else
      st = pump_plain(s, have);
  }
  pthread_mutex_lock(&s->mu);
  if (s->status == BG_OK && st != BG_OK) {
    s->status = st;
    if (s->msg[0] == '\0') snprintf(s->msg, sizeof s->msg, "Cannot read %s: reading was stopped (%s)", s->label, s->path);
  }
  s->done = 1;
  pthread_cond_broadcast(&s->can_read);
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* ------------------------------------------------------------------------- */
/* Consumer side: lines out of the ring                                       */
/* ------------------------------------------------------------------------- */

/* Gets the next published block. 1: got one; 0: end of file; -1: the inflater failed (message in err). */
static int src_next_block(bg_source_t *s, char *err, size_t err_len, bg_status_t *st) {
  pthread_mutex_lock(&s->mu);
  if (s->holding) {
    s->head = (s->head + 1) % BG_READER_SLOTS;
    s->count--;
    s->holding = 0;
    s->cur = NULL;
    if (s->fill_waiting && BG_READER_SLOTS - s->count >= BG_WAKE) pthread_cond_signal(&s->can_fill);
  }
  int cancelled = 0;
  while (s->count == 0 && !s->done) {
    s->read_waiting = 1;
    if (s->cancel == NULL) {
      pthread_cond_wait(&s->can_read, &s->mu);
      continue;
    }
    /* the input may stall (a FIFO, a slow mount): a cancel must not wait for it */
    if (atomic_load_explicit(s->cancel, memory_order_relaxed)) {
      cancelled = 1;
      break;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += BG_READER_POLL_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) { until.tv_sec++; until.tv_nsec -= 1000000000L; }
    pthread_cond_timedwait(&s->can_read, &s->mu, &until);
  }
  s->read_waiting = 0;
  if (cancelled) {
    pthread_mutex_unlock(&s->mu);
    *st = BG_ERR_CANCELLED;
    put_msg(err, err_len, "The analysis was cancelled while waiting for %s's data (%s)", s->label, s->path);
    return -1;
  }
  if (s->count > 0) {
    bg_slot_t *slot = &s->slot[s->head];
    s->cur = slot->data;
    s->cur_len = slot->len;
    s->pos = 0;
    s->holding = 1;
    pthread_mutex_unlock(&s->mu);
    if (s->head_len == 0) {
      s->head_len = s->cur_len < sizeof s->head_bytes ? s->cur_len : sizeof s->head_bytes;
      memcpy(s->head_bytes, s->cur, s->head_len);
    }
    return 1;
  }
  *st = s->status;
  if (s->status != BG_OK) {
    if (s->detail == SRC_LINE_TOO_LONG)
      put_msg(err, err_len, "Malformed FASTQ in %s at line %llu: %s (%s)", s->label,
              (unsigned long long)s->line + 1, s->msg, s->path);
    else
      put_msg(err, err_len, "%s", s->msg);
  }
  pthread_mutex_unlock(&s->mu);
  return *st == BG_OK ? 0 : -1;
}

/* Next line without its '\n' and trailing '\r'. 1: line; 0: end of file; -1: error (status in *st). */
/* memchr(p, '\n', left), inline: FASTQ lines are short (a header, 75-300 bases), and the library call's set-up
 * costs as much as the search. */
static inline const char *find_nl(const char *p, size_t left) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i nl = _mm_set1_epi8('\n');
  for (; i + 16 <= left; i += 16) {
    unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i)), nl));
    if (m) return p + i + __builtin_ctz(m);
  }
#endif
  return i < left ? memchr(p + i, '\n', left - i) : NULL;
}

static inline int src_line(bg_source_t *s, const char **line, size_t *len, char *err, size_t err_len,
                           bg_status_t *st) {
  while (s->pos >= s->cur_len) {
    if (s->at_eof) return 0;
    int k = src_next_block(s, err, err_len, st);
    if (k <= 0) {
      if (k == 0) s->at_eof = 1;
      return k;
    }
  }
  const char *p = s->cur + s->pos;
  size_t left = s->cur_len - s->pos;
  const char *nl = find_nl(p, left);
  size_t n = nl ? (size_t)(nl - p) : left;
  s->pos += nl ? n + 1 : n;
  if (n > 0 && p[n - 1] == '\r') n--;
  s->line++;
  *line = p;
  *len = n;
  return 1;
}

/* The next line when it is exactly `n` bytes and then '\n' inside the current block (a record's quality
 * line, whose length the sequence gave): no search for the '\n'. 1: taken; 0: not so (nothing consumed).
 * The caller validates the bytes and, when they fail, takes the line back with src_unline. */
static inline int src_line_sized(bg_source_t *s, size_t n, const char **line) {
  if (s->pos >= s->cur_len || s->cur_len - s->pos <= n || s->cur[s->pos + n] != '\n') return 0;
  *line = s->cur + s->pos;
  s->pos += n + 1;
  s->line++;
  return 1;
}
static inline void src_unline(bg_source_t *s, size_t n) { s->pos -= n + 1; s->line--; }

/* Bytes of a source inflated past a FASTQ or pairing error, at most, in search of the gzip damage that
 * caused it. A BGZF member's CRC comes every 64 KiB; a one-member file's only at its end. */
#ifndef BG_READER_DAMAGE_LOOKAHEAD
#define BG_READER_DAMAGE_LOOKAHEAD ((size_t)4 << 20)
#endif

/* After a FASTQ or pairing error: reads on (discarding) up to BG_READER_DAMAGE_LOOKAHEAD bytes, and returns
 * the inflater's failure when it meets damaged gzip data or a read error there (its message in why), else
 * BG_OK. The source is not read again afterwards. */
static bg_status_t src_damage_ahead(bg_source_t *s, char *why, size_t why_len) {
  size_t seen = 0;
  bg_status_t st = BG_OK;
  while (seen < BG_READER_DAMAGE_LOOKAHEAD && !s->at_eof) {
    int k = src_next_block(s, why, why_len, &st);
    if (k < 0) return st == BG_ERR_CORRUPT_GZIP || st == BG_ERR_IO ? st : BG_OK;
    if (k == 0) { s->at_eof = 1; break; }
    seen += s->cur_len;
    s->pos = s->cur_len;
  }
  return BG_OK;
}

/* ------------------------------------------------------------------------- */
/* Batches                                                                    */
/* ------------------------------------------------------------------------- */

void bg_batch_init(bg_batch_t *b) {
  if (b != NULL) memset(b, 0, sizeof *b);
}

void bg_batch_free(bg_batch_t *b) {
  if (b == NULL) return;
  free(b->seq1);
  free(b->seq2);
  free(b->off1);
  free(b->off2);
  memset(b, 0, sizeof *b);
}

static int grow_seq(char **buf, size_t *cap, size_t need) {
  if (*cap >= need && *buf != NULL) return 1;
  size_t c = *cap ? *cap : (size_t)1 << 20;
  while (c < need) c *= 2;
  char *p = realloc(*buf, c);
  if (p == NULL) return 0;
  bg_prefault(p, *cap, c);
  *buf = p;
  *cap = c;
  return 1;
}

static int grow_offsets(bg_batch_t *b, size_t need) {
  if (b->cap_pairs >= need && b->off1 != NULL && b->off2 != NULL) return 1;
  size_t c = b->cap_pairs ? b->cap_pairs : 1024;
  while (c < need) c *= 2;
  uint32_t *o1 = realloc(b->off1, c * sizeof *o1);
  if (o1 == NULL) return 0;
  bg_prefault(o1, b->cap_pairs * sizeof *o1, c * sizeof *o1);
  b->off1 = o1;
  uint32_t *o2 = realloc(b->off2, c * sizeof *o2);
  if (o2 == NULL) return 0;
  bg_prefault(o2, b->cap_pairs * sizeof *o2, c * sizeof *o2);
  b->off2 = o2;
  b->cap_pairs = c;
  return 1;
}

/* ------------------------------------------------------------------------- */
/* Records                                                                    */
/* ------------------------------------------------------------------------- */

#ifdef BG_HAVE_AVX2_FORMS
/* The first space or tab among n bytes, 32 a step; n when none. */
__attribute__((target("avx2"))) static size_t name_end_avx2(const char *name, size_t n) {
  const __m256i sp = _mm256_set1_epi8(' '), tab = _mm256_set1_epi8('\t');
  size_t k = 0;
  for (; k + 32 <= n; k += 32) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(name + k));
    uint32_t m = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(v, sp), _mm256_cmpeq_epi8(v, tab)));
    if (m) return k + (size_t)__builtin_ctz(m);
  }
  while (k < n && name[k] != ' ' && name[k] != '\t') k++;
  return k;
}
#endif

/* Read-name key: up to the first space/tab, without a trailing /1 or /2. *mate: 1 or 2 when the name marks
 * its mate, by that /1 or /2 or by a CASAVA 1.8 comment (' 1:N:0:…', ' 2:Y:…'), else 0. */
static size_t name_key_len(const char *name, size_t n, int *mate) {
  size_t k = 0;
#ifdef BG_HAVE_AVX2_FORMS
  if (bg_avx2_usable()) k = name_end_avx2(name, n);
  else
#endif
    while (k < n && name[k] != ' ' && name[k] != '\t') k++;
  *mate = 0;
  if (k >= 2 && name[k - 2] == '/' && (name[k - 1] == '1' || name[k - 1] == '2')) {
    *mate = name[k - 1] - '0';
    return k - 2;
  }
  if (n >= k + 5 && (name[k + 1] == '1' || name[k + 1] == '2') && name[k + 2] == ':' &&
      (name[k + 3] == 'N' || name[k + 3] == 'Y') && name[k + 4] == ':')
    *mate = name[k + 1] - '0';
  return k;
}

/* A hint for files that are clearly not FASTQ, based on their first bytes. */
static const char *format_hint(const bg_source_t *s) {
  const unsigned char *h = (const unsigned char *)s->head_bytes;
  if (s->head_len >= 3 && h[0] == 'B' && h[1] == 'Z' && h[2] == 'h') return " (file looks bzip2-compressed; only gzip is supported)";
  if (s->head_len >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd) return " (file looks zstd-compressed; only gzip is supported)";
  if (s->head_len >= 4 && h[0] == 0xfd && h[1] == '7' && h[2] == 'z' && h[3] == 'X') return " (file looks xz-compressed; only gzip is supported)";
  if (s->head_len >= 1 && h[0] == '>') return " (file looks like FASTA; FASTQ is required)";
  return "";
}

#define FASTQ_FAIL(...)                                                                     \
  do {                                                                                     \
    char what_[256];                                                                       \
    snprintf(what_, sizeof what_, __VA_ARGS__);                                            \
    put_msg(err, err_len, "Malformed FASTQ in %s at line %llu: %s (%s)", s->label,        \
            (unsigned long long)s->line, what_, s->path);                                  \
    *st = BG_ERR_MALFORMED_FASTQ;                                                          \
    return -1;                                                                             \
  } while (0)

/*
 * Parses one record of `s`: appends its normalised sequence to *seq (capacity *cap) at
 * offset `at`, sets *seq_len, and copies the read-name key into s->name (the ring block
 * holding the header may be recycled while the rest of the record is read).
 * Returns 1 for a record, 0 at a clean end of file, -1 on error (*st and err set).
 */
static int read_record(bg_source_t *s, char **seq, size_t *cap, size_t at, size_t *seq_len, char *err,
                       size_t err_len, bg_status_t *st) {
  const char *l;
  size_t n;
  int k;
  /* Header, skipping blank lines between records and at the end. */
  do {
    k = src_line(s, &l, &n, err, err_len, st);
    if (k <= 0) return k;
  } while (n == 0);
  if (l[0] != '@') {
    if (s->line == 1)
      FASTQ_FAIL("expected a header line starting with '@' but found byte 0x%02X%s", (unsigned char)l[0],
                 format_hint(s));
    FASTQ_FAIL("expected a header line starting with '@' but found byte 0x%02X", (unsigned char)l[0]);
  }
  size_t key = name_key_len(l + 1, n - 1, &s->mate);
  if (key == 0) FASTQ_FAIL("record header has no read name");
  if (s->name_cap < key) {
    size_t c = key < 256 ? 256 : key;
    char *p = realloc(s->name, c);
    if (p == NULL) {
      put_msg(err, err_len, "Cannot read %s: out of memory (%s)", s->label, s->path);
      *st = BG_ERR_HOST_OOM;
      return -1;
    }
    s->name = p;
    s->name_cap = c;
  }
  memcpy(s->name, l + 1, key);
  s->name_len = key;

  /* Sequence. */
  k = src_line(s, &l, &n, err, err_len, st);
  if (k < 0) return -1;
  if (k == 0) FASTQ_FAIL("truncated record: file ends after the header line");
  if (!grow_seq(seq, cap, at + n)) {
    put_msg(err, err_len, "Cannot read %s: out of memory for a batch (%s)", s->label, s->path);
    *st = BG_ERR_HOST_OOM;
    return -1;
  }
  size_t bad = normalise_seq(*seq + at, l, n);
  if (bad < n) {
    unsigned char c = (unsigned char)l[bad];
    if (c == ' ' || c == '\t') FASTQ_FAIL("sequence has a %s at column %zu", c == ' ' ? "space" : "tab", bad + 1);
    FASTQ_FAIL("sequence has a non-text byte 0x%02X at column %zu", c, bad + 1);
  }
  *seq_len = n;

  /* Separator: '+' alone or followed by anything (usually the name again). */
  int plus = src_line_sized(s, 1, &l); /* "+\n", the usual form, without a search */
  if (plus && l[0] != '+') { src_unline(s, 1); plus = 0; }
  if (!plus) {
    k = src_line(s, &l, &n, err, err_len, st);
    if (k < 0) return -1;
    if (k == 0) FASTQ_FAIL("truncated record: file ends after the sequence line");
    if (n == 0 || l[0] != '+')
      FASTQ_FAIL("expected a '+' separator line but found %s", n == 0 ? "an empty line" : "another line");
  }

  /* Quality: most often exactly as long as the sequence, then '\n'. */
  if (src_line_sized(s, *seq_len, &l)) {
    if (quality_ok(l, *seq_len)) return 1;
    src_unline(s, *seq_len); /* not a valid quality of that length: the general path says what is wrong */
  }
  k = src_line(s, &l, &n, err, err_len, st);
  if (k < 0) return -1;
  if (k == 0 && *seq_len == 0) return 1; /* an empty read's empty quality line, the file's last, unterminated */
  if (k == 0) FASTQ_FAIL("truncated record: file ends after the '+' line");
  if (n != *seq_len) FASTQ_FAIL("sequence has %zu bases but quality has %zu", *seq_len, n);
  if (!quality_ok(l, n)) {
    size_t i = 0;
    while (i < n && (unsigned char)((unsigned char)l[i] - 33u) <= 93u) i++;
    FASTQ_FAIL("quality has an invalid byte 0x%02X at column %zu", (unsigned char)l[i], i + 1);
  }
  return 1;
}

/* ------------------------------------------------------------------------- */
/* Pair reader                                                                */
/* ------------------------------------------------------------------------- */

static void source_destroy(bg_source_t *s) {
  if (s->thread_started) {
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stop, 1);
    pthread_cond_broadcast(&s->can_fill);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->thread_started = 0;
  }
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  for (int i = 0; i < BG_READER_SLOTS; i++) free(s->slot[i].data);
  free(s->carry);
  free(s->in);
  free(s->zs);
  free(s->path);
  free(s->name);
  if (s->sync_ready) {
    pthread_cond_destroy(&s->can_fill);
    pthread_cond_destroy(&s->can_read);
    pthread_mutex_destroy(&s->mu);
  }
}

/* Opens one input. Returns BG_OK or an error with a message naming the file. */
static bg_status_t source_open(bg_source_t *s, const char *label, const char *path, struct stat *stt, char *err,
                               size_t err_len) {
  s->label = label;
  s->fd = -1;
  s->path = strdup(path);
  if (s->path == NULL) {
    put_msg(err, err_len, "Cannot read %s: out of memory (%s)", label, path);
    return BG_ERR_HOST_OOM;
  }
  if (pthread_mutex_init(&s->mu, NULL) != 0) {
    put_msg(err, err_len, "Cannot read %s: cannot create a mutex (%s)", label, path);
    return BG_ERR_INTERNAL;
  }
  if (pthread_cond_init(&s->can_fill, NULL) != 0) {
    pthread_mutex_destroy(&s->mu);
    put_msg(err, err_len, "Cannot read %s: cannot create a condition variable (%s)", label, path);
    return BG_ERR_INTERNAL;
  }
  if (pthread_cond_init(&s->can_read, NULL) != 0) {
    pthread_cond_destroy(&s->can_fill);
    pthread_mutex_destroy(&s->mu);
    put_msg(err, err_len, "Cannot read %s: cannot create a condition variable (%s)", label, path);
    return BG_ERR_INTERNAL;
  }
  s->sync_ready = 1;
  if (path[0] == '\0') {
    put_msg(err, err_len, "Cannot read %s: the path is empty", label);
    return BG_ERR_INVALID_ARGUMENT;
  }
  int fd;
  do fd = open(path, O_RDONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR) {
      put_msg(err, err_len, "Cannot read %s: file does not exist (%s)", label, path);
      return BG_ERR_FILE_NOT_FOUND;
    }
    if (e == EACCES || e == EPERM) {
      put_msg(err, err_len, "Cannot read %s: permission denied (%s)", label, path);
      return BG_ERR_PERMISSION_DENIED;
    }
    put_msg(err, err_len, "Cannot read %s: %s (%s)", label, strerror(e), path);
    return BG_ERR_IO;
  }
  s->fd = fd;
  if (fstat(fd, stt) != 0) {
    put_msg(err, err_len, "Cannot read %s: %s (%s)", label, strerror(errno), path);
    return BG_ERR_IO;
  }
  if (S_ISDIR(stt->st_mode)) {
    put_msg(err, err_len, "Cannot read %s: path is a directory, expected a FASTQ file (%s)", label, path);
    return BG_ERR_INVALID_ARGUMENT;
  }
  s->size = S_ISREG(stt->st_mode) ? (uint64_t)stt->st_size : 0;
  s->pollable = S_ISFIFO(stt->st_mode) || S_ISSOCK(stt->st_mode) || S_ISCHR(stt->st_mode);
  s->in = malloc(BG_READER_INPUT_SIZE);
  if (s->in) bg_prefault(s->in, 0, BG_READER_INPUT_SIZE);
  if (s->in == NULL) {
    put_msg(err, err_len, "Cannot read %s: out of memory (%s)", label, path);
    return BG_ERR_HOST_OOM;
  }
  return BG_OK;
}

/* Starts the inflater with every signal blocked, so signals keep going to the host's threads. */
static bg_status_t source_start(bg_source_t *s, char *err, size_t err_len) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&s->thread, NULL, inflater_main, s);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    put_msg(err, err_len, "Cannot read %s: cannot start the inflater thread: %s (%s)", s->label, strerror(rc), s->path);
    return rc == EAGAIN ? BG_ERR_HOST_OOM : BG_ERR_INTERNAL;
  }
  s->thread_started = 1;
  return BG_OK;
}

bg_status_t bg_pair_reader_open(bg_pair_reader_t **out, const char *r1_path, const char *r2_path, int inflate_threads,
                                char *err, size_t err_len) {
  put_msg(err, err_len, "%s", "");
  if (out != NULL) *out = NULL;
  if (out == NULL || r1_path == NULL || r2_path == NULL) {
    put_msg(err, err_len, "Cannot open reads: %s is NULL", out == NULL ? "out" : r1_path == NULL ? "R1 path" : "R2 path");
    return BG_ERR_INVALID_ARGUMENT;
  }
  if (strcmp(r1_path, r2_path) == 0) {
    put_msg(err, err_len, "Cannot open reads: R1 and R2 are the same path (%s)", r1_path);
    return BG_ERR_INVALID_ARGUMENT;
  }
  pthread_once(&g_norm_once, norm_table_init);
  bg_pair_reader_t *r = calloc(1, sizeof *r);
  if (r == NULL) {
    put_msg(err, err_len, "Cannot open reads: out of memory");
    return BG_ERR_HOST_OOM;
  }
  r->src[0].fd = r->src[1].fd = -1;
  struct stat st1, st2;
  bg_status_t st = source_open(&r->src[0], "R1", r1_path, &st1, err, err_len);
  if (st == BG_OK) st = source_open(&r->src[1], "R2", r2_path, &st2, err, err_len);
  if (st == BG_OK && st1.st_dev == st2.st_dev && st1.st_ino == st2.st_ino) {
    put_msg(err, err_len, "Cannot open reads: R1 and R2 are the same file (%s, %s)", r1_path, r2_path);
    st = BG_ERR_INVALID_ARGUMENT;
  }
  r->src[0].inflate_threads = r->src[1].inflate_threads = inflate_threads > BG_READER_MAX_INFLATE_THREADS ? BG_READER_MAX_INFLATE_THREADS : inflate_threads;
  if (st == BG_OK) st = source_start(&r->src[0], err, err_len);
  if (st == BG_OK) st = source_start(&r->src[1], err, err_len);
  if (st != BG_OK) {
    bg_pair_reader_close(r);
    return st;
  }
  *out = r;
  return BG_OK;
}

/* Makes an error sticky: later calls return it again. */
static bg_status_t reader_fail(bg_pair_reader_t *r, bg_status_t st, const char *msg) {
  r->failed = st;
  snprintf(r->fail_msg, sizeof r->fail_msg, "%s", msg);
  return st;
}

/* Whether the two mates' read-name keys are equal: inline, eight bytes a step (the name buffers hold at least
 * 256 bytes, but only the keys' bytes are compared); a library call per pair cost more than the compare. */
static inline int same_name(const bg_source_t *a, const bg_source_t *b) {
  size_t n = a->name_len, i = 0;
  if (n != b->name_len) return 0;
  uint64_t diff = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x, y;
    memcpy(&x, a->name + i, 8);
    memcpy(&y, b->name + i, 8);
    diff |= x ^ y;
  }
  for (; i < n; i++) diff |= (uint8_t)(a->name[i] ^ b->name[i]);
  return diff == 0;
}

/* SRA's `fastq-dump --readids` names a spot's mates `<run>.<spot>.1` and `.2`: keys that differ only in a
 * final '1' and '2' after a dot are one pair's (checked only when the keys differ, off the common path). */
static int sra_mates(const bg_source_t *a, const bg_source_t *b) {
  size_t n = a->name_len;
  if (n < 3 || n != b->name_len || a->name[n - 2] != '.' || b->name[n - 2] != '.') return 0;
  char x = a->name[n - 1], y = b->name[n - 1];
  return ((x == '1' && y == '2') || (x == '2' && y == '1')) && memcmp(a->name, b->name, n - 1) == 0;
}

bg_status_t bg_pair_reader_next(bg_pair_reader_t *r, bg_batch_t *batch, uint32_t max_pairs, uint64_t max_bases,
                                char *err, size_t err_len) {
  if (r == NULL || batch == NULL || max_pairs == 0) {
    put_msg(err, err_len, "Cannot read pairs: %s", r == NULL ? "reader is NULL" : batch == NULL ? "batch is NULL" : "max_pairs must be at least 1");
    return BG_ERR_INVALID_ARGUMENT;
  }
  if (r->failed != BG_OK) {
    put_msg(err, err_len, "%s", r->fail_msg);
    return r->failed;
  }
  batch->n_pairs = 0;
  batch->bases = 0;
  if (!grow_offsets(batch, 1)) {
    put_msg(err, err_len, "Cannot read pairs: out of memory for a batch");
    return reader_fail(r, BG_ERR_HOST_OOM, "Cannot read pairs: out of memory for a batch");
  }
  batch->off1[0] = batch->off2[0] = 0;
  if (r->finished) return BG_OK;
  if (max_bases == 0 || max_bases > BG_READER_MAX_BATCH_BASES) max_bases = BG_READER_MAX_BATCH_BASES;

  bg_source_t *s1 = &r->src[0], *s2 = &r->src[1];
  size_t at1 = 0, at2 = 0;
  uint32_t n = 0;
  uint64_t bases = 0;
  char msg[BG_READER_MSG];
  bg_status_t st = BG_OK;
  while (n < max_pairs && bases < max_bases) {
    size_t len1 = 0, len2 = 0;
    msg[0] = '\0';
    int k1 = read_record(s1, &batch->seq1, &batch->cap_seq1, at1, &len1, msg, sizeof msg, &st);
    if (k1 < 0) goto fail;
    int k2 = read_record(s2, &batch->seq2, &batch->cap_seq2, at2, &len2, msg, sizeof msg, &st);
    if (k2 < 0) goto fail;
    uint64_t rec = r->pairs + n; /* records completed before this one */
    if (k1 == 0 || k2 == 0) {
      if (k1 == 0 && rec == 0) {
        st = BG_ERR_EMPTY_INPUT;
        snprintf(msg, sizeof msg, "Cannot read R1: file holds no reads (%s)", s1->path);
        goto fail;
      }
      if (k2 == 0 && rec == 0) {
        st = BG_ERR_EMPTY_INPUT;
        snprintf(msg, sizeof msg, "Cannot read R2: file holds no reads (%s)", s2->path);
        goto fail;
      }
      if (k1 != k2) {
        st = BG_ERR_PAIR_MISMATCH;
        snprintf(msg, sizeof msg, "%s ended after %llu records but %s has more (%s, %s)", k1 == 0 ? "R1" : "R2",
                 (unsigned long long)rec, k1 == 0 ? "R2" : "R1", s1->path, s2->path);
        goto fail;
      }
      r->finished = 1;
      break;
    }
    if (!same_name(s1, s2) && !sra_mates(s1, s2)) {
      char a[96], b[96];
      printable(a, s1->name, s1->name_len);
      printable(b, s2->name, s2->name_len);
      st = BG_ERR_PAIR_MISMATCH;
      snprintf(msg, sizeof msg, "Read names differ at record %llu: R1 '%s' vs R2 '%s' (%s, %s)",
               (unsigned long long)rec + 1, a, b, s1->path, s2->path);
      goto fail;
    }
    if (s1->mate != 0 && s1->mate == s2->mate) { /* R1 given twice under two names, say */
      char a[96];
      printable(a, s1->name, s1->name_len);
      st = BG_ERR_PAIR_MISMATCH;
      snprintf(msg, sizeof msg,
               "R1 and R2 hold the same mate: at record %llu both names mark read '%s' as mate %d (is one file a "
               "copy of the other?) (%s, %s)",
               (unsigned long long)rec + 1, a, s1->mate, s1->path, s2->path);
      goto fail;
    }
    at1 += len1;
    at2 += len2;
    bases += len1 + len2;
    n++;
    if (!grow_offsets(batch, (size_t)n + 1)) {
      st = BG_ERR_HOST_OOM;
      snprintf(msg, sizeof msg, "Cannot read pairs: out of memory for a batch of %u pairs", n);
      goto fail;
    }
    batch->off1[n] = (uint32_t)at1;
    batch->off2[n] = (uint32_t)at2;
  }
  batch->n_pairs = n;
  batch->bases = bases;
  r->pairs += n;
  return BG_OK;

fail:
  batch->n_pairs = 0;
  batch->bases = 0;
  if (st == BG_ERR_MALFORMED_FASTQ || st == BG_ERR_PAIR_MISMATCH) {
    /* Damaged gzip data inflates to garbage before the inflater meets an invalid code or the member's CRC:
     * the parser may see it first. The damage is the cause to report, when it shows within a few MiB. */
    for (int i = 0; i < 2; i++) {
      char why[BG_READER_MSG];
      bg_status_t d = src_damage_ahead(&r->src[i], why, sizeof why);
      if (d == BG_OK) continue;
      char first[BG_READER_MSG];
      snprintf(first, sizeof first, "%s", msg);
      snprintf(msg, sizeof msg, "%s; first seen as: %s", why, first);
      st = d;
      break;
    }
  }
  put_msg(err, err_len, "%s", msg);
  return reader_fail(r, st, msg);
}

void bg_pair_reader_set_cancel(bg_pair_reader_t *r, const atomic_int *cancel) {
  if (r == NULL) return;
  r->src[0].cancel = r->src[1].cancel = cancel;
}

uint64_t bg_pair_reader_bytes_done(const bg_pair_reader_t *r) {
  if (r == NULL) return 0;
  return atomic_load_explicit(&((bg_pair_reader_t *)r)->src[0].bytes_read, memory_order_relaxed) +
         atomic_load_explicit(&((bg_pair_reader_t *)r)->src[1].bytes_read, memory_order_relaxed);
}

uint64_t bg_pair_reader_bytes_total(const bg_pair_reader_t *r) {
  if (r == NULL) return 0;
  return r->src[0].size + r->src[1].size;
}

void bg_pair_reader_close(bg_pair_reader_t *r) {
  if (r == NULL) return;
  /* Ask both threads to stop before joining either, so they wind down together. */
  for (int i = 0; i < 2; i++) {
    bg_source_t *s = &r->src[i];
    if (!s->thread_started) continue;
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stop, 1);
    pthread_cond_broadcast(&s->can_fill);
    pthread_mutex_unlock(&s->mu);
  }
  source_destroy(&r->src[0]);
  source_destroy(&r->src[1]);
  free(r);
}
