/* util.c — errors, file slurping (plain or gzip via ISA-L), JSON buffer, clocks. */
#include <errno.h>
#include <fcntl.h>
#include <isa-l/igzip_lib.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#include "internal.h"

bg_status_t bg_fail(char *err, size_t err_len, bg_status_t st, const char *fmt, ...) {
  if (err && err_len) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
  }
  return st;
}

bg_status_t bg_status_from_errno(int e) {
  switch (e) {
    case ENOENT: case ENOTDIR: return BG_ERR_FILE_NOT_FOUND;
    case EACCES: case EPERM: return BG_ERR_PERMISSION_DENIED;
    case ENOMEM: return BG_ERR_HOST_OOM;
    default: return BG_ERR_IO;
  }
}

int bg_prefault(void *p, size_t from, size_t to) {
#ifdef MADV_POPULATE_WRITE
  const uintptr_t page = 4096;
  uintptr_t lo = ((uintptr_t)p + from + page - 1) & ~(page - 1), hi = ((uintptr_t)p + to) & ~(page - 1);
  if (hi > lo && hi - lo >= BG_PREFAULT_MIN) return madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) == 0 ? 0 : -1;
#else
  (void)p; (void)from; (void)to;
#endif
  return -1;
}

int bg_grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 256;
  while (c < need) c *= 2;
  void *n = realloc(*p, c * elem);
  if (!n) return -1;
  bg_prefault(n, *cap * elem, c * elem);
  *p = n; *cap = c;
  return 0;
}

double bg_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int bg_ncpu(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (int)n;
}

void bg_thread_name(const char *name) {
#ifdef __linux__
  char n[16];
  snprintf(n, sizeof n, "%s", name);
  prctl(PR_SET_NAME, n, 0, 0, 0);
#else
  (void)name;
#endif
}

void bg_thread_lower_priority(int by) {
#ifdef __linux__
  if (by <= 0) return;
  id_t tid = (id_t)syscall(SYS_gettid); /* on Linux the nice value is the thread's, not the process's */
  errno = 0;
  int cur = getpriority(PRIO_PROCESS, tid);
  if (cur == -1 && errno) return;
  (void)setpriority(PRIO_PROCESS, tid, cur + by > 19 ? 19 : cur + by);
#else
  (void)by;
#endif
}

static bg_status_t read_all(const char *path, uint8_t **out, size_t *len, char *err, size_t err_len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return bg_fail(err, err_len, bg_status_from_errno(e), "Cannot read %s: %s", path, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return bg_fail(err, err_len, BG_ERR_IO, "Cannot read %s: not a regular file", path);
  }
  size_t n = (size_t)st.st_size, got = 0;
  uint8_t *p = malloc(n + 1);
  if (!p) { close(fd); return bg_fail(err, err_len, BG_ERR_HOST_OOM, "Out of memory reading %s", path); }
  while (got < n) {
    ssize_t r = read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int e = errno;
      free(p); close(fd);
      return bg_fail(err, err_len, BG_ERR_IO, "Cannot read %s: %s", path, r == 0 ? "short read" : strerror(e));
    }
    got += (size_t)r;
  }
  close(fd);
  p[n] = 0;
  *out = p; *len = n;
  return BG_OK;
}

bg_status_t bg_slurp(const char *path, char **out, size_t *len, char *err, size_t err_len) {
  uint8_t *raw = NULL; size_t n = 0;
  bg_status_t st = read_all(path, &raw, &n, err, err_len);
  if (st != BG_OK) return st;
  if (n < 2 || raw[0] != 0x1f || raw[1] != 0x8b) { *out = (char *)raw; *len = n; return BG_OK; }
  size_t cap = n * 4 + 65536, used = 0;
  uint8_t *o = malloc(cap + 1);
  struct inflate_state *s = malloc(sizeof *s);
  if (!o || !s) { free(o); free(s); free(raw); return bg_fail(err, err_len, BG_ERR_HOST_OOM, "Out of memory inflating %s", path); }
  isal_inflate_init(s);
  s->crc_flag = ISAL_GZIP;
  s->next_in = raw; s->avail_in = (uint32_t)n;
  for (;;) {
    if (cap - used < 65536) {
      cap *= 2;
      uint8_t *no = realloc(o, cap + 1);
      if (!no) { free(o); free(s); free(raw); return bg_fail(err, err_len, BG_ERR_HOST_OOM, "Out of memory inflating %s", path); }
      o = no;
    }
    s->next_out = o + used; s->avail_out = (uint32_t)(cap - used);
    int r = isal_inflate(s);
    used = (size_t)(s->next_out - o);
    if (r != ISAL_DECOMP_OK) {
      free(o); free(s); free(raw);
      return bg_fail(err, err_len, BG_ERR_CORRUPT_GZIP, "Cannot read %s: corrupt gzip data (ISA-L code %d)", path, r);
    }
    if (s->block_state == ISAL_BLOCK_FINISH) {
      if (s->avail_in == 0) break;
      /* another member follows (bgzip); skip zero padding */
      uint8_t *ni = s->next_in; uint32_t na = s->avail_in;
      while (na && *ni == 0) { ni++; na--; }
      if (!na) break;
      isal_inflate_reset(s);
      s->crc_flag = ISAL_GZIP;
      s->next_in = ni; s->avail_in = na;
      continue;
    }
    if (s->avail_in == 0 && s->avail_out != 0) {
      free(o); free(s); free(raw);
      return bg_fail(err, err_len, BG_ERR_CORRUPT_GZIP, "Cannot read %s: gzip stream is truncated", path);
    }
  }
  o[used] = 0;
  free(s); free(raw);
  *out = (char *)o; *len = used;
  return BG_OK;
}

void bg_buf_put(bg_buf_t *b, const void *p, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n + 1) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) { b->oom = 1; return; }
    b->p = np; b->cap = cap;
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
  b->p[b->n] = 0;
}

void bg_buf_puts(bg_buf_t *b, const char *s) { bg_buf_put(b, s, strlen(s)); }

void bg_buf_printf(bg_buf_t *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) { bg_buf_put(b, tmp, (size_t)n); return; }
  char *big = malloc((size_t)n + 1);
  if (!big) { b->oom = 1; return; }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  bg_buf_put(b, big, (size_t)n);
  free(big);
}

void bg_buf_json_str(bg_buf_t *b, const char *s) {
  bg_buf_put(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') { char e[2] = {'\\', (char)*p}; bg_buf_put(b, e, 2); }
    else if (*p < 0x20) bg_buf_printf(b, "\\u%04x", *p);
    else bg_buf_put(b, p, 1);
  }
  bg_buf_put(b, "\"", 1);
}

void bg_buf_json_num(bg_buf_t *b, double v) {
  if (!isfinite(v)) v = 0;
  if (v == floor(v) && fabs(v) < 9e15) bg_buf_printf(b, "%.0f", v);
  else bg_buf_printf(b, "%.17g", v);
}

void bg_buf_free(bg_buf_t *b) { free(b->p); b->p = NULL; b->n = b->cap = 0; }
