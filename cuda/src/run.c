/* run.c — one analysis: streams read pairs through screen + map on worker threads, then
 * quantifies (quantify.c), calls mutations (mutations.c) and reports (report.c). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"
#include "run.h"

/* ---- batch queue ---------------------------------------------------------------------------- */

typedef struct slot_t { bg_batch_t b; uint8_t *flags; size_t cap_flags; } slot_t;

typedef struct queue_t {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int *items, head, n, cap;
  int closed;
} queue_t;

static void q_init(queue_t *q, int cap) {
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->cv, NULL);
  q->items = calloc((size_t)cap, sizeof(int));
  q->cap = cap; q->head = q->n = 0; q->closed = 0;
}
static void q_free(queue_t *q) { pthread_mutex_destroy(&q->mu); pthread_cond_destroy(&q->cv); free(q->items); }
static void q_push(queue_t *q, int v) {
  pthread_mutex_lock(&q->mu);
  q->items[(q->head + q->n) % q->cap] = v;
  q->n++;
  pthread_cond_signal(&q->cv);
  pthread_mutex_unlock(&q->mu);
}
/** Pops an item; -1 when closed and empty. */
static int q_pop(queue_t *q) {
  pthread_mutex_lock(&q->mu);
  while (q->n == 0 && !q->closed) pthread_cond_wait(&q->cv, &q->mu);
  int v = -1;
  if (q->n) { v = q->items[q->head]; q->head = (q->head + 1) % q->cap; q->n--; }
  pthread_mutex_unlock(&q->mu);
  return v;
}
static void q_close(queue_t *q) {
  pthread_mutex_lock(&q->mu);
  q->closed = 1;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

/* ---- workers ----------------------------------------------------------------------------------- */

typedef struct pipeline_t {
  bg_run_t *run;
  const bg_db_t *db;
  slot_t *slots;
  queue_t work, free_q;
  bg_worker_t *workers;
  int n_workers;
  int use_cuda, device_id;
  int auto_backend;          /* CUDA chosen by `auto`: a device failure falls back to the CPU twin */
  int worker_nice;           /* how much lower the workers' priority is than the caller's (BIOGPU_WORKER_NICE) */
  int device_named;          /* a worker's context has named the device in the run */
  _Atomic uint64_t gpu_batches;
  _Atomic int failed;
  pthread_mutex_t err_mu;    /* guards status, err, device_named, the run's device name and fallback */
  bg_status_t status;
  char err[BG_ERRMSG_LEN];
} pipeline_t;

static const bg_cuda_ops_t real_cuda_ops = {bg_cuda_devices, bg_cuda_ctx_new, bg_cuda_screen_batch, bg_cuda_ctx_free,
                                            bg_cuda_devices_error};
const bg_cuda_ops_t *bg_cuda_ops = &real_cuda_ops;

typedef struct warg_t { pipeline_t *p; int idx; } warg_t;

static void pipe_fail(pipeline_t *p, bg_status_t s, const char *msg) {
  pthread_mutex_lock(&p->err_mu);
  if (p->status == BG_OK) { p->status = s; snprintf(p->err, sizeof p->err, "%s", msg); }
  pthread_mutex_unlock(&p->err_mu);
  atomic_store(&p->failed, 1);
}

/* With `auto`, a device that fails (to start, or mid-run) is not the sample's fault: the worker drops its
 * context and screens on the CPU twin, whose flags are the same, and the run says why (the first reason). */
static void note_fallback(pipeline_t *p, bg_status_t s, const char *what, const char *msg) {
  pthread_mutex_lock(&p->err_mu);
  if (!p->run->fallback[0])
    snprintf(p->run->fallback, sizeof p->run->fallback, "CUDA device %d %s (%s: %s): the CPU screened instead", p->device_id, what,
             bg_status_name(s), msg);
  pthread_mutex_unlock(&p->err_mu);
}

static void *worker_main(void *arg) {
  warg_t *wa = arg;
  pipeline_t *p = wa->p;
  bg_worker_t *w = &p->workers[wa->idx];
  char err[BG_ERRMSG_LEN], tname[16];
  snprintf(tname, sizeof tname, "bg-worker-%d", wa->idx);
  bg_thread_lower_priority(p->worker_nice); /* before the name: a thread seen by its name has its priority */
  bg_thread_name(tname);
  if (p->use_cuda) {
    char name[256] = "";
    bg_status_t s = bg_cuda_ops->ctx_new(&w->cuda, p->db, p->device_id, err, sizeof err, name, sizeof name);
    if (s != BG_OK) {
      if (p->auto_backend) note_fallback(p, s, "could not start", err);
      else pipe_fail(p, s, err);
    } else {
      pthread_mutex_lock(&p->err_mu);
      if (!p->device_named) { snprintf(p->run->device, sizeof p->run->device, "%s", name); p->device_named = 1; }
      pthread_mutex_unlock(&p->err_mu);
    }
  }
  for (;;) {
    int si = q_pop(&p->work);
    if (si < 0) break;
    slot_t *sl = &p->slots[si];
    if (!atomic_load(&p->failed) && !atomic_load(&p->run->cancel)) {
      bg_batch_t *b = &sl->b;
      if (sl->cap_flags < b->n_pairs) {
        free(sl->flags);
        sl->flags = malloc(b->n_pairs);
        sl->cap_flags = sl->flags ? b->n_pairs : 0;
      }
      if (!sl->flags) pipe_fail(p, BG_ERR_HOST_OOM, "Out of memory screening a batch");
      else {
        bg_status_t s = BG_OK;
        int on_gpu = 0;
        if (w->cuda) {
          s = bg_cuda_ops->screen(w->cuda, (const uint8_t *)b->seq1, b->off1, (const uint8_t *)b->seq2, b->off2, b->n_pairs,
                                  sl->flags, err, sizeof err);
          if (s == BG_OK) { on_gpu = 1; atomic_fetch_add(&p->gpu_batches, 1); }
          else if (p->auto_backend) { /* this batch and the rest of this worker's on the CPU */
            note_fallback(p, s, "failed while screening", err);
            bg_cuda_ops->ctx_free(w->cuda);
            w->cuda = NULL;
            s = BG_OK;
          }
        }
        if (s == BG_OK && !on_gpu)
          bg_screen_batch_cpu(p->db, (const uint8_t *)b->seq1, b->off1, (const uint8_t *)b->seq2, b->off2, b->n_pairs, sl->flags);
        if (s != BG_OK) pipe_fail(p, s, err);
        else {
          for (uint32_t i = 0; i < b->n_pairs; i++) {
            if ((i & 255) == 0 && atomic_load(&p->run->cancel)) break; /* cancel within 1 s, even mid-batch */
            w->screened++;
            if (!sl->flags[i]) continue;
            if (bg_worker_map_pair(w, (const uint8_t *)b->seq1 + b->off1[i], b->off1[i + 1] - b->off1[i],
                                   (const uint8_t *)b->seq2 + b->off2[i], b->off2[i + 1] - b->off2[i]) != 0) {
              pipe_fail(p, BG_ERR_HOST_OOM, "Out of memory mapping reads");
              break;
            }
          }
          atomic_fetch_add(&p->run->pairs_done, b->n_pairs);
        }
      }
    }
    q_push(&p->free_q, si);
  }
  return NULL;
}

/* ---- the analysis ---------------------------------------------------------------------------- */

/* A whole-number setting from the environment: *out = dflt when `name` is unset, else its value when that is a
 * whole number from lo to hi. 0, or -1 with the run's error naming the setting (BG_ERR_INVALID_ARGUMENT). */
static int env_setting(bg_run_t *r, const char *name, long lo, long hi, int dflt, int *out) {
  const char *e = getenv(name);
  if (!e) { *out = dflt; return 0; }
  char *end;
  long v = strtol(e, &end, 10);
  if (!*e || *end || v < lo || v > hi) {
    bg_fail(r->err, sizeof r->err, BG_ERR_INVALID_ARGUMENT, "%s must be a whole number from %ld to %ld, found \"%.40s\"", name, lo, hi, e);
    return -1;
  }
  *out = (int)v;
  return 0;
}

/* Helper threads inflating each bgzip file (BIOGPU_INFLATE_THREADS overrides): a quarter of the analysis threads
 * from 8 threads on (up to 8 per file). On fewer cores the two inflater threads already keep every core busy. */
static int default_inflate_threads(int threads) { return threads >= 8 ? (threads / 4 < 8 ? threads / 4 : 8) : 0; }

/* How much the workers' nice value is raised (BIOGPU_WORKER_NICE overrides). The two inflater threads and the
 * parser are the pipeline's critical path: on shared cores the scheduler runs them first and the workers
 * (screening and mapping, whose batches can wait) in the time left. */
#define BG_WORKER_NICE 5

static void set_fraction(bg_run_t *r, double f) {
  double cur = bg_run_get_fraction(r);
  if (f > cur) bg_run_set_fraction(r, f);
}

static bg_status_t finish(bg_run_t *r, bg_status_t s) {
  r->last = s;
  if (s == BG_OK) { atomic_store(&r->stage, BG_STAGE_DONE); bg_run_set_fraction(r, 1.0); }
  return s;
}

BG_API bg_status_t bg_run_analyze(bg_run_t *r, const bg_run_options_t *opts, const char *r1, const char *r2) {
  if (!r) return BG_ERR_INVALID_ARGUMENT;
  if (atomic_exchange(&r->busy, 1)) return bg_fail(r->err, sizeof r->err, BG_ERR_INVALID_ARGUMENT, "This run handle is already analysing a sample");
  r->err[0] = 0;
  free(r->result); r->result = NULL; r->result_len = 0;
  atomic_store(&r->cancel, 0);
  atomic_store(&r->pairs_done, 0);
  atomic_store(&r->bytes_done, 0);
  atomic_store(&r->bytes_total, 0);
  bg_run_set_fraction(r, 0.0);
  atomic_store(&r->stage, BG_STAGE_LOADING);
  bg_status_t s = bg_run_options_check(opts, r->err, sizeof r->err);
  if (s == BG_OK && (!r1 || !*r1 || !r2 || !*r2)) s = bg_fail(r->err, sizeof r->err, BG_ERR_INVALID_ARGUMENT, "Both R1 and R2 paths are required");
  if (s == BG_OK && (!r->db || !r->db->n_targets)) s = bg_fail(r->err, sizeof r->err, BG_ERR_INVALID_ARGUMENT, "The database is empty: build or load it first");
  free(r->skip);
  r->skip = NULL;
  if (s == BG_OK) s = bg_species_select(r->db, opts->species, NULL, &r->skip, r->err, sizeof r->err);
  if (s != BG_OK) { atomic_store(&r->busy, 0); return finish(r, s); }
  r->opts = *opts;
  double t0 = bg_now();
  int use_cuda = 0;
  char unusable[256] = ""; /* a GPU that is there but cannot be used (the device query failed) */
  if (opts->backend == BG_BACKEND_CUDA || opts->backend == BG_BACKEND_AUTO) {
    int nd = bg_cuda_ops->devices();
    if (nd > opts->device_id) use_cuda = 1;
    else {
      if (nd == 0 && bg_cuda_ops->devices_error && !bg_cuda_ops->devices_error(unusable, sizeof unusable)) unusable[0] = 0;
      if (opts->backend == BG_BACKEND_CUDA) {
        if (unusable[0])
          s = bg_fail(r->err, sizeof r->err, BG_ERR_DEVICE_UNAVAILABLE, "No usable CUDA device %d: %s", opts->device_id, unusable);
        else
          s = bg_fail(r->err, sizeof r->err, BG_ERR_DEVICE_UNAVAILABLE,
                      bg_cuda_compiled() ? "No usable CUDA device %d: %d device(s) found" : "No usable CUDA device %d: this library was built without CUDA (%d devices)",
                      opts->device_id, nd);
        atomic_store(&r->busy, 0);
        return finish(r, s);
      }
    }
  }
  int nw = opts->threads > 0 ? opts->threads : bg_ncpu();
  r->threads = nw;
  snprintf(r->backend, sizeof r->backend, "%s", use_cuda ? "cuda" : "cpu");
  snprintf(r->device, sizeof r->device, "%s", use_cuda ? "cuda" : "cpu");
  r->fallback[0] = 0;
  if (unusable[0]) /* `auto` on a GPU machine whose device cannot be used: said, not silent */
    snprintf(r->fallback, sizeof r->fallback, "CUDA device %d unavailable (%s): the CPU screened instead", opts->device_id, unusable);

  int helpers, nice_by;
  if (env_setting(r, "BIOGPU_INFLATE_THREADS", 0, BG_READER_MAX_INFLATE_THREADS, default_inflate_threads(nw), &helpers) != 0 ||
      env_setting(r, "BIOGPU_WORKER_NICE", 0, 19, BG_WORKER_NICE, &nice_by) != 0) {
    atomic_store(&r->busy, 0);
    return finish(r, BG_ERR_INVALID_ARGUMENT);
  }
  bg_pair_reader_t *reader = NULL;
  s = bg_pair_reader_open(&reader, r1, r2, helpers, r->err, sizeof r->err);
  if (s != BG_OK) { atomic_store(&r->busy, 0); return finish(r, s); }
  bg_pair_reader_set_cancel(reader, &r->cancel);
  atomic_store(&r->bytes_total, bg_pair_reader_bytes_total(reader));
  atomic_store(&r->stage, BG_STAGE_SCREENING);

  pipeline_t p;
  memset(&p, 0, sizeof p);
  p.run = r; p.db = r->db; p.n_workers = nw; p.use_cuda = use_cuda; p.device_id = opts->device_id;
  p.auto_backend = use_cuda && opts->backend == BG_BACKEND_AUTO;
  p.worker_nice = nice_by;
  pthread_mutex_init(&p.err_mu, NULL);
  int nslots = nw + 2;
  p.slots = calloc((size_t)nslots, sizeof *p.slots);
  p.workers = calloc((size_t)nw, sizeof *p.workers);
  warg_t *args = calloc((size_t)nw, sizeof *args);
  pthread_t *tids = calloc((size_t)nw, sizeof *tids);
  if (!p.slots || !p.workers || !args || !tids) {
    free(p.slots); free(p.workers); free(args); free(tids);
    bg_pair_reader_close(reader);
    pthread_mutex_destroy(&p.err_mu);
    atomic_store(&r->busy, 0);
    return finish(r, bg_fail(r->err, sizeof r->err, BG_ERR_HOST_OOM, "Out of memory starting the analysis"));
  }
  q_init(&p.work, nslots + 1);
  q_init(&p.free_q, nslots + 1);
  for (int i = 0; i < nslots; i++) { bg_batch_init(&p.slots[i].b); q_push(&p.free_q, i); }
  int started = 0;
  for (int i = 0; i < nw; i++) {
    bg_worker_init(&p.workers[i], r->db);
    p.workers[i].m.skip = r->skip;
    args[i] = (warg_t){&p, i};
    if (pthread_create(&tids[i], NULL, worker_main, &args[i]) == 0) started++;
    else { pipe_fail(&p, BG_ERR_INTERNAL, "Cannot start a worker thread"); break; }
  }
  uint64_t max_bases = (uint64_t)opts->batch_pairs * 400;
  uint64_t pairs_in = 0, bases_in = 0;
  bg_status_t rs = BG_OK;
  char rerr[BG_ERRMSG_LEN] = "";
  while (!atomic_load(&p.failed)) {
    if (atomic_load(&r->cancel)) { rs = BG_ERR_CANCELLED; snprintf(rerr, sizeof rerr, "The analysis was cancelled"); break; }
    int si = q_pop(&p.free_q);
    if (si < 0) break;
    bg_batch_t *b = &p.slots[si].b;
    rs = bg_pair_reader_next(reader, b, (uint32_t)opts->batch_pairs, max_bases, rerr, sizeof rerr);
    atomic_store(&r->bytes_done, bg_pair_reader_bytes_done(reader));
    uint64_t tot = atomic_load(&r->bytes_total);
    if (tot) set_fraction(r, 0.85 * (double)atomic_load(&r->bytes_done) / (double)tot);
    if (rs != BG_OK || b->n_pairs == 0) { q_push(&p.free_q, si); break; }
    pairs_in += b->n_pairs;
    bases_in += b->bases;
    q_push(&p.work, si);
  }
  q_close(&p.work);
  for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
  uint64_t bytes_read = bg_pair_reader_bytes_done(reader);
  bg_pair_reader_close(reader);
  if (rs == BG_OK && atomic_load(&r->cancel)) { rs = BG_ERR_CANCELLED; snprintf(rerr, sizeof rerr, "The analysis was cancelled"); }
  if (rs == BG_OK && p.status != BG_OK) { rs = p.status; snprintf(rerr, sizeof rerr, "%s", p.err); }
  for (int i = 0; i < nw; i++) if (p.workers[i].cuda) bg_cuda_ops->ctx_free(p.workers[i].cuda);
  if (use_cuda && atomic_load(&p.gpu_batches) == 0) { /* `auto` fell back before the device screened anything */
    snprintf(r->backend, sizeof r->backend, "cpu");
    snprintf(r->device, sizeof r->device, "cpu");
  }
  for (int i = 0; i < nslots; i++) { bg_batch_free(&p.slots[i].b); free(p.slots[i].flags); }
  free(p.slots); free(args); free(tids);
  q_free(&p.work); q_free(&p.free_q);
  pthread_mutex_destroy(&p.err_mu);
  if (rs != BG_OK) {
    for (int i = 0; i < nw; i++) bg_worker_free(&p.workers[i]);
    free(p.workers);
    snprintf(r->err, sizeof r->err, "%s", rerr);
    atomic_store(&r->busy, 0);
    return finish(r, rs);
  }
  r->read_pairs = pairs_in;
  r->bases = bases_in;
  if (atomic_load(&r->bytes_total) == 0) atomic_store(&r->bytes_total, bytes_read); /* a FIFO or pipe: no size */
  atomic_store(&r->bytes_done, atomic_load(&r->bytes_total));
  s = bg_quantify_and_report(r, p.workers, nw, t0);
  for (int i = 0; i < nw; i++) bg_worker_free(&p.workers[i]);
  free(p.workers);
  atomic_store(&r->busy, 0);
  return finish(r, s);
}

/* ---- handle ------------------------------------------------------------------------------------ */

BG_API bg_run_t *bg_run_new(const bg_db_t *db) {
  bg_run_t *r = calloc(1, sizeof *r);
  if (r) r->db = db;
  return r;
}

BG_API void bg_run_free(bg_run_t *r) {
  if (!r) return;
  free(r->result);
  free(r->skip);
  free(r);
}

BG_API bg_status_t bg_run_progress(const bg_run_t *r, bg_progress_t *o) {
  if (!r || !o) return BG_ERR_INVALID_ARGUMENT;
  if (o->size != sizeof *o) return BG_ERR_INVALID_ARGUMENT;
  o->stage = atomic_load(&r->stage);
  o->pairs_done = atomic_load(&r->pairs_done);
  o->bytes_done = atomic_load(&r->bytes_done);
  o->bytes_total = atomic_load(&r->bytes_total);
  o->fraction = bg_run_get_fraction(r);
  return BG_OK;
}

BG_API void bg_run_cancel(bg_run_t *r) { if (r) atomic_store(&r->cancel, 1); }

BG_API const char *bg_run_result_json(const bg_run_t *r, size_t *len) {
  if (!r || !r->result) { if (len) *len = 0; return NULL; }
  if (len) *len = r->result_len;
  return r->result;
}

BG_API const char *bg_run_errmsg(const bg_run_t *r) { return r ? r->err : "no run handle"; }
BG_API bg_status_t bg_run_last_status(const bg_run_t *r) { return r ? r->last : BG_ERR_INVALID_ARGUMENT; }
