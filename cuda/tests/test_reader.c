/*
 * test_reader.c — behaviour of the paired FASTQ reader (src/reader.c).
 *
 * Inputs are generated in a fresh temp folder: plain and gzip FASTQ (single member,
 * bgzip-style many members with an EOF member, FNAME headers), name styles, CRLF,
 * mixed and very long reads, and one file per error the reader must report.
 * Exit status is non-zero when a test fails; the last line reads
 * "reader: N passed, M failed".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gz_writer.h"
#include "internal.h" /* bg_prefault */
#include "reader.h"

/* ------------------------------------------------------------------------- */
/* Harness                                                                    */
/* ------------------------------------------------------------------------- */

static int g_passed, g_failed, g_test_failed;
static char g_dir[256];
static int g_inflate_threads;   /* helper threads per bgzip file for every reader the tests open */

#define CHECK(cond, ...)                                                   \
  do {                                                                     \
    if (!(cond)) {                                                         \
      g_test_failed = 1;                                                   \
      fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
      fprintf(stderr, __VA_ARGS__);                                        \
      fputc('\n', stderr);                                                 \
    }                                                                      \
  } while (0)

static void run_test(const char *name, void (*fn)(void)) {
  g_test_failed = 0;
  fn();
  if (g_test_failed) {
    g_failed++;
    fprintf(stderr, "FAIL %s%s\n", name, g_inflate_threads ? " (bgzip helpers)" : "");
  } else {
    g_passed++;
    printf("ok   %s%s\n", name, g_inflate_threads ? " (bgzip helpers)" : "");
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Growable byte buffer. */
typedef struct {
  char *p;
  size_t n, cap;
} buf_t;

static void buf_put(buf_t *b, const void *data, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t c = b->cap ? b->cap : 4096;
    while (c < b->n + n + 1) c *= 2;
    b->p = realloc(b->p, c);
    if (b->p == NULL) abort(); /* test code only */
    b->cap = c;
  }
  memcpy(b->p + b->n, data, n);
  b->n += n;
  b->p[b->n] = '\0';
}

static void buf_printf(buf_t *b, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  buf_put(b, tmp, (size_t)k);
}

static void buf_free(buf_t *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

static const char *path_of(const char *name) {
  static char paths[8][512];
  static int next;
  char *p = paths[next++ % 8];
  snprintf(p, 512, "%s/%s", g_dir, name);
  return p;
}

static const char *write_file(const char *name, const void *data, size_t n) {
  const char *path = path_of(name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
    fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
    exit(2);
  }
  return path;
}

/* ------------------------------------------------------------------------- */
/* gzip writers                                                               */
/* ------------------------------------------------------------------------- */

enum { HDR_PLAIN = GZ_PLAIN, HDR_BGZF = GZ_BGZF, HDR_FNAME = GZ_FNAME };

/* Appends one gzip member holding data[0..n) (level 1). */
static void gz_member(buf_t *out, const char *data, size_t n, int kind) {
  size_t cap = gz_member_bound(n);
  uint8_t *tmp = malloc(cap);
  size_t k = tmp ? gz_write_member(tmp, cap, data, n, kind, 1) : 0;
  if (k == 0 || k > cap) {
    fprintf(stderr, "gzip member of %zu bytes (kind %d) failed\n", n, kind);
    exit(2);
  }
  buf_put(out, tmp, k);
  free(tmp);
}

static void gz_whole(buf_t *out, const buf_t *in) { gz_member(out, in->p ? in->p : "", in->n, HDR_PLAIN); }

/* bgzip-style: members of `chunk` uncompressed bytes cut anywhere, then the EOF member. */
static void gz_bgzf(buf_t *out, const buf_t *in, size_t chunk) {
  for (size_t at = 0; at < in->n; at += chunk) gz_member(out, in->p + at, in->n - at < chunk ? in->n - at : chunk, HDR_BGZF);
  buf_put(out, BGZF_EOF, sizeof BGZF_EOF);
}

/* ------------------------------------------------------------------------- */
/* FASTQ generators                                                           */
/* ------------------------------------------------------------------------- */

static uint64_t g_rng;
static uint32_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)(g_rng >> 11);
}

static size_t read_len(size_t i) { return 75 + (i * 37) % 226; } /* 75..300 */

/* Pair of FASTQ texts with n records; expected normalised sequences go to exp1/exp2 (may be NULL). */
static void gen_pair(buf_t *r1, buf_t *r2, buf_t *exp1, buf_t *exp2, size_t n, uint64_t seed) {
  g_rng = seed * 2654435761u + 1;
  static const char acgt[] = "ACGT";
  char seq[400], qual[400];
  for (int mate = 0; mate < 2; mate++) {
    buf_t *r = mate ? r2 : r1, *e = mate ? exp2 : exp1;
    for (size_t i = 0; i < n; i++) {
      size_t len = read_len(i + (size_t)mate * 11);
      for (size_t j = 0; j < len; j++) {
        seq[j] = acgt[rnd() & 3];
        qual[j] = (char)('!' + rnd() % 41);
      }
      buf_printf(r, "@SIM:1:FCX:1:%zu:%u:%u %d:N:0:ACGTACGT\n", i / 1000 + 1, (unsigned)i, (unsigned)(i * 7), mate + 1);
      buf_put(r, seq, len);
      buf_put(r, "\n+\n", 3);
      buf_put(r, qual, len);
      buf_put(r, "\n", 1);
      if (e) buf_put(e, seq, len);
    }
  }
}

/* One record; qual defaults to 'I' * strlen(seq). */
static void rec(buf_t *b, const char *header, const char *seq, const char *plus, const char *qual) {
  size_t n = strlen(seq);
  buf_put(b, header, strlen(header));
  buf_put(b, "\n", 1);
  buf_put(b, seq, n);
  buf_put(b, "\n", 1);
  buf_put(b, plus, strlen(plus));
  buf_put(b, "\n", 1);
  if (qual) {
    buf_put(b, qual, strlen(qual));
    buf_put(b, "\n", 1);
  }
  else {
    for (size_t i = 0; i < n; i++) buf_put(b, "I", 1);
    buf_put(b, "\n", 1);
  }
}

/* ------------------------------------------------------------------------- */
/* Reading helpers                                                            */
/* ------------------------------------------------------------------------- */

typedef struct {
  bg_status_t st;
  char err[512];
  uint64_t pairs, bases, batches;
  buf_t seq1, seq2;      /* all sequences concatenated */
  buf_t lens1;           /* uint32 lengths of R1 reads */
  uint64_t bytes_done, bytes_total;
} result_t;

static void result_free(result_t *r) {
  buf_free(&r->seq1);
  buf_free(&r->seq2);
  buf_free(&r->lens1);
}

/* Reads a pair to the end (or the first error) with the given batch limits. */
static result_t read_all(const char *p1, const char *p2, uint32_t max_pairs, uint64_t max_bases) {
  result_t res;
  memset(&res, 0, sizeof res);
  bg_pair_reader_t *r = NULL;
  res.st = bg_pair_reader_open(&r, p1, p2, g_inflate_threads, res.err, sizeof res.err);
  if (res.st != BG_OK) return res;
  bg_batch_t b;
  bg_batch_init(&b);
  for (;;) {
    res.st = bg_pair_reader_next(r, &b, max_pairs, max_bases, res.err, sizeof res.err);
    if (res.st != BG_OK || b.n_pairs == 0) break;
    res.batches++;
    res.pairs += b.n_pairs;
    res.bases += b.bases;
    CHECK(b.n_pairs <= max_pairs, "batch of %u pairs > %u", b.n_pairs, max_pairs);
    CHECK(b.off1[0] == 0 && b.off2[0] == 0, "offsets start at 0");
    uint64_t sum = (uint64_t)b.off1[b.n_pairs] + b.off2[b.n_pairs];
    CHECK(sum == b.bases, "bases %llu vs offsets %llu", (unsigned long long)b.bases, (unsigned long long)sum);
    buf_put(&res.seq1, b.seq1, b.off1[b.n_pairs]);
    buf_put(&res.seq2, b.seq2, b.off2[b.n_pairs]);
    for (uint32_t i = 0; i < b.n_pairs; i++) {
      uint32_t len = b.off1[i + 1] - b.off1[i];
      buf_put(&res.lens1, &len, sizeof len);
    }
  }
  res.bytes_done = bg_pair_reader_bytes_done(r);
  res.bytes_total = bg_pair_reader_bytes_total(r);
  if (res.st == BG_OK) {
    /* The end is sticky: another call returns no pairs. */
    bg_status_t again = bg_pair_reader_next(r, &b, max_pairs, max_bases, res.err, sizeof res.err);
    CHECK(again == BG_OK && b.n_pairs == 0, "call after the end gave %d / %u pairs", again, b.n_pairs);
  } else {
    /* Errors are sticky too. */
    char err2[512];
    bg_status_t again = bg_pair_reader_next(r, &b, max_pairs, max_bases, err2, sizeof err2);
    CHECK(again == res.st && strcmp(err2, res.err) == 0, "error not sticky: %d '%s'", again, err2);
  }
  bg_batch_free(&b);
  bg_pair_reader_close(r);
  return res;
}

