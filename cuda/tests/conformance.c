/* conformance.c — the same simulated sample through every backend built and usable here (CPU with
 * one thread, CPU with all threads, CUDA on each device), asserting byte-identical results (all
 * sections but engine and timing: same calls, counts and floating figures). The sample is read as
 * plain FASTQ and as bgzip FASTQ, the latter with one inflater thread per file and with helpers.
 * Also the GPU check's benchmark: `conformance --bench PAIRS` times each backend on a larger sample, and
 * the reader alone on its bgzip form with 0, 2, 4 and 8 helper threads per file;
 * `--background F` sets the fraction of pairs from random background (default 0.9; lab samples: ~0.99).
 * Usage: conformance [--resfinder DIR] [--pointfinder DIR] [--pairs N] [--bench N] [--background F]
 * Also `auto` on a stand-in device that fails to start or fails mid-run: the CPU twin takes over with the
 * same results and the result says why; `cuda` on it fails with the device's status.
 * Skips (exit 0, says so) when the ResFinder folder is absent. No Deno, no network needed. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "biogpu.h"
#include "gz_writer.h"
#include "internal.h"
#include "reader.h"

#ifdef __linux__
#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>

/* The calling thread's nice value. */
static int own_nice(void) { return getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid)); }

/* A thread's name and nice value from /proc/self/task/TID (nice is field 19 of stat); 0, or -1 gone. */
static int task_nice(const char *tid, char *name, size_t name_len, int *nice) {
  char path[128], buf[1024];
  snprintf(path, sizeof path, "/proc/self/task/%s/comm", tid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  if (!fgets(name, (int)name_len, f)) name[0] = 0;
  fclose(f);
  name[strcspn(name, "\n")] = 0;
  snprintf(path, sizeof path, "/proc/self/task/%s/stat", tid);
  if (!(f = fopen(path, "r"))) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* the name may hold spaces; the fields after it do not */
  if (!p) return -1;
  for (int field = 2; field < 19 && p; field++) p = strchr(p + 1, ' ');
  if (!p) return -1;
  *nice = atoi(p + 1);
  return 0;
}

typedef struct watch_t { const bg_db_t *db; const char *r1, *r2; _Atomic int done; bg_status_t st; } watch_t;

static void *watch_run(void *arg) {
  watch_t *w = arg;
  bg_run_options_t o;
  bg_run_options_init(&o);
  o.backend = BG_BACKEND_CPU; o.threads = 2; o.batch_pairs = 500;
  bg_run_t *run = bg_run_new(w->db);
  w->st = bg_run_analyze(run, &o, w->r1, w->r2);
  bg_run_free(run);
  atomic_store(&w->done, 1);
  return NULL;
}

/* Runs an analysis on a thread and, while it runs, reads the nice value of every thread named bg-worker-N
 * (into seen, one per distinct worker, up to 8) and returns that of the inflaters (bg-inflate-R1/R2), -99
 * when none was seen or they differ. */
static int watch_worker_nice(const bg_db_t *db, const char *r1, const char *r2, int *seen, int *nseen) {
  watch_t w = {db, r1, r2, 0, BG_OK};
  char names[8][32];
  int inflaters = -99, mixed = 0;
  *nseen = 0;
  pthread_t t;
  if (pthread_create(&t, NULL, watch_run, &w) != 0) return -99;
  while (!atomic_load(&w.done)) {
    DIR *d = opendir("/proc/self/task");
    if (!d) break;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      char name[32];
      int nice;
      if (e->d_name[0] == '.' || task_nice(e->d_name, name, sizeof name, &nice) != 0) continue;
      if (!strncmp(name, "bg-inflate-", 11)) {
        if (inflaters != -99 && inflaters != nice) mixed = 1;
        inflaters = nice;
      } else if (!strncmp(name, "bg-worker-", 10)) {
        int known = 0;
        for (int i = 0; i < *nseen; i++) known |= !strcmp(names[i], name);
        if (!known && *nseen < 8) { snprintf(names[*nseen], sizeof names[0], "%s", name); seen[(*nseen)++] = nice; }
      }
    }
    closedir(d);
    usleep(200);
  }
  pthread_join(t, NULL);
  return w.st == BG_OK && !mixed ? inflaters : -99;
}
#endif

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static double unif(void) { return (double)(next() >> 11) / 9007199254740992.0; }