/* Expects a failure with `status` whose message contains each of the given strings (NULL-terminated). */
static void expect_error(const char *p1, const char *p2, bg_status_t status, ...) {
  result_t res = read_all(p1, p2, 1000, 0);
  if (getenv("BG_TEST_VERBOSE")) printf("     -> %s\n", res.err);
  CHECK(res.st == status, "status %s (%d), expected %d; message: %s", res.st == BG_OK ? "OK" : "error", res.st, status,
        res.err);
  va_list ap;
  va_start(ap, status);
  for (const char *want; (want = va_arg(ap, const char *)) != NULL;)
    CHECK(strstr(res.err, want) != NULL, "message '%s' lacks '%s'", res.err, want);
  va_end(ap);
  result_free(&res);
}

/* ------------------------------------------------------------------------- */
/* Tests: valid input                                                         */
/* ------------------------------------------------------------------------- */

static void test_plain_small_pair_reads_sequences_and_offsets(void) {
  buf_t a = {0}, b = {0};
  rec(&a, "@r1 extra words", "ACGTACGTAC", "+", NULL);
  rec(&a, "@r2", "GGGG", "+", NULL);
  rec(&b, "@r1 other", "TTTTT", "+", NULL);
  rec(&b, "@r2", "CCCCCCCC", "+", NULL);
  const char *p1 = write_file("small_R1.fastq", a.p, a.n), *p2 = write_file("small_R2.fastq", b.p, b.n);
  bg_pair_reader_t *r = NULL;
  char err[256];
  CHECK(bg_pair_reader_open(&r, p1, p2, g_inflate_threads, err, sizeof err) == BG_OK, "%s", err);
  bg_batch_t bt;
  bg_batch_init(&bt);
  CHECK(bg_pair_reader_next(r, &bt, 100, 0, err, sizeof err) == BG_OK, "%s", err);
  CHECK(bt.n_pairs == 2, "n_pairs %u", bt.n_pairs);
  CHECK(bt.bases == 27, "bases %llu", (unsigned long long)bt.bases);
  CHECK(bt.off1[0] == 0 && bt.off1[1] == 10 && bt.off1[2] == 14, "off1");
  CHECK(bt.off2[0] == 0 && bt.off2[1] == 5 && bt.off2[2] == 13, "off2");
  CHECK(memcmp(bt.seq1, "ACGTACGTACGGGG", 14) == 0, "seq1");
  CHECK(memcmp(bt.seq2, "TTTTTCCCCCCCC", 13) == 0, "seq2");
  CHECK(bg_pair_reader_next(r, &bt, 100, 0, err, sizeof err) == BG_OK && bt.n_pairs == 0, "end");
  CHECK(bg_pair_reader_bytes_done(r) == a.n + b.n, "bytes_done %llu", (unsigned long long)bg_pair_reader_bytes_done(r));
  CHECK(bg_pair_reader_bytes_total(r) == a.n + b.n, "bytes_total");
  bg_batch_free(&bt);
  bg_pair_reader_close(r);
  buf_free(&a);
  buf_free(&b);
}

/* Reads plain, single-member gzip and bgzip versions of one generated pair; all must agree. */
static void test_plain_gzip_and_bgzip_give_identical_reads(void) {
  buf_t r1 = {0}, r2 = {0}, e1 = {0}, e2 = {0}, z1 = {0}, z2 = {0}, b1 = {0}, b2 = {0};
  const size_t n = 30000; /* ~13 MB per mate: crosses many 4 MiB blocks */
  gen_pair(&r1, &r2, &e1, &e2, n, 7);
  gz_whole(&z1, &r1);
  gz_whole(&z2, &r2);
  gz_bgzf(&b1, &r1, 9973); /* > 1000 members, cut mid-record */
  gz_bgzf(&b2, &r2, 8191);
  CHECK(r1.n / 9973 >= 1000, "only %zu members", r1.n / 9973);
  const char *paths[3][2] = {
      {write_file("gen_R1.fastq", r1.p, r1.n), write_file("gen_R2.fastq", r2.p, r2.n)},
      {write_file("gen_R1.fastq.gz", z1.p, z1.n), write_file("gen_R2.fastq.gz", z2.p, z2.n)},
      {write_file("gen_R1.bgz", b1.p, b1.n), write_file("gen_R2.bgz", b2.p, b2.n)},
  };
  size_t sizes[3] = {r1.n + r2.n, z1.n + z2.n, b1.n + b2.n};
  for (int k = 0; k < 3; k++) {
    result_t res = read_all(paths[k][0], paths[k][1], 4096, 0);
    CHECK(res.st == BG_OK, "variant %d: %s", k, res.err);
    CHECK(res.pairs == n, "variant %d: %llu pairs", k, (unsigned long long)res.pairs);
    CHECK(res.seq1.n == e1.n && memcmp(res.seq1.p, e1.p, e1.n) == 0, "variant %d: R1 sequences differ", k);
    CHECK(res.seq2.n == e2.n && memcmp(res.seq2.p, e2.p, e2.n) == 0, "variant %d: R2 sequences differ", k);
    CHECK(res.bytes_done == res.bytes_total && res.bytes_total == sizes[k], "variant %d: bytes %llu/%llu of %zu", k,
          (unsigned long long)res.bytes_done, (unsigned long long)res.bytes_total, sizes[k]);
    const uint32_t *lens = (const uint32_t *)res.lens1.p;
    int lens_ok = res.lens1.n == n * sizeof(uint32_t);
    for (size_t i = 0; lens_ok && i < n; i++) lens_ok = lens[i] == read_len(i);
    CHECK(lens_ok, "variant %d: read lengths 75..300 not preserved", k);
    result_free(&res);
  }
  buf_free(&r1), buf_free(&r2), buf_free(&e1), buf_free(&e2);
  buf_free(&z1), buf_free(&z2), buf_free(&b1), buf_free(&b2);
}

static void test_batches_respect_max_pairs_and_max_bases(void) {
  buf_t r1 = {0}, r2 = {0};
  gen_pair(&r1, &r2, NULL, NULL, 1000, 3);
  const char *p1 = write_file("batch_R1.fastq", r1.p, r1.n), *p2 = write_file("batch_R2.fastq", r2.p, r2.n);
  result_t res = read_all(p1, p2, 7, 0);
  CHECK(res.st == BG_OK && res.pairs == 1000 && res.batches == 143, "max_pairs 7: %llu pairs in %llu batches",
        (unsigned long long)res.pairs, (unsigned long long)res.batches);
  result_free(&res);

  bg_pair_reader_t *r = NULL;
  char err[256];
  CHECK(bg_pair_reader_open(&r, p1, p2, g_inflate_threads, err, sizeof err) == BG_OK, "%s", err);
  bg_batch_t b;
  bg_batch_init(&b);
  uint64_t pairs = 0;
  int ok = 1;
  for (;;) {
    if (bg_pair_reader_next(r, &b, 100000, 2000, err, sizeof err) != BG_OK) {
      ok = 0;
      break;
    }
    if (b.n_pairs == 0) break;
    pairs += b.n_pairs;
    /* Stops as soon as bases reach 2000: without its last pair the batch was below. */
    uint64_t last = (b.off1[b.n_pairs] - b.off1[b.n_pairs - 1]) + (b.off2[b.n_pairs] - b.off2[b.n_pairs - 1]);
    if (pairs < 1000 && (b.bases < 2000 || b.bases - last >= 2000)) ok = 0;
  }
  CHECK(ok && pairs == 1000, "max_bases batches wrong (%llu pairs) %s", (unsigned long long)pairs, err);
  CHECK(bg_pair_reader_next(r, &b, 0, 0, err, sizeof err) == BG_ERR_INVALID_ARGUMENT, "max_pairs 0 accepted");
  bg_batch_free(&b);
  bg_pair_reader_close(r);
  buf_free(&r1), buf_free(&r2);
}

static void test_casava_and_slash_names_pair(void) {
  buf_t a = {0}, b = {0};
  rec(&a, "@A00123:8:H5KJ:1:1101:1000:2000 1:N:0:ACGTACGT+TTGGCCAA", "ACGT", "+", NULL);
  rec(&b, "@A00123:8:H5KJ:1:1101:1000:2000 2:N:0:ACGTACGT+TTGGCCAA", "ACGT", "+", NULL);
  rec(&a, "@read7/1", "ACGT", "+", NULL);
  rec(&b, "@read7/2", "ACGT", "+", NULL);
  rec(&a, "@read8/1\tcomment", "ACGT", "+", NULL);
  rec(&b, "@read8/2\tother", "ACGT", "+", NULL);
  rec(&a, "@read9", "ACGT", "+", NULL);
  rec(&b, "@read9/2", "ACGT", "+", NULL);
  /* SRA: fastq-dump --readids (mates .1 and .2), and its default (the spot's name in both files) */
  rec(&a, "@SRR1553606.10.1 10 length=4", "ACGT", "+", NULL);
  rec(&b, "@SRR1553606.10.2 10 length=4", "ACGT", "+", NULL);
  rec(&a, "@SRR1553606.11", "ACGT", "+", NULL);
  rec(&b, "@SRR1553606.11", "ACGT", "+", NULL);
  result_t res = read_all(write_file("names_R1.fq", a.p, a.n), write_file("names_R2.fq", b.p, b.n), 100, 0);
  CHECK(res.st == BG_OK && res.pairs == 6, "%d %llu: %s", res.st, (unsigned long long)res.pairs, res.err);
  result_free(&res);
  buf_free(&a), buf_free(&b);
}

/* SRA names pair only as mates of one spot: another spot, or a final digit other than 1 and 2, is a mismatch. */
static void test_sra_names_of_other_spots_are_pair_mismatch(void) {
  static const char *const r2[] = {"@SRR1553606.12.2", "@SRR1553606.1.3", "@SRR1553606.1x2", "@SRR1553606.1.1"};
  static const char *const want[] = {"R1 'SRR1553606.1.1' vs R2 'SRR1553606.12.2'", "R1 'SRR1553606.1.1' vs R2 'SRR1553606.1.3'",
                                     "R1 'SRR1553606.1.1' vs R2 'SRR1553606.1x2'", NULL};
  for (int i = 0; i < 4; i++) {
    buf_t a = {0}, b = {0};
    rec(&a, "@SRR1553606.1.1", "ACGT", "+", NULL);
    rec(&b, r2[i], "ACGT", "+", NULL);
    if (want[i]) expect_error(write_file("sra_R1.fq", a.p, a.n), write_file("sra_R2.fq", b.p, b.n), BG_ERR_PAIR_MISMATCH, want[i], NULL);
    else { /* the same name in both files: pairs, as any name does */
      result_t res = read_all(write_file("sra_R1.fq", a.p, a.n), write_file("sra_R2.fq", b.p, b.n), 100, 0);
      CHECK(res.st == BG_OK && res.pairs == 1, "%d: %s", res.st, res.err);
      result_free(&res);
    }
    buf_free(&a), buf_free(&b);
  }
}

/* Read names of 1 to 90 characters, ended by a space, a tab or the line: the key is found at every length
 * (the search goes 32 bytes a step), so mates pair, and a difference in the name's last character does not. */
static void test_name_keys_of_every_length(void) {
  int ok = 1;
  for (int len = 1; len <= 90 && ok; len++) {
    for (int end = 0; end < 3 && ok; end++) { /* 0: space, 1: tab, 2: none */
      char name[128];
      for (int i = 0; i < len; i++) name[i] = "ABCDEFGHIJ:0123456789_"[(i * 7 + len) % 22];
      name[len] = 0;
      buf_t a = {0}, b = {0}, c = {0};
      char h1[160], h2[160], h3[160];
      char key[128];
      memcpy(key, name, (size_t)len + 1);
      /* the mates' names end differently (space / tab): only the key before them counts */
      snprintf(h1, sizeof h1, "@%s%s", name, end == 0 ? " 1:N:0:AC" : end == 1 ? "\tx" : "/1");
      snprintf(h2, sizeof h2, "@%s%s", name, end == 0 ? "\t2:N:0:AC" : end == 1 ? " y" : "/2");
      rec(&a, h1, "ACGT", "+", NULL);
      rec(&b, h2, "ACGT", "+", NULL);
      name[len - 1] = name[len - 1] == 'Z' ? 'Y' : 'Z';
      snprintf(h3, sizeof h3, "@%s%s", name, end == 0 ? " 2:N:0:AC" : end == 1 ? "\ty" : "/2");
      rec(&c, h3, "ACGT", "+", NULL);
      char *p1 = strdup(write_file("key_R1.fq", a.p, a.n));
      result_t res = read_all(p1, write_file("key_R2.fq", b.p, b.n), 10, 0);
      ok &= res.st == BG_OK && res.pairs == 1;
      CHECK(ok, "name of %d characters (end %d) pairs: %d %s", len, end, res.st, res.err);
      result_free(&res);
      res = read_all(p1, write_file("key_R3.fq", c.p, c.n), 10, 0);
      char want[160];
      snprintf(want, sizeof want, "R1 '%s' vs R2 '%s'", key, name); /* the keys, exactly */
      ok &= res.st == BG_ERR_PAIR_MISMATCH && (len > 80 || strstr(res.err, want) != NULL); /* longer: shown cut */
      CHECK(ok, "name of %d characters (end %d) differing in its last: %d %s", len, end, res.st, res.err);
      result_free(&res);
      free(p1);
      buf_free(&a), buf_free(&b), buf_free(&c);
    }
  }
}

static void test_plus_lines_case_iupac_and_crlf_are_accepted(void) {
  buf_t a = {0}, b = {0};
  rec(&a, "@x1", "acgtnACGTN", "+x1", NULL);
  rec(&b, "@x1", "RYKMSWBDHV", "+", NULL);
  rec(&a, "@x2", "AC.GT-*", "+x2 repeated header text", NULL);
  rec(&b, "@x2", "acgtACGT", "+", NULL);
  buf_put(&a, "@x3\r\nGATTACA\r\n+\r\nIIIIIII\r\n", 26);
  buf_put(&b, "@x3\r\nTTT\r\n+x3\r\n!!!\r\n\n\n\r\n", 24); /* blank trailing lines */
  result_t res = read_all(write_file("misc_R1.fq", a.p, a.n), write_file("misc_R2.fq", b.p, b.n), 100, 0);
  CHECK(res.st == BG_OK && res.pairs == 3, "%d: %s", res.st, res.err);
  CHECK(res.seq1.n == 24 && memcmp(res.seq1.p, "ACGTNACGTNACNGTNNGATTACA", 24) == 0, "R1 '%.*s'", (int)res.seq1.n,
        res.seq1.p);
  CHECK(res.seq2.n == 21 && memcmp(res.seq2.p, "NNNNNNNNNNACGTACGTTTT", 21) == 0, "R2 '%.*s'", (int)res.seq2.n,
        res.seq2.p);
  result_free(&res);
  buf_free(&a), buf_free(&b);
}

static void test_last_record_without_newline_and_fname_header(void) {
  buf_t a = {0}, b = {0}, z = {0};
  rec(&a, "@q", "ACGT", "+", NULL);
  buf_put(&b, "@q\nTTGA\n+\nIIII", 14);
  gz_member(&z, a.p, a.n, HDR_FNAME);
  result_t res = read_all(write_file("fname_R1.gz", z.p, z.n), write_file("nonl_R2.fq", b.p, b.n), 100, 0);
  CHECK(res.st == BG_OK && res.pairs == 1 && memcmp(res.seq2.p, "TTGA", 4) == 0, "%d: %s", res.st, res.err);
  result_free(&res);
  buf_free(&a), buf_free(&b), buf_free(&z);
}

/* The vectorised sequence and quality checks, at every column of reads of 1..20 bases and around the 16- and
 * 32-byte steps: case and IUPAC codes normalised, a bad byte reported at its column. */
static void test_every_column_is_normalised_and_checked(void) {
  static const unsigned char bad_qual[] = {0x20, 0x7f, 0x80, 0xff, 0x1f};
  static const unsigned char bad_seq[] = {0x01, 0x7f, 0x80, 0xff, 0x09, 0x20};
  /* around each multiple of 32 (the SIMD step; the last step overlaps the one before) */
  static const size_t lens[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                                31, 32, 33, 47, 48, 49, 63, 64, 65, 80, 95, 96, 97, 150, 151};
  int ok = 1;
  /* alphabets: ACGT of both cases with N and IUPAC codes throughout; ACGT of both cases only */
  for (int alpha = 0; alpha < 2 && ok; alpha++)
    for (size_t li = 0; li < sizeof lens / sizeof *lens && ok; li++) {
      size_t len = lens[li];
      char seq[160], want[160], qual[160], msg[64];
      for (size_t i = 0; i < len; i++) {
        size_t k = alpha ? (i * 5 + len) % 8 : (i * 7 + len) % 20;
        seq[i] = "ACGTacgtNnRYKMSWBDHV"[k];
        want[i] = "ACGTACGTNNNNNNNNNNNN"[k];
        qual[i] = (char)('!' + (i * 13 + len) % 94);
      }
      seq[len] = want[len] = qual[len] = 0;
      buf_t a = {0}, b = {0};
      rec(&a, "@c", seq, "+", qual);
      rec(&b, "@c", "A", "+", NULL);
      char *p2 = strdup(write_file("col_R2.fq", b.p, b.n));
      result_t res = read_all(write_file("col_R1.fq", a.p, a.n), p2, 10, 0);
      ok &= res.st == BG_OK && res.seq1.n == len && memcmp(res.seq1.p, want, len) == 0;
      CHECK(ok, "alphabet %d, %zu bases: %d %s", alpha, len, res.st, res.err);
      result_free(&res);
      for (size_t col = 0; col < len && ok; col++) {
        for (int kind = 0; kind < 3 && ok; kind++) { /* a bad quality byte, a bad sequence byte, one N */
          char s2[160], q2[160], w2[160];
          memcpy(s2, seq, len + 1);
          memcpy(q2, qual, len + 1);
          memcpy(w2, want, len + 1);
          unsigned char x = kind == 1 ? bad_seq[col % sizeof bad_seq] : bad_qual[col % sizeof bad_qual];
          if (kind == 2) s2[col] = col % 2 ? 'n' : '*', w2[col] = 'N';
          else (kind ? s2 : q2)[col] = (char)x;
          buf_t c = {0};
          rec(&c, "@c", s2, "+", q2);
          res = read_all(write_file("col_bad_R1.fq", c.p, c.n), p2, 10, 0);
          if (kind == 2) {
            ok &= res.st == BG_OK && res.seq1.n == len && memcmp(res.seq1.p, w2, len) == 0;
            CHECK(ok, "alphabet %d, %zu bases, N at column %zu: %d %s", alpha, len, col + 1, res.st, res.err);
          } else {
            if (kind && (x == ' ' || x == '\t')) snprintf(msg, sizeof msg, "a %s at column %zu", x == ' ' ? "space" : "tab", col + 1);
            else snprintf(msg, sizeof msg, "%s byte 0x%02X at column %zu", kind ? "non-text" : "invalid", x, col + 1);
            ok &= res.st == BG_ERR_MALFORMED_FASTQ && strstr(res.err, msg) != NULL;
            CHECK(ok, "alphabet %d, %zu bases, %s column %zu: %d %s", alpha, len, kind ? "sequence" : "quality", col + 1, res.st,
                  res.err);
          }
          result_free(&res);
          buf_free(&c);
        }
      }
      buf_free(&a), buf_free(&b);
      free(p2);
    }
}