typedef struct src_t { char *seq; size_t len; double weight; } src_t;

/* Reads the first record of a FASTA file whose header starts with prefix; NULL if none. */
static char *fasta_find(const char *path, const char *prefix, size_t *len) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char line[65536];
  int on = 0;
  size_t cap = 1 << 16, n = 0;
  char *s = NULL;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '>') {
      if (on) break;
      on = strncmp(line + 1, prefix, strlen(prefix)) == 0;
      if (on) s = malloc(cap);
      continue;
    }
    if (!on) continue;
    for (char *p = line; *p; p++) {
      if (*p == '\n' || *p == '\r' || *p == ' ') continue;
      if (n + 1 >= cap) { cap *= 2; s = realloc(s, cap); }
      s[n++] = (char)(*p >= 'a' ? *p - 32 : *p);
    }
  }
  fclose(f);
  if (s) { s[n] = 0; *len = n; }
  return s;
}

static void revcomp(const char *in, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    char c = in[n - 1 - i];
    out[i] = c == 'A' ? 'T' : c == 'C' ? 'G' : c == 'G' ? 'C' : c == 'T' ? 'A' : 'N';
  }
}

static void emit(FILE *f, uint64_t id, int mate, const char *s, size_t n) {
  static char buf[1024], q[1024];
  memcpy(buf, s, n);
  for (size_t i = 0; i < n; i++) {
    if (unif() < 0.004) buf[i] = "ACGT"[next() & 3];  /* sequencing error */
    q[i] = 'I';
  }
  buf[n] = q[n] = 0;
  fprintf(f, "@SIM:1:FC:1:%llu %d:N:0:ACGT\n%s\n+\n%s\n", (unsigned long long)id, mate, buf, q);
}

/* Writes a paired sample: sources by weight, plus random background reads. */
static void simulate(const char *r1, const char *r2, src_t *src, int nsrc, uint64_t pairs, double background) {
  FILE *f1 = fopen(r1, "w"), *f2 = fopen(r2, "w");
  double wsum = 0;
  for (int i = 0; i < nsrc; i++) wsum += src[i].weight;
  char frag[2048], rc[2048], bg[2048];
  for (uint64_t p = 0; p < pairs; p++) {
    size_t L = 150, fl = 300 + (next() % 100);
    const char *s;
    size_t slen;
    double x = unif() * wsum;
    int k = 0;
    while (k < nsrc - 1 && x > src[k].weight) { x -= src[k].weight; k++; }
    if (unif() < background || nsrc == 0) {  /* background: random sequence, never in the database */
      for (size_t i = 0; i < fl; i++) bg[i] = "ACGT"[next() & 3];
      s = bg; slen = fl;
    } else { s = src[k].seq; slen = src[k].len; }
    if (slen < fl) fl = slen;
    if (fl < L) L = fl;
    size_t start = slen > fl ? next() % (slen - fl + 1) : 0;
    memcpy(frag, s + start, fl);
    if (next() & 1) { revcomp(frag, fl, rc); memcpy(frag, rc, fl); }
    revcomp(frag + fl - L, L, rc);
    emit(f1, p, 1, frag, L);
    emit(f2, p, 2, rc, L);
  }
  fclose(f1); fclose(f2);
}

/* Writes src as bgzip does: BGZF members of 0xff00 input bytes, then the empty EOF member. */
static void bgzip_file(const char *src, const char *dst) {
  FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
  static uint8_t data[0xff00], member[0x10000];
  size_t n;
  while ((n = fread(data, 1, sizeof data, in)) > 0) {
    size_t k = gz_write_member(member, sizeof member, data, n, GZ_BGZF, 1);
    if (k == 0) { fprintf(stderr, "bgzip: deflate failed\n"); exit(2); }
    fwrite(member, 1, k, out);
  }
  fwrite(BGZF_EOF, 1, sizeof BGZF_EOF, out);
  fclose(in);
  fclose(out);
}

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

/* The process's peak resident memory so far, MiB (VmHWM; 0 where /proc is missing): the benchmark runs its
 * configurations one after another in one process, as the service runs jobs, so a creeping peak shows. */
static double peak_mib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = 0;
  while (f && fgets(line, sizeof line, f)) if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
  if (f) fclose(f);
  return kb / 1024.0;
}

/* Reads a pair to the end with the reader alone (inflate + parse, no analysis); seconds, or -1 on an error. */
static double read_only(const char *r1, const char *r2, int helpers, uint64_t *pairs) {
  char err[512];
  bg_pair_reader_t *r = NULL;
  double t0 = now();
  if (bg_pair_reader_open(&r, r1, r2, helpers, err, sizeof err) != BG_OK) return -1;
  bg_batch_t b;
  bg_batch_init(&b);
  bg_status_t st;
  *pairs = 0;
  while ((st = bg_pair_reader_next(r, &b, 4096, 0, err, sizeof err)) == BG_OK && b.n_pairs) *pairs += b.n_pairs;
  bg_batch_free(&b);
  bg_pair_reader_close(r);
  return st == BG_OK ? now() - t0 : -1;
}

static const char *strip(const char *json) { const char *p = strstr(json, "\"options\""); return p ? p : json; }

/* A stand-in CUDA device for the `auto` fallback, since CI has none: it screens with the CPU twin, and
 * fails to start (fake_fail_at 0) or fails its fake_fail_at-th batch (counted over all workers). */
static const bg_db_t *fake_db;
static int fake_fail_at = -1, fake_token;
static _Atomic int fake_calls, fake_open;
static int fake_devices(void) { return fake_fail_at == -2 ? 0 : 1; }
static int fake_devices_error(char *buf, size_t n) {
  if (fake_fail_at != -2) return 0;
  snprintf(buf, n, "injected: CUDA driver version is insufficient for CUDA runtime version");
  return 1;
}
static bg_status_t fake_new(bg_cuda_ctx_t **out, const bg_db_t *db, int dev, char *err, size_t n, char *name, size_t nn) {
  *out = NULL;
  if (fake_fail_at == 0) return bg_fail(err, n, BG_ERR_DEVICE_UNAVAILABLE, "injected: no kernel image for this device");
  snprintf(name, nn, "stand-in device");
  atomic_fetch_add(&fake_open, 1);
  *out = (bg_cuda_ctx_t *)&fake_token;
  return BG_OK;
}
static bg_status_t fake_screen(bg_cuda_ctx_t *ctx, const uint8_t *s1, const uint32_t *o1, const uint8_t *s2, const uint32_t *o2, uint32_t n,
                               uint8_t *flags, char *err, size_t en) {
  memset(flags, 0, n); /* what a failed device may leave behind: the CPU must redo the batch */
  if (atomic_fetch_add(&fake_calls, 1) + 1 == fake_fail_at) return bg_fail(err, en, BG_ERR_DEVICE_OOM, "injected: out of device memory");
  bg_screen_batch_cpu(fake_db, s1, o1, s2, o2, n, flags);
  return BG_OK;
}
static void fake_free(bg_cuda_ctx_t *ctx) { atomic_fetch_sub(&fake_open, 1); }
static const bg_cuda_ops_t fake_ops = {fake_devices, fake_new, fake_screen, fake_free, fake_devices_error};