static void test_zero_length_reads_are_kept(void) {
  buf_t a = {0}, b = {0};
  rec(&a, "@z1", "", "+", "");
  rec(&b, "@z1", "ACG", "+", NULL);
  rec(&a, "@z2", "T", "+", NULL);
  rec(&b, "@z2", "", "+", "");
  result_t res = read_all(write_file("zero_R1.fq", a.p, a.n), write_file("zero_R2.fq", b.p, b.n), 100, 0);
  CHECK(res.st == BG_OK && res.pairs == 2 && res.bases == 4, "%d %llu: %s", res.st, (unsigned long long)res.bases,
        res.err);
  const uint32_t *l = (const uint32_t *)res.lens1.p;
  CHECK(res.lens1.n == 8 && l[0] == 0 && l[1] == 1, "lengths");
  result_free(&res);
  buf_free(&a), buf_free(&b);
}

/* An empty read as the file's last record, its (empty) quality line unterminated: taken as the record it is. */
static void test_empty_last_read_without_newline_is_a_record(void) {
  buf_t a = {0}, b = {0};
  rec(&a, "@e1", "ACGT", "+", NULL);
  buf_put(&a, "@e2\n\n+\n", 7);
  rec(&b, "@e1", "ACGT", "+", NULL);
  rec(&b, "@e2", "GG", "+", NULL);
  result_t res = read_all(write_file("emptylast_R1.fq", a.p, a.n), write_file("emptylast_R2.fq", b.p, b.n), 100, 0);
  CHECK(res.st == BG_OK && res.pairs == 2 && res.bases == 10, "%d %llu: %s", res.st, (unsigned long long)res.pairs,
        res.err);
  result_free(&res);
  /* a read with bases still needs its quality line */
  buf_t c = {0};
  rec(&c, "@e1", "ACGT", "+", NULL);
  buf_put(&c, "@e2\nGG\n+\n", 9);
  const char *p = write_file("noqual_R1.fq", c.p, c.n);
  expect_error(p, write_file("emptylast_R2b.fq", b.p, b.n), BG_ERR_MALFORMED_FASTQ, "file ends after the '+' line", p,
               NULL);
  buf_free(&a), buf_free(&b), buf_free(&c);
}

static void test_long_reads_up_to_5_mib_are_read_whole(void) {
  size_t lens[3] = {100000, 5u << 20, 150};
  buf_t a = {0}, b = {0};
  char *s = malloc(lens[1] + 1);
  for (int i = 0; i < 3; i++) {
    for (size_t j = 0; j < lens[i]; j++) s[j] = "ACGT"[(j * 7 + (size_t)i) & 3];
    s[lens[i]] = '\0';
    char h[32];
    snprintf(h, sizeof h, "@long%d", i);
    rec(&a, h, s, "+", NULL);
    rec(&b, h, "ACGT", "+", NULL);
  }
  free(s);
  buf_t z = {0};
  gz_whole(&z, &a);
  result_t res = read_all(write_file("long_R1.fq.gz", z.p, z.n), write_file("long_R2.fq", b.p, b.n), 100, 0);
  CHECK(res.st == BG_OK && res.pairs == 3, "%d: %s", res.st, res.err);
  const uint32_t *l = (const uint32_t *)res.lens1.p;
  CHECK(res.lens1.n == 12 && l[0] == lens[0] && l[1] == lens[1] && l[2] == lens[2], "lengths wrong");
  CHECK(res.seq1.n == lens[0] + lens[1] + lens[2] && res.seq1.p[lens[0] + 12345] == "ACGT"[(12345 * 7 + 1) & 3],
        "long read content");
  result_free(&res);
  buf_free(&a), buf_free(&b), buf_free(&z);
}

static void test_zero_padding_after_last_member_is_ignored(void) {
  buf_t a = {0}, z = {0};
  rec(&a, "@p", "ACGT", "+", NULL);
  gz_whole(&z, &a);
  buf_put(&z, "\0\0\0\0\0\0\0\0", 8);
  const char *p1 = write_file("pad_R1.fq.gz", z.p, z.n), *p2 = write_file("pad_R2.fq", a.p, a.n);
  result_t res = read_all(p1, p2, 100, 0);
  CHECK(res.st == BG_OK && res.pairs == 1, "%d: %s", res.st, res.err);
  result_free(&res);
  buf_free(&a), buf_free(&z);
}

/* ------------------------------------------------------------------------- */
/* Tests: errors                                                              */
/* ------------------------------------------------------------------------- */

static const char *g_ok1, *g_ok2; /* a valid small pair */

static void test_missing_file_is_file_not_found_naming_the_mate(void) {
  const char *missing = path_of("nope_R1.fastq.gz");
  expect_error(missing, g_ok2, BG_ERR_FILE_NOT_FOUND, "Cannot read R1: file does not exist", missing, NULL);
  const char *missing2 = path_of("nodir/nope_R2.fastq.gz");
  expect_error(g_ok1, missing2, BG_ERR_FILE_NOT_FOUND, "Cannot read R2", missing2, NULL);
}

static void test_directory_and_bad_arguments_are_rejected(void) {
  expect_error(g_dir, g_ok2, BG_ERR_INVALID_ARGUMENT, "R1", "directory", g_dir, NULL);
  expect_error(g_ok1, g_ok1, BG_ERR_INVALID_ARGUMENT, "same", NULL);
  expect_error(g_ok1, "", BG_ERR_INVALID_ARGUMENT, "R2", "empty", NULL);
  char link[600];
  snprintf(link, sizeof link, "%s/link_R2.fq", g_dir);
  CHECK(symlink(g_ok1, link) == 0, "symlink: %s", strerror(errno));
  expect_error(g_ok1, link, BG_ERR_INVALID_ARGUMENT, "same file", NULL);
  bg_pair_reader_t *r = (bg_pair_reader_t *)1;
  char err[128];
  CHECK(bg_pair_reader_open(&r, NULL, g_ok2, g_inflate_threads, err, sizeof err) == BG_ERR_INVALID_ARGUMENT && r == NULL, "NULL path");
  CHECK(bg_pair_reader_open(NULL, g_ok1, g_ok2, g_inflate_threads, err, sizeof err) == BG_ERR_INVALID_ARGUMENT, "NULL out");
  bg_pair_reader_close(NULL);
  bg_batch_free(NULL);
}

static void test_unreadable_file_is_permission_denied(void) {
  buf_t a = {0};
  rec(&a, "@p", "ACGT", "+", NULL);
  const char *p = write_file("noperm_R1.fq", a.p, a.n);
  chmod(p, 0);
  if (geteuid() != 0) {
    expect_error(p, g_ok2, BG_ERR_PERMISSION_DENIED, "Cannot read R1: permission denied", p, NULL);
  } else {
    /* root reads anything: the check runs in a child that has dropped to nobody (CI runs as root) */
    chmod(g_dir, 0755);
    chmod(g_ok2, 0644);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
      if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
      expect_error(p, g_ok2, BG_ERR_PERMISSION_DENIED, "Cannot read R1: permission denied", p, NULL);
      fflush(NULL);
      _exit(g_test_failed ? 1 : 0);
    }
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid, "cannot run the check as nobody");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 3, "cannot drop to uid 65534 in the child");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the check as nobody failed (status %d)", st);
    chmod(g_dir, 0700);
  }
  buf_free(&a);
}

static void test_truncated_gzip_is_corrupt_gzip(void) {
  buf_t r1 = {0}, r2 = {0}, z = {0};
  gen_pair(&r1, &r2, NULL, NULL, 3000, 5);
  gz_whole(&z, &r1);
  const char *p = write_file("trunc_R1.fastq.gz", z.p, z.n / 2);
  char want[64];
  snprintf(want, sizeof want, "truncated after %zu compressed bytes", z.n / 2);
  expect_error(p, write_file("trunc_R2.fastq", r2.p, r2.n), BG_ERR_CORRUPT_GZIP, "Cannot read R1: gzip stream is ",
               want, p, NULL);
  /* Cut inside the 8-byte trailer of a multi-member file, and just after a magic. */
  buf_t m = {0};
  gz_bgzf(&m, &r1, 50000);
  const char *p2 = write_file("trunc2_R2.bgz", m.p, m.n - sizeof BGZF_EOF - 3);
  /* its mate is the intact R1, so the truncation is the only fault, whatever the ring's block size */
  expect_error(write_file("trunc2_R1.fastq", r1.p, r1.n), p2, BG_ERR_CORRUPT_GZIP, "Cannot read R2", "truncated", p2, NULL);
  const char *p3 = write_file("magic_R1.gz", "\x1f\x8b", 2);
  expect_error(p3, g_ok2, BG_ERR_CORRUPT_GZIP, "truncated", p3, NULL);
  buf_free(&r1), buf_free(&r2), buf_free(&z), buf_free(&m);
}

static void test_corrupt_gzip_crc_data_or_trailing_garbage_is_corrupt_gzip(void) {
  buf_t a = {0}, b = {0}, z = {0};
  gen_pair(&a, &b, NULL, NULL, 200, 9);
  gz_whole(&z, &a);
  z.p[z.n - 6] ^= 0x55; /* CRC32 */
  const char *p = write_file("crc_R1.gz", z.p, z.n);
  const char *p2 = write_file("crc_R2.fq", b.p, b.n);
  expect_error(p, p2, BG_ERR_CORRUPT_GZIP, "Cannot read R1: gzip stream is corrupt", "CRC", p, NULL);
  z.p[z.n - 6] ^= 0x55;
  z.p[z.n / 2] ^= 0xff; /* deflate data */
  p = write_file("data_R1.gz", z.p, z.n);
  expect_error(p, p2, BG_ERR_CORRUPT_GZIP, "Cannot read R1: gzip stream is corrupt", p, NULL);
  z.p[z.n / 2] ^= 0xff;
  buf_put(&z, "garbage!", 8);
  p = write_file("garbage_R1.gz", z.p, z.n);
  expect_error(p, p2, BG_ERR_CORRUPT_GZIP, "unexpected data after member 1", p, NULL);
  buf_free(&a), buf_free(&b), buf_free(&z);
}

/* Damage in the middle of a large file, one gzip member or bgzip: garbage inflated before the inflater finds
 * the damage may reach the parser first, but the gzip damage is what is reported. */
static void test_damage_mid_file_is_corrupt_gzip_not_malformed_fastq(void) {
  buf_t a = {0}, b = {0};
  gen_pair(&a, &b, NULL, NULL, 8000, 21); /* ~1.5 MiB a mate */
  const char *p2 = write_file("mid_R2.fq", b.p, b.n);
  for (int bgzf = 0; bgzf < 2; bgzf++) {
    for (int at = 1; at <= 3; at++) {
      buf_t z = {0};
      if (bgzf) gz_bgzf(&z, &a, 65280);
      else gz_whole(&z, &a);
      z.p[z.n * at / 5] ^= 0x5a;
      const char *p = write_file(bgzf ? "mid_R1.bgz" : "mid_R1.gz", z.p, z.n);
      result_t res = read_all(p, p2, 1000, 0);
      if (getenv("BG_TEST_VERBOSE")) printf("     -> %s\n", res.err);
      CHECK(res.st == BG_ERR_CORRUPT_GZIP && strstr(res.err, "Cannot read R1: gzip stream is") && strstr(res.err, p),
            "%s, byte %zu of %zu flipped: %d %s", bgzf ? "bgzip" : "one member", z.n * at / 5, z.n, res.st, res.err);
      result_free(&res);
      buf_free(&z);
    }
  }
  buf_free(&a), buf_free(&b);
}

static void test_sequence_quality_length_mismatch_is_malformed_with_line(void) {
  buf_t a = {0}, b = {0};
  rec(&a, "@m1", "ACGT", "+", NULL);
  rec(&a, "@m2", "ACGTACGT", "+", "IIIIIII");
  rec(&b, "@m1", "ACGT", "+", NULL);
  rec(&b, "@m2", "ACGTACGT", "+", NULL);
  const char *p = write_file("len_R2.fq", a.p, a.n);
  expect_error(write_file("len_R1.fq", b.p, b.n), p, BG_ERR_MALFORMED_FASTQ, "Malformed FASTQ in R2 at line 8: sequence has 8 bases but quality has 7",
               p, NULL);
  buf_free(&a), buf_free(&b);
}

static void test_structural_errors_are_malformed(void) {
  buf_t a = {0}, e = {0};
  rec(&a, "@m1", "ACGT", "+", NULL);
  buf_put(&a, "@m2\nACGT\n+\n", 11); /* cut record */
  rec(&e, "@m1", "ACGT", "+", NULL);
  rec(&e, "@m2", "ACGT", "+", NULL);
  const char *p = write_file("cut_R1.fq", a.p, a.n);
  expect_error(p, write_file("cut_R2.fq", e.p, e.n), BG_ERR_MALFORMED_FASTQ, "R1", "truncated record", p, NULL);
  buf_t b = {0};
  buf_put(&b, "@m1\nACGT\nIIII\n", 14);
  p = write_file("noplus_R1.fq", b.p, b.n);
  expect_error(p, g_ok2, BG_ERR_MALFORMED_FASTQ, "at line 3", "'+'", p, NULL);
  buf_t c = {0};
  buf_put(&c, ">seq1\nACGT\n", 11);
  p = write_file("fasta_R1.fa", c.p, c.n);
  expect_error(p, g_ok2, BG_ERR_MALFORMED_FASTQ, "at line 1", "FASTA", p, NULL);
  buf_t d = {0};
  buf_put(&d, "@m1\nAC\x01T\n+\nIIII\n", 16);
  p = write_file("ctl_R1.fq", d.p, d.n);
  expect_error(p, g_ok2, BG_ERR_MALFORMED_FASTQ, "at line 2", "0x01", p, NULL);
  buf_free(&a), buf_free(&b), buf_free(&c), buf_free(&d), buf_free(&e);
}

/* The usual '+' and quality lines are taken without a search for their '\n' (the quality's length is the
 * sequence's); lines that only look so at their expected end are still reported as the general path does. */
static void test_lines_taken_by_length_are_still_checked(void) {
  buf_t a = {0};
  buf_put(&a, "@m1\nA\nX\nI\n", 10); /* a two-byte line where "+\n" goes */
  const char *p = write_file("fast_plus_R1.fq", a.p, a.n);
  expect_error(p, g_ok2, BG_ERR_MALFORMED_FASTQ, "at line 3", "expected a '+' separator line but found another line", p, NULL);
  buf_t b = {0};
  buf_put(&b, "@m1\nACGT\n+\nII\nI\n", 16); /* a '\n' four bytes on, but the quality line ends after two */
  p = write_file("fast_qual_R1.fq", b.p, b.n);
  expect_error(p, g_ok2, BG_ERR_MALFORMED_FASTQ, "at line 4: sequence has 4 bases but quality has 2", p, NULL);
  buf_t c = {0};
  buf_put(&c, "@m1\nACGT\n+\nIII\r\n", 16); /* CR counted out of the quality, as everywhere */
  p = write_file("fast_cr_R1.fq", c.p, c.n);
  expect_error(p, g_ok2, BG_ERR_MALFORMED_FASTQ, "at line 4: sequence has 4 bases but quality has 3", p, NULL);
  buf_t d = {0};
  buf_put(&d, "@m1\nACGT\n+\n\nIII\n", 16); /* an empty quality line */
  p = write_file("fast_empty_R1.fq", d.p, d.n);
  expect_error(p, g_ok2, BG_ERR_MALFORMED_FASTQ, "at line 4: sequence has 4 bases but quality has 0", p, NULL);
  buf_free(&a), buf_free(&b), buf_free(&c), buf_free(&d);
}

static void test_binary_garbage_is_malformed(void) {
  uint8_t junk[70000];
  g_rng = 99;
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)rnd();
  junk[0] = 0x7f; /* never the gzip magic */
  const char *p = write_file("junk_R2.fq", junk, sizeof junk);
  expect_error(g_ok1, p, BG_ERR_MALFORMED_FASTQ, "Malformed FASTQ in R2 at line 1", p, NULL);
  /* Garbage that starts like a record. */
  junk[0] = '@';
  junk[1] = 'x';
  junk[2] = '\n';
  p = write_file("junk2_R2.fq", junk, sizeof junk);
  expect_error(g_ok1, p, BG_ERR_MALFORMED_FASTQ, "Malformed FASTQ in R2", p, NULL);
}