int main(int argc, char **argv) {
  const char *rf = "/usr/share/resfinder/db", *pf = "/usr/share/doc/resfinder/examples/db_pointfinder";
  uint64_t pairs = 60000, bench = 0;
  double background = 0.9;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--resfinder")) rf = argv[i + 1];
    else if (!strcmp(argv[i], "--pointfinder")) pf = argv[i + 1];
    else if (!strcmp(argv[i], "--pairs")) pairs = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--bench")) bench = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--background")) background = strtod(argv[i + 1], NULL);
  }
  if (access(rf, R_OK) != 0) { printf("conformance: 0 passed, 0 failed, 1 skipped (no ResFinder folder at %s)\n", rf); return 0; }
  char dir[] = "/tmp/bg-conformance-XXXXXX";
  if (!mkdtemp(dir)) { perror("mkdtemp"); return 2; }
  /* sources: real ResFinder alleles at several depths, E. coli gyrA with S83L (codon 83 TCG->TTG) */
  const char *genes[][2] = {{"beta-lactam.fsa", "blaTEM-1B_"}, {"beta-lactam.fsa", "blaCTX-M-15_"}, {"tetracycline.fsa", "tet(A)_"},
                            {"sulphonamide.fsa", "sul1_"}, {"aminoglycoside.fsa", "aac(6')-Ib-cr_"}, {"quinolone.fsa", "qnrS1_"}};
  double weights[] = {8, 4, 2, 1, 1, 0.5};
  src_t src[8];
  int nsrc = 0;
  char path[4096];
  for (int i = 0; i < 6; i++) {
    snprintf(path, sizeof path, "%s/%s", rf, genes[i][0]);
    size_t n;
    char *s = fasta_find(path, genes[i][1], &n);
    if (s) src[nsrc++] = (src_t){s, n, weights[i]};
  }
  snprintf(path, sizeof path, "%s/escherichia_coli/gyrA.fsa", pf);
  size_t gl;
  char *gyr = fasta_find(path, "gyrA", &gl);
  if (gyr && gl > 300) {
    gyr[(83 - 1) * 3 + 1] = 'T';  /* TCG -> TTG: S83L */
    src[nsrc++] = (src_t){gyr, gl, 6};
  }
  bg_db_t *db = bg_db_new();
  bg_status_t s = bg_db_build(db, rf, gyr ? pf : NULL, gyr ? "escherichia_coli" : NULL);
  if (s != BG_OK) { fprintf(stderr, "db build: %s\n", bg_db_errmsg(db)); return 1; }
  char r1[4200], r2[4200];
  snprintf(r1, sizeof r1, "%s/s_R1.fastq", dir);
  snprintf(r2, sizeof r2, "%s/s_R2.fastq", dir);
  simulate(r1, r2, src, nsrc, bench ? bench : pairs, background);
  char z1[4200], z2[4200];
  snprintf(z1, sizeof z1, "%s/s_R1.fastq.gz", dir);
  snprintf(z2, sizeof z2, "%s/s_R2.fastq.gz", dir);
  bgzip_file(r1, z1);
  bgzip_file(r2, z2);
  int passed = 0, failed = 0;
  int ndev = bg_cuda_device_count();
  /* inflate: NULL plain FASTQ; else bgzip input with BIOGPU_INFLATE_THREADS set to it ("" = the default) */
  struct { int backend, threads, device; const char *name, *unit_alns, *inflate, *worker_nice; } cfg[24];
  int nc = 0;
  cfg[nc++] = (typeof(cfg[0])){BG_BACKEND_CPU, 1, 0, "cpu/1 thread", NULL, NULL, NULL};
  cfg[nc++] = (typeof(cfg[0])){BG_BACKEND_CPU, 0, 0, "cpu/all threads", NULL, NULL, NULL};
  for (int d = 0; d < ndev && nc < 14; d++) cfg[nc++] = (typeof(cfg[0])){BG_BACKEND_CUDA, 0, d, "cuda", NULL, NULL, NULL};
  /* bgzip input, inflated by each file's thread alone and with helper threads (3 here; in the benchmark
   * the default, a quarter of the threads from 8 threads on) */
  cfg[nc++] = (typeof(cfg[0])){BG_BACKEND_CPU, 0, 0, "cpu/bgzip", NULL, "0", NULL};
  cfg[nc++] = (typeof(cfg[0])){BG_BACKEND_CPU, 0, 0, "cpu/bgzip+helpers", NULL, bench ? "" : "3", NULL};
  if (ndev > 0) {
    cfg[nc++] = (typeof(cfg[0])){BG_BACKEND_CUDA, 0, 0, "cuda/bgzip", NULL, "0", NULL};
    cfg[nc++] = (typeof(cfg[0])){BG_BACKEND_CUDA, 0, 0, "cuda/bgzip+helpers", NULL, bench ? "" : "3", NULL};
  }
  /* the engine keeps a fragment's alignments explicitly, compactly or not at all (mapped again): the same
   * results whichever it uses (BIOGPU_UNIT_ALNS forces one) */
  if (!bench) {
    cfg[nc++] = (typeof(cfg[0])){BG_BACKEND_CPU, 0, 0, "cpu/explicit", "explicit", NULL, NULL};
    cfg[nc++] = (typeof(cfg[0])){BG_BACKEND_CPU, 0, 0, "cpu/remap", "remap", NULL, NULL};
    /* the workers' priority (BIOGPU_WORKER_NICE) changes who runs first, never what comes out */
    cfg[nc++] = (typeof(cfg[0])){BG_BACKEND_CPU, 2, 0, "cpu/workers nice 0", NULL, NULL, "0"};
    cfg[nc++] = (typeof(cfg[0])){BG_BACKEND_CPU, 2, 0, "cpu/workers nice 19", NULL, NULL, "19"};
  }
  printf("configurations: %d (cuda compiled: %d, devices: %d), pairs: %llu, background: %.0f %%\n", nc, bg_cuda_compiled(), ndev,
         (unsigned long long)(bench ? bench : pairs), background * 100);
  char *ref = NULL;
  for (int i = 0; i < nc; i++) {
    bg_run_options_t o;
    bg_run_options_init(&o);
    o.backend = cfg[i].backend; o.threads = cfg[i].threads; o.device_id = cfg[i].device;
    bg_run_t *run = bg_run_new(db);
    if (cfg[i].unit_alns) setenv("BIOGPU_UNIT_ALNS", cfg[i].unit_alns, 1);
    else unsetenv("BIOGPU_UNIT_ALNS");
    if (cfg[i].inflate && *cfg[i].inflate) setenv("BIOGPU_INFLATE_THREADS", cfg[i].inflate, 1);
    else unsetenv("BIOGPU_INFLATE_THREADS");
    if (cfg[i].worker_nice) setenv("BIOGPU_WORKER_NICE", cfg[i].worker_nice, 1);
    else unsetenv("BIOGPU_WORKER_NICE");
    double t0 = now();
    s = bg_run_analyze(run, &o, cfg[i].inflate ? z1 : r1, cfg[i].inflate ? z2 : r2);
    double dt = now() - t0;
    if (s != BG_OK) { printf("FAIL %s (device %d): %s: %s\n", cfg[i].name, cfg[i].device, bg_status_name(s), bg_run_errmsg(run)); failed++; bg_run_free(run); continue; }
    const char *j = bg_run_result_json(run, NULL);
    printf("%-20s device %d: %.3f s, %.0f read pairs/s, process peak %.0f MiB\n", cfg[i].name, cfg[i].device, dt,
           (double)(bench ? bench : pairs) / dt, peak_mib());
    if (!ref) {
      ref = strdup(strip(j));
      int ok = strstr(ref, "blaTEM-1B_") && (!gyr || strstr(ref, "\"S83L\""));
      printf("%s reference backend finds the planted genes%s\n", ok ? "ok  " : "FAIL", gyr ? " and gyrA S83L" : "");
      ok ? passed++ : failed++;
    } else {
      int same = strcmp(ref, strip(j)) == 0;
      printf("%s %s identical to the reference\n", same ? "ok  " : "FAIL", cfg[i].name);
      if (!same) {
        FILE *f = fopen("/tmp/bg-conformance-diff.txt", "w");
        if (f) { fprintf(f, "%s\n%s\n", ref, strip(j)); fclose(f); }
        fprintf(stderr, "results differ: both written to /tmp/bg-conformance-diff.txt\n");
      }
      same ? passed++ : failed++;
    }
    bg_run_free(run);
  }
  if (!bench) { /* `auto` on a device that fails: the CPU twin takes over, same results, and the run says so */
    struct { int backend, fail_at; bg_status_t want; const char *name, *backend_json, *fallback; } fc[] = {
        {BG_BACKEND_AUTO, -1, BG_OK, "auto/stand-in device", "\"backend\":\"cuda\",\"device\":\"stand-in device\"", "\"fallback\":null"},
        {BG_BACKEND_AUTO, 0, BG_OK, "auto/device fails to start", "\"backend\":\"cpu\",\"device\":\"cpu\"",
         "\"fallback\":\"CUDA device 0 could not start (BG_ERR_DEVICE_UNAVAILABLE: injected: no kernel image for this device): the CPU screened instead\""},
        {BG_BACKEND_AUTO, 5, BG_OK, "auto/device fails mid-run", "\"backend\":\"cuda\",\"device\":\"stand-in device\"",
         "\"fallback\":\"CUDA device 0 failed while screening (BG_ERR_DEVICE_OOM: injected: out of device memory): the CPU screened instead\""},
        {BG_BACKEND_CUDA, 0, BG_ERR_DEVICE_UNAVAILABLE, "cuda/device fails to start", NULL, "injected: no kernel image"},
        {BG_BACKEND_CUDA, 5, BG_ERR_DEVICE_OOM, "cuda/device fails mid-run", NULL, "injected: out of device memory"},
        {BG_BACKEND_AUTO, -2, BG_OK, "auto/device query fails (driver too old)", "\"backend\":\"cpu\",\"device\":\"cpu\"",
         "\"fallback\":\"CUDA device 0 unavailable (injected: CUDA driver version is insufficient for CUDA runtime version): the CPU screened instead\""},
        {BG_BACKEND_CUDA, -2, BG_ERR_DEVICE_UNAVAILABLE, "cuda/device query fails (driver too old)", NULL,
         "No usable CUDA device 0: injected: CUDA driver version is insufficient"},
    };
    const bg_cuda_ops_t *real = bg_cuda_ops;
    bg_cuda_ops = &fake_ops;
    fake_db = db;
    unsetenv("BIOGPU_UNIT_ALNS");
    unsetenv("BIOGPU_INFLATE_THREADS");
    for (size_t i = 0; i < sizeof fc / sizeof fc[0]; i++) {
      bg_run_options_t o;
      bg_run_options_init(&o);
      o.backend = fc[i].backend; o.threads = 2; o.batch_pairs = 2000;
      fake_fail_at = fc[i].fail_at;
      atomic_store(&fake_calls, 0);
      bg_run_t *run = bg_run_new(db);
      s = bg_run_analyze(run, &o, r1, r2);
      const char *j = bg_run_result_json(run, NULL);
      int ok = s == fc[i].want && atomic_load(&fake_open) == 0; /* every context it opened was closed */
      if (ok && s == BG_OK)
        ok = j && strstr(j, fc[i].backend_json) && strstr(j, fc[i].fallback) && ref && !strcmp(ref, strip(j));
      else if (ok)
        ok = !j && strstr(bg_run_errmsg(run), fc[i].fallback);
      printf("%s %s: %s%s\n", ok ? "ok  " : "FAIL", fc[i].name, bg_status_name(s),
             s == BG_OK ? (ok ? ", identical to the reference" : "") : "");
      if (!ok) fprintf(stderr, "  %s\n", j ? j : bg_run_errmsg(run));
      ok ? passed++ : failed++;
      bg_run_free(run);
    }
    bg_cuda_ops = real;
  }
  if (!bench) { /* a bad BIOGPU_INFLATE_THREADS is refused by name, not ignored */
    bg_run_options_t o;
    bg_run_options_init(&o);
    o.backend = BG_BACKEND_CPU;
    bg_run_t *run = bg_run_new(db);
    setenv("BIOGPU_INFLATE_THREADS", "lots", 1);
    s = bg_run_analyze(run, &o, z1, z2);
    unsetenv("BIOGPU_INFLATE_THREADS");
    int ok = s == BG_ERR_INVALID_ARGUMENT && strstr(bg_run_errmsg(run), "BIOGPU_INFLATE_THREADS") &&
             strstr(bg_run_errmsg(run), "\"lots\"") && !bg_run_result_json(run, NULL);
    printf("%s BIOGPU_INFLATE_THREADS=lots refused: %s\n", ok ? "ok  " : "FAIL", bg_run_errmsg(run));
    ok ? passed++ : failed++;
    bg_run_free(run);
  }
  unsetenv("BIOGPU_WORKER_NICE");
  if (!bench) { /* a bad BIOGPU_WORKER_NICE is refused by name; the workers run at the nice value asked */
    bg_run_options_t o;
    bg_run_options_init(&o);
    o.backend = BG_BACKEND_CPU;
    const char *bad[] = {"-1", "20", "low", ""};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
      bg_run_t *run = bg_run_new(db);
      setenv("BIOGPU_WORKER_NICE", bad[b], 1);
      s = bg_run_analyze(run, &o, r1, r2);
      unsetenv("BIOGPU_WORKER_NICE");
      char want[64];
      snprintf(want, sizeof want, "found \"%s\"", bad[b]);
      int ok = s == BG_ERR_INVALID_ARGUMENT && strstr(bg_run_errmsg(run), "BIOGPU_WORKER_NICE must be a whole number from 0 to 19") &&
               strstr(bg_run_errmsg(run), want) && !bg_run_result_json(run, NULL);
      printf("%s BIOGPU_WORKER_NICE=\"%s\" refused: %s\n", ok ? "ok  " : "FAIL", bad[b], bg_run_errmsg(run));
      ok ? passed++ : failed++;
      bg_run_free(run);
    }