static void test_record_count_mismatch_is_pair_mismatch(void) {
  buf_t r1 = {0}, r2 = {0};
  gen_pair(&r1, &r2, NULL, NULL, 1000, 11);
  const char *p1 = write_file("cnt_R1.fq", r1.p, r1.n);
  /* R2 with its last record removed. */
  const char *end = r2.p + r2.n - 1;
  int lines = 0;
  while (end > r2.p && lines < 4) lines += *--end == '\n';
  const char *p2 = write_file("cnt_R2.fq", r2.p, (size_t)(end - r2.p) + 1);
  expect_error(p1, p2, BG_ERR_PAIR_MISMATCH, "R2 ended after 999 records but R1 has more", NULL);
  expect_error(p2, p1, BG_ERR_PAIR_MISMATCH, "R1 ended after 999 records but R2 has more", NULL);
  buf_free(&r1), buf_free(&r2);
}

static void test_read_name_mismatch_is_pair_mismatch(void) {
  buf_t a = {0}, b = {0};
  for (int i = 1; i <= 20; i++) {
    char h[32];
    snprintf(h, sizeof h, "@read%d/1", i);
    rec(&a, h, "ACGT", "+", NULL);
    snprintf(h, sizeof h, "@read%d/2", i == 17 ? 99 : i);
    rec(&b, h, "ACGT", "+", NULL);
  }
  expect_error(write_file("nm_R1.fq", a.p, a.n), write_file("nm_R2.fq", b.p, b.n), BG_ERR_PAIR_MISMATCH,
               "Read names differ at record 17: R1 'read17' vs R2 'read99'", NULL);
  buf_free(&a), buf_free(&b);
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BG_TEST_HAS_SANITIZER 1
#endif
#endif
#ifndef BG_TEST_HAS_SANITIZER
#define BG_TEST_HAS_SANITIZER 0
#endif
/* bg_prefault (ring blocks, batches, the workers' arrays) maps a range's pages in one call: writing them
 * afterwards takes no page faults, and what the range held is kept. */
static void test_prefault_maps_pages_at_once_and_keeps_contents(void) {
  size_t n = (size_t)4 << 20, pages = n / 4096;
  uint8_t *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED, "mmap");
  if (p == MAP_FAILED) return;
  memset(p + 100, 0x5A, 10000);          /* touched before: kept */
  CHECK(bg_prefault(p, 0, 1000) == -1, "a range smaller than BG_PREFAULT_MIN is left alone");
  struct rusage before, after;
  getrusage(RUSAGE_THREAD, &before);
  int r = bg_prefault(p, 50, n - 10);    /* unaligned ends: the whole pages inside */
  getrusage(RUSAGE_THREAD, &after);
  long mapped = after.ru_minflt - before.ru_minflt;
  size_t kept = 0;
  for (size_t i = 100; i < 10100; i++) kept += p[i] == 0x5A;
  CHECK(kept == 10000 && p[99] == 0 && p[10100] == 0, "contents changed: %zu of 10000 kept", kept);
  getrusage(RUSAGE_THREAD, &before);
  for (size_t i = 4096; i < n - 4096; i += 4096) p[i] = 1;
  getrusage(RUSAGE_THREAD, &after);
  long faults = after.ru_minflt - before.ru_minflt;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || BG_TEST_HAS_SANITIZER
  (void)faults; (void)mapped; (void)pages; (void)r; /* the sanitizers' shadow memory faults as it is first written */
#else
  if (r == 0) CHECK(faults < (long)pages / 8, "%ld faults writing %zu prefaulted pages (the prefault mapped %ld)", faults, pages, mapped);
  else printf("     (MADV_POPULATE_WRITE unsupported here: %s)\n", strerror(errno));
#endif
  munmap(p, n);
}

/* Long names are compared whole: a difference in any byte (in an 8-byte word or the tail) or a name that is
 * the other's prefix is a mismatch; equal names of every length pair. */
static void test_read_names_compared_in_every_byte(void) {
  const char *base = "M00123:45:000000000-ABCDE:1:1101:15589:1331"; /* 42 characters */
  size_t n = strlen(base);
  for (size_t at = 0; at <= n; at++) { /* at == n: R2's name one character longer */
    char n1[64], n2[64], h[80], want[200];
    snprintf(n1, sizeof n1, "%s", base);
    snprintf(n2, sizeof n2, "%s", base);
    if (at < n) n2[at] = n2[at] == 'Z' ? 'Y' : 'Z';
    else snprintf(n2, sizeof n2, "%sX", base);
    buf_t a = {0}, b = {0};
    rec(&a, "@same 1:N:0:ACGT", "ACGT", "+", NULL);
    rec(&b, "@same 2:N:0:ACGT", "ACGT", "+", NULL);
    snprintf(h, sizeof h, "@%s 1:N:0:ACGT", n1);
    rec(&a, h, "ACGT", "+", NULL);
    snprintf(h, sizeof h, "@%s 2:N:0:ACGT", n2);
    rec(&b, h, "ACGT", "+", NULL);
    snprintf(want, sizeof want, "Read names differ at record 2: R1 '%s' vs R2 '%s'", n1, n2);
    expect_error(write_file("nb_R1.fq", a.p, a.n), write_file("nb_R2.fq", b.p, b.n), BG_ERR_PAIR_MISMATCH, want, NULL);
    buf_free(&a), buf_free(&b);
  }
  for (size_t len = 1; len <= 20; len++) { /* equal names, shorter and longer than a word, pair */
    char nm[32], h[48];
    memset(nm, 'q', len);
    nm[len] = 0;
    buf_t a = {0}, b = {0};
    snprintf(h, sizeof h, "@%s/1", nm);
    rec(&a, h, "ACGT", "+", NULL);
    snprintf(h, sizeof h, "@%s/2", nm);
    rec(&b, h, "ACGT", "+", NULL);
    bg_pair_reader_t *r = NULL;
    char err[512] = "";
    bg_batch_t bt;
    bg_batch_init(&bt);
    const char *p1 = write_file("ne_R1.fq", a.p, a.n), *p2 = write_file("ne_R2.fq", b.p, b.n);
    bg_status_t st = bg_pair_reader_open(&r, p1, p2, g_inflate_threads, err, sizeof err);
    if (st == BG_OK) st = bg_pair_reader_next(r, &bt, 16, 0, err, sizeof err);
    CHECK(st == BG_OK && bt.n_pairs == 1, "names of %zu characters: status %d, %u pairs (%s)", len, (int)st, bt.n_pairs, err);
    bg_pair_reader_close(r);
    bg_batch_free(&bt);
    buf_free(&a), buf_free(&b);
  }
}

/* Both files marking their reads as the same mate (/1 and /1, CASAVA ' 1:N:…' in both, or one of each) is one
 * file given twice: a pair mismatch naming the record, not a silent self-pairing. Swapped or unmarked mates pair. */
static void test_same_mate_in_both_files_is_pair_mismatch(void) {
  static const char *const same[][2] = {
      {"@s/1", "@s/1"}, {"@s 1:N:0:ACGT", "@s 1:N:0:ACGT"}, {"@s/2", "@s 2:Y:0:1"}, {"@s 1:N:0:1", "@s/1"}};
  static const char *const fine[][2] = {{"@s/2", "@s/1"}, {"@s 2:N:0:AC", "@s 1:N:0:AC"}, {"@s", "@s/1"},
                                        {"@s 1:N:0:A", "@s extra"}, {"@s 1:X:0", "@s 1:X:0"}, {"@s 1:N", "@s 1:N"}};
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    buf_t a = {0}, b = {0};
    rec(&a, "@first/1", "ACGT", "+", NULL);
    rec(&b, "@first/2", "ACGT", "+", NULL);
    rec(&a, same[i][0], "ACGT", "+", NULL);
    rec(&b, same[i][1], "ACGT", "+", NULL);
    const char *p1 = write_file("mate_R1.fq", a.p, a.n);
    char *k1 = strdup(p1);
    expect_error(k1, write_file("mate_R2.fq", b.p, b.n), BG_ERR_PAIR_MISMATCH, "same mate", "at record 2", "read 's'",
                 k1, NULL);
    free(k1);
    buf_free(&a), buf_free(&b);
  }
  for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
    buf_t a = {0}, b = {0};
    rec(&a, fine[i][0], "ACGT", "+", NULL);
    rec(&b, fine[i][1], "ACGT", "+", NULL);
    result_t res = read_all(write_file("matef_R1.fq", a.p, a.n), write_file("matef_R2.fq", b.p, b.n), 100, 0);
    CHECK(res.st == BG_OK && res.pairs == 1, "'%s' / '%s': %d %s", fine[i][0], fine[i][1], res.st, res.err);
    result_free(&res);
    buf_free(&a), buf_free(&b);
  }
}

/* A FIFO whose writer stalls: once the cancel flag is set, the waiting bg_pair_reader_next returns
 * BG_ERR_CANCELLED within the poll interval, and close does not wait for the writer either. */
typedef struct {
  const char *p1, *p2;
  const buf_t *d1, *d2;
  atomic_int release;
} fifo_writer_t;

static void *fifo_writer(void *arg) {
  fifo_writer_t *w = arg;
  int f1 = open(w->p1, O_WRONLY), f2 = open(w->p2, O_WRONLY);
  if (f1 >= 0 && write(f1, w->d1->p, w->d1->n) != (ssize_t)w->d1->n) perror("fifo write");
  if (f2 >= 0 && write(f2, w->d2->p, w->d2->n) != (ssize_t)w->d2->n) perror("fifo write");
  for (int i = 0; i < 1000 && !atomic_load(&w->release); i++) usleep(10000); /* stall: at most 10 s */
  if (f1 >= 0) close(f1);
  if (f2 >= 0) close(f2);
  return NULL;
}

static void *cancel_later(void *flag) {
  usleep(200000);
  atomic_store((atomic_int *)flag, 1);
  return NULL;
}

static void test_cancel_reaches_a_reader_waiting_on_a_stalled_fifo(void) {
  char p1[512], p2[512];
  snprintf(p1, sizeof p1, "%s", path_of("stall_R1.fifo"));
  snprintf(p2, sizeof p2, "%s", path_of("stall_R2.fifo"));
  CHECK(mkfifo(p1, 0600) == 0 && mkfifo(p2, 0600) == 0, "mkfifo: %s", strerror(errno));
  buf_t a = {0}, b = {0};
  for (int i = 0; i < 50; i++) {
    char h[32];
    snprintf(h, sizeof h, "@f%d/1", i);
    rec(&a, h, "ACGTACGTAC", "+", NULL);
    snprintf(h, sizeof h, "@f%d/2", i);
    rec(&b, h, "TTGCA", "+", NULL);
  }
  fifo_writer_t w = {p1, p2, &a, &b, 0};
  pthread_t t;
  pthread_create(&t, NULL, fifo_writer, &w);
  bg_pair_reader_t *r = NULL;
  char err[512];
  atomic_int cancel = 0;
  CHECK(bg_pair_reader_open(&r, p1, p2, g_inflate_threads, err, sizeof err) == BG_OK, "%s", err);
  if (r != NULL) {
    bg_pair_reader_set_cancel(r, &cancel);
    bg_batch_t bt;
    bg_batch_init(&bt);
    /* the writer's 50 pairs are read, but the block they fill is published only when full or at the end of the
     * file: the call waits for the rest, which never comes */
    double t0 = now_s();
    pthread_t c; /* the host cancels from another thread, 0.2 s into the wait */
    pthread_create(&c, NULL, cancel_later, &cancel);
    bg_status_t st = bg_pair_reader_next(r, &bt, 50, 0, err, sizeof err);
    double waited = now_s() - t0;
    pthread_join(c, NULL);
    CHECK(st == BG_ERR_CANCELLED && strstr(err, "cancelled") && strstr(err, "R1"), "%d after %.2f s: %s", st, waited, err);
    CHECK(waited >= 0.15 && waited < 1.0, "cancel returned after %.2f s (set at 0.2 s)", waited);
    CHECK(bg_pair_reader_bytes_done(r) == a.n + b.n, "bytes %llu of %zu", (unsigned long long)bg_pair_reader_bytes_done(r),
          a.n + b.n);
    CHECK(bg_pair_reader_bytes_total(r) == 0, "a FIFO has no size");
    t0 = now_s();
    bg_pair_reader_close(r);
    CHECK(now_s() - t0 < 1.0, "close took %.2f s with the writer stalled", now_s() - t0);
    bg_batch_free(&bt);
  }
  atomic_store(&w.release, 1);
  pthread_join(t, NULL);
  unlink(p1), unlink(p2);
  buf_free(&a), buf_free(&b);
}

static void test_empty_files_are_empty_input(void) {
  const char *e = write_file("empty_R1.fastq", "", 0);
  expect_error(e, g_ok2, BG_ERR_EMPTY_INPUT, "R1", e, NULL);
  buf_t z = {0};
  gz_member(&z, "", 0, HDR_PLAIN);
  const char *ez = write_file("empty_R2.fastq.gz", z.p, z.n);
  expect_error(g_ok1, ez, BG_ERR_EMPTY_INPUT, "Cannot read R2", ez, NULL);
  buf_t bz = {0};
  buf_put(&bz, BGZF_EOF, sizeof BGZF_EOF);
  const char *eb = write_file("eof_only_R2.bgz", bz.p, bz.n);
  expect_error(g_ok1, eb, BG_ERR_EMPTY_INPUT, "R2", NULL);
  const char *blank = write_file("blank_R1.fq", "\n\n\r\n", 4);
  expect_error(blank, g_ok2, BG_ERR_EMPTY_INPUT, "R1", NULL);
  buf_free(&z), buf_free(&bz);
}

/* Reads p1/p2 with one inflater thread per file and with helpers; everything must be the same. */
static void expect_same_with_helpers(const char *what, const char *p1, const char *p2, bg_status_t want) {
  int saved = g_inflate_threads;
  g_inflate_threads = 0;
  result_t one = read_all(p1, p2, 700, 0);
  g_inflate_threads = 3;
  result_t many = read_all(p1, p2, 700, 0);
  g_inflate_threads = saved;
  if (getenv("BG_TEST_VERBOSE")) printf("     %s -> %d %llu '%s'\n", what, one.st, (unsigned long long)one.pairs, one.err);
  CHECK(one.st == want, "%s: status %d, expected %d (%s)", what, one.st, want, one.err);
  CHECK(one.st == many.st && strcmp(one.err, many.err) == 0, "%s: '%s' vs '%s'", what, one.err, many.err);
  CHECK(one.pairs == many.pairs && one.seq1.n == many.seq1.n && one.seq2.n == many.seq2.n &&
            (one.seq1.n == 0 || memcmp(one.seq1.p, many.seq1.p, one.seq1.n) == 0) &&
            (one.seq2.n == 0 || memcmp(one.seq2.p, many.seq2.p, one.seq2.n) == 0),
        "%s: %llu vs %llu pairs, or other bases", what, (unsigned long long)one.pairs, (unsigned long long)many.pairs);
  result_free(&one);
  result_free(&many);
}

/* Offset of the k-th member of a bgzip buffer (members framed by gz_member HDR_BGZF). */
static size_t bgzf_member_at(const buf_t *z, size_t k) {
  size_t at = 0;
  for (size_t i = 0; i < k; i++) at += (size_t)(uint8_t)z->p[at + 16] + ((size_t)(uint8_t)z->p[at + 17] << 8) + 1;
  return at;
}

/* bgzip members go to helper threads only while they are whole, BGZF-framed and inflate to their stated size;
 * every other case is handed back to the one-thread path at that member, so the outcome never changes. */
static void test_bgzip_helpers_give_the_one_thread_outcome_on_every_fault(void) {
  buf_t r1 = {0}, r2 = {0}, z = {0};
  gen_pair(&r1, &r2, NULL, NULL, 6000, 21);
  gz_bgzf(&z, &r1, 3001); /* ~900 members, ~2.7 MB: several jobs of 1 MiB */
  char *p2 = strdup(write_file("h_R2.fq", r2.p, r2.n));
  const size_t mid = bgzf_member_at(&z, 500), last = bgzf_member_at(&z, (r1.n + 3000) / 3001 - 1);
  buf_t t = {0};
#define VARIANT(name, want, edit)                           \
  do {                                                      \
    t.n = 0;                                                \
    buf_put(&t, z.p, z.n);                                  \
    edit;                                                   \
    expect_same_with_helpers(name, write_file("h_R1.bgz", t.p, t.n), p2, want); \
  } while (0)
  VARIANT("intact", BG_OK, (void)0);
  VARIANT("deflate data of member 500", BG_ERR_CORRUPT_GZIP, t.p[mid + 40] ^= 0x5a);
  VARIANT("CRC of member 500", BG_ERR_CORRUPT_GZIP, t.p[bgzf_member_at(&z, 501) - 6] ^= 1);
  VARIANT("ISIZE of member 500 (stated 1 byte more)", BG_ERR_CORRUPT_GZIP, t.p[bgzf_member_at(&z, 501) - 4] += 1);
  VARIANT("ISIZE of member 500 over 64 KiB", BG_ERR_CORRUPT_GZIP, t.p[bgzf_member_at(&z, 501) - 2] = 1);
  /* gzip readers do not check BSIZE: a wrong one is read on (by the one-thread path from that member on) */
  VARIANT("BSIZE of member 500 one short", BG_OK, t.p[mid + 16] -= 1);
  VARIANT("BSIZE of member 500 one long", BG_OK, t.p[mid + 16] += 1);
  VARIANT("member 500 without the BC field", BG_OK, t.p[mid + 12] = 'X'); /* an unknown extra field: valid gzip */
  VARIANT("member 500 framed without FEXTRA", BG_ERR_CORRUPT_GZIP, t.p[mid + 3] = 0);
  VARIANT("truncated inside member 500", BG_ERR_CORRUPT_GZIP, t.n = mid + 100);
  VARIANT("truncated inside the last data member", BG_ERR_CORRUPT_GZIP, t.n = last + 20);
  VARIANT("cut after a member", BG_ERR_MALFORMED_FASTQ, t.n = mid); /* the last record is cut */
  VARIANT("zero padding after the end", BG_OK, buf_put(&t, "\0\0\0\0\0\0\0\0\0\0", 10));
  VARIANT("garbage after the end", BG_ERR_CORRUPT_GZIP, buf_put(&t, "garbage!", 8));
  VARIANT("zeros then garbage", BG_ERR_CORRUPT_GZIP, buf_put(&t, "\0\0\0x", 4));
  /* plain gzip members in the middle of bgzip ones: read on (the one-thread path from there) */
  buf_t mixed = {0};
  buf_put(&mixed, z.p, mid);
  gz_member(&mixed, "", 0, HDR_PLAIN);
  gz_member(&mixed, "", 0, HDR_FNAME);
  buf_put(&mixed, z.p + mid, z.n - mid);
  expect_same_with_helpers("plain members between bgzip ones", write_file("h_mixed_R1.gz", mixed.p, mixed.n), p2, BG_OK);
  result_t res = read_all(path_of("h_mixed_R1.gz"), p2, 1000, 0);
  CHECK(res.st == BG_OK && res.pairs == 6000, "mixed framing: %d %llu pairs (%s)", res.st, (unsigned long long)res.pairs,
        res.err);
  result_free(&res);
#undef VARIANT
  buf_free(&r1), buf_free(&r2), buf_free(&z), buf_free(&t), buf_free(&mixed);
  free(p2);
}