#ifdef __linux__
    const char *asked[] = {NULL, "0", "3", "19"};
    int base = own_nice();
    for (size_t k = 0; k < sizeof asked / sizeof asked[0]; k++) {
      int by = asked[k] ? atoi(asked[k]) : 5, want = base + by > 19 ? 19 : base + by, seen[8], nseen = 0;
      if (asked[k]) setenv("BIOGPU_WORKER_NICE", asked[k], 1);
      int others = watch_worker_nice(db, r1, r2, seen, &nseen);
      unsetenv("BIOGPU_WORKER_NICE");
      int ok = nseen == 2 && others == base;
      for (int i = 0; i < nseen; i++) ok &= seen[i] == want;
      printf("%s BIOGPU_WORKER_NICE %s: both workers at nice %d (seen %d: %d %d), the inflaters at %d (%d)\n", ok ? "ok  " : "FAIL",
             asked[k] ? asked[k] : "unset", want, nseen, nseen > 0 ? seen[0] : -99, nseen > 1 ? seen[1] : -99, base, others);
      ok ? passed++ : failed++;
    }
#endif
  }
  if (bench) { /* the inflate ceiling: the bgzip pair through the reader alone, with more and more helpers */
    for (int h = 0; h <= 8; h = h ? 2 * h : 2) {
      uint64_t n = 0;
      double dt = read_only(z1, z2, h, &n);
      printf("reader alone, bgzip, %d helpers per file: %.3f s, %.0f read pairs/s\n", h, dt, (double)n / dt);
    }
  }
  free(ref);
  for (int i = 0; i < nsrc; i++) free(src[i].seq);
  bg_db_free(db);
  unlink(r1); unlink(r2); unlink(z1); unlink(z2); rmdir(dir);
  printf("conformance: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