/* ------------------------------------------------------------------------- */
/* Tests: threads                                                             */
/* ------------------------------------------------------------------------- */

static void test_close_mid_stream_returns_quickly(void) {
  const char *p1 = path_of("gen_R1.fastq.gz"), *p2 = path_of("gen_R2.bgz"); /* from the identity test */
  for (int reads = 0; reads < 3; reads++) {
    bg_pair_reader_t *r = NULL;
    char err[256];
    bg_status_t st = bg_pair_reader_open(&r, p1, p2, g_inflate_threads, err, sizeof err);
    CHECK(st == BG_OK, "%s", err);
    if (st != BG_OK) return;
    bg_batch_t b;
    bg_batch_init(&b);
    for (int i = 0; i < reads; i++) CHECK(bg_pair_reader_next(r, &b, 100, 0, err, sizeof err) == BG_OK, "%s", err);
    if (reads == 2) usleep(20000); /* let the ring fill so both inflaters wait on a full ring */
    double t0 = now_s();
    bg_pair_reader_close(r);
    double dt = now_s() - t0;
    CHECK(dt < 0.5, "close after %d batches took %.3f s", reads, dt);
    bg_batch_free(&b);
  }
}

static void test_progress_reaches_total_and_never_decreases(void) {
  bg_pair_reader_t *r = NULL;
  char err[256];
  const char *p1 = path_of("gen_R1.bgz"), *p2 = path_of("gen_R2.fastq.gz");
  CHECK(bg_pair_reader_open(&r, p1, p2, g_inflate_threads, err, sizeof err) == BG_OK, "%s", err);
  if (r == NULL) return;
  bg_batch_t b;
  bg_batch_init(&b);
  uint64_t last = 0, total = bg_pair_reader_bytes_total(r);
  struct stat s1, s2;
  stat(p1, &s1);
  stat(p2, &s2);
  CHECK(total == (uint64_t)(s1.st_size + s2.st_size), "bytes_total %llu", (unsigned long long)total);
  int monotonic = 1;
  while (bg_pair_reader_next(r, &b, 1000, 0, err, sizeof err) == BG_OK && b.n_pairs > 0) {
    uint64_t d = bg_pair_reader_bytes_done(r);
    if (d < last || d > total) monotonic = 0;
    last = d;
  }
  CHECK(monotonic, "bytes_done went backwards or past the total");
  CHECK(bg_pair_reader_bytes_done(r) == total, "bytes_done %llu of %llu at EOF",
        (unsigned long long)bg_pair_reader_bytes_done(r), (unsigned long long)total);
  bg_batch_free(&b);
  bg_pair_reader_close(r);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

/* test_reader --bench R1 R2 [HELPERS [REPEATS]]: reads a pair to the end and prints wall and CPU seconds (the
 * reader's own floor: inflate and parse, no analysis). */
static int bench(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: test_reader --bench R1 R2 [HELPERS [REPEATS]]\n");
    return 2;
  }
  int helpers = argc > 4 ? atoi(argv[4]) : 0, reps = argc > 5 ? atoi(argv[5]) : 1;
  for (int k = 0; k < reps; k++) {
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    double t0 = now_s();
    g_inflate_threads = helpers;
    result_t res;
    memset(&res, 0, sizeof res);
    bg_pair_reader_t *r = NULL;
    res.st = bg_pair_reader_open(&r, argv[2], argv[3], helpers, res.err, sizeof res.err);
    bg_batch_t b;
    bg_batch_init(&b);
    while (res.st == BG_OK) {
      res.st = bg_pair_reader_next(r, &b, 4096, 4096 * 400, res.err, sizeof res.err);
      if (res.st != BG_OK || b.n_pairs == 0) break;
      res.pairs += b.n_pairs;
      res.bases += b.bases;
    }
    bg_batch_free(&b);
    bg_pair_reader_close(r);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    if (res.st != BG_OK) {
      fprintf(stderr, "%s\n", res.err);
      return 1;
    }
    printf("{\"pairs\": %llu, \"bases\": %llu, \"helpers\": %d, \"seconds\": %.4f, \"cpu_seconds\": %.4f}\n",
           (unsigned long long)res.pairs, (unsigned long long)res.bases, helpers, now_s() - t0,
           (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--bench") == 0) return bench(argc, argv);
  setvbuf(stdout, NULL, _IOLBF, 0);
  snprintf(g_dir, sizeof g_dir, "%s/bg_reader_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (mkdtemp(g_dir) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  buf_t a = {0}, b = {0};
  rec(&a, "@ok/1", "ACGT", "+", NULL);
  rec(&b, "@ok/2", "ACGT", "+", NULL);
  g_ok1 = strdup(write_file("ok_R1.fq", a.p, a.n));
  g_ok2 = strdup(write_file("ok_R2.fq", b.p, b.n));
  buf_free(&a), buf_free(&b);

  double t0 = now_s();
#define RUN(fn) run_test(#fn, fn)
  RUN(test_plain_small_pair_reads_sequences_and_offsets);
  RUN(test_plain_gzip_and_bgzip_give_identical_reads);
  RUN(test_batches_respect_max_pairs_and_max_bases);
  RUN(test_casava_and_slash_names_pair);
  RUN(test_sra_names_of_other_spots_are_pair_mismatch);
  RUN(test_name_keys_of_every_length);
  RUN(test_plus_lines_case_iupac_and_crlf_are_accepted);
  RUN(test_last_record_without_newline_and_fname_header);
  RUN(test_every_column_is_normalised_and_checked);
  RUN(test_zero_length_reads_are_kept);
  RUN(test_empty_last_read_without_newline_is_a_record);
  RUN(test_long_reads_up_to_5_mib_are_read_whole);
  RUN(test_zero_padding_after_last_member_is_ignored);
  RUN(test_missing_file_is_file_not_found_naming_the_mate);
  RUN(test_directory_and_bad_arguments_are_rejected);
  RUN(test_unreadable_file_is_permission_denied);
  RUN(test_truncated_gzip_is_corrupt_gzip);
  RUN(test_corrupt_gzip_crc_data_or_trailing_garbage_is_corrupt_gzip);
  RUN(test_damage_mid_file_is_corrupt_gzip_not_malformed_fastq);
  RUN(test_sequence_quality_length_mismatch_is_malformed_with_line);
  RUN(test_structural_errors_are_malformed);
  RUN(test_lines_taken_by_length_are_still_checked);
  RUN(test_binary_garbage_is_malformed);
  RUN(test_record_count_mismatch_is_pair_mismatch);
  RUN(test_read_name_mismatch_is_pair_mismatch);
  RUN(test_read_names_compared_in_every_byte);
  RUN(test_prefault_maps_pages_at_once_and_keeps_contents);
  RUN(test_same_mate_in_both_files_is_pair_mismatch);
  RUN(test_cancel_reaches_a_reader_waiting_on_a_stalled_fifo);
  RUN(test_empty_files_are_empty_input);
  RUN(test_close_mid_stream_returns_quickly);
  RUN(test_progress_reaches_total_and_never_decreases);
  RUN(test_bgzip_helpers_give_the_one_thread_outcome_on_every_fault);
  /* the gzip cases again with bgzip members inflated on helper threads */
  g_inflate_threads = 3;
  RUN(test_plain_gzip_and_bgzip_give_identical_reads);
  RUN(test_truncated_gzip_is_corrupt_gzip);
  RUN(test_corrupt_gzip_crc_data_or_trailing_garbage_is_corrupt_gzip);
  RUN(test_zero_padding_after_last_member_is_ignored);
  RUN(test_empty_files_are_empty_input);
  RUN(test_close_mid_stream_returns_quickly);
  RUN(test_progress_reaches_total_and_never_decreases);
  g_inflate_threads = 0;

  if (nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
  free((void *)g_ok1);
  free((void *)g_ok2);
  printf("reader: %d passed, %d failed (%.2f s)\n", g_passed, g_failed, now_s() - t0);
  return g_failed ? 1 : 0;
}
