/* index.c — k-mer index (hash of canonical k-mers -> occurrences, Bloom screen) and its file format. */
#include <errno.h>
#include <fcntl.h>
#include <isa-l/crc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* ---- CRC-32 of a file in two halves at once ------------------------------------------------- */

/* a * b modulo the CRC-32 polynomial, in the reflected bit order crc32_gzip_refl uses (zlib's multmodp). */
static uint32_t crc_multmodp(uint32_t a, uint32_t b) {
  uint32_t m = 1u << 31, p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = b & 1 ? (b >> 1) ^ 0xedb88320u : b >> 1;
  }
  return p;
}

uint32_t bg_crc32_combine(uint32_t crc1, uint32_t crc2, uint64_t len2) {
  uint32_t x2n = 1u << 30, xn = 1u << 31; /* x^(2^k) for k = 0 (x^1), and x^0 */
  for (uint64_t n = len2 * 8; n; n >>= 1) { /* x^(8 len2) by squaring */
    if (n & 1) xn = crc_multmodp(x2n, xn);
    x2n = crc_multmodp(x2n, x2n);
  }
  return crc_multmodp(xn, crc1) ^ crc2;
}

typedef struct crc_job_t { const uint8_t *p; uint64_t n; uint32_t crc; } crc_job_t;
static void *crc_main(void *arg) {
  crc_job_t *j = arg;
  j->crc = crc32_gzip_refl(0, j->p, j->n);
  return NULL;
}

/* CRC-32 of n bytes, the second half on a thread of its own when the file is large. The time goes less into
 * the arithmetic than into the first touch of each page of the new mapping (a trip to the hypervisor per page
 * on a VM whose page tables are shadowed): two threads halve the wait. */
static uint32_t crc_in_halves(const uint8_t *p, uint64_t n) {
  if (n < ((uint64_t)8 << 20)) return crc32_gzip_refl(0, p, n);
  crc_job_t second = {p + n / 2, n - n / 2, 0};
  pthread_t tid;
  if (pthread_create(&tid, NULL, crc_main, &second) != 0) return crc32_gzip_refl(0, p, n);
  uint32_t first = crc32_gzip_refl(0, p, n / 2);
  pthread_join(tid, NULL);
  return bg_crc32_combine(first, second.crc, second.n);
}

typedef struct kent_t { uint64_t canon; uint32_t target, pos; } kent_t;

static int cmp_kent(const void *a, const void *b) {
  const kent_t *x = a, *y = b;
  if (x->canon != y->canon) return x->canon < y->canon ? -1 : 1;
  if (x->target != y->target) return x->target < y->target ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* LSD radix sort on the 42-bit key (stable), then the (target,pos) order is kept from generation. */
static int radix_sort(kent_t *a, size_t n) {
  kent_t *tmp = malloc(n * sizeof *tmp);
  if (!tmp) return -1;
  size_t cnt[2048];
  kent_t *src = a, *dst = tmp;
  for (int shift = 0; shift < 2 * BG_K; shift += 11) {
    memset(cnt, 0, sizeof cnt);
    for (size_t i = 0; i < n; i++) cnt[(src[i].canon >> shift) & 2047]++;
    size_t sum = 0;
    for (int i = 0; i < 2048; i++) { size_t c = cnt[i]; cnt[i] = sum; sum += c; }
    for (size_t i = 0; i < n; i++) dst[cnt[(src[i].canon >> shift) & 2047]++] = src[i];
    kent_t *t = src; src = dst; dst = t;
  }
  if (src != a) memcpy(a, src, n * sizeof *a);
  free(tmp);
  return 0;
}

const bg_kslot_t *bg_index_find(const bg_db_t *db, uint64_t canon) {
  uint64_t key = canon + 1, i = bg_mix64(canon) & db->slot_mask;
  for (;;) {
    const bg_kslot_t *s = &db->slots[i];
    if (s->key == key) return s;
    if (s->key == 0) return NULL;
    i = (i + 1) & db->slot_mask;
  }
}

static uint64_t pow2_at_least(uint64_t v) {
  uint64_t p = 1;
  while (p < v) p <<= 1;
  return p;
}

bg_status_t bg_index_build(bg_db_t *db) {
  size_t total = 0;
  for (uint32_t t = 0; t < db->n_targets; t++) if (db->targets[t].len >= BG_K) total += db->targets[t].len - BG_K + 1;
  kent_t *ents = malloc((total ? total : 1) * sizeof *ents);
  if (!ents) return bg_fail(db->err, sizeof db->err, BG_ERR_HOST_OOM, "Out of memory building the k-mer index");
  size_t n = 0;
  for (uint32_t t = 0; t < db->n_targets; t++) {
    const bg_target_t *tg = &db->targets[t];
    const uint8_t *s = (const uint8_t *)bg_tseq(db, tg);
    uint64_t fw = 0, rv = 0;
    uint32_t valid = 0;
    for (uint32_t i = 0; i < tg->len; i++) {
      uint32_t c = bg_base_code(s[i]);
      if (c > 3) { valid = 0; continue; }
      fw = ((fw << 2) | c) & BG_KMASK;
      rv = (rv >> 2) | ((uint64_t)(3u - c) << (2 * (BG_K - 1)));
      if (++valid >= BG_K) {
        uint32_t pos = i + 1 - BG_K;
        ents[n++] = fw <= rv ? (kent_t){fw, t, pos} : (kent_t){rv, t, pos | 0x80000000u};
      }
    }
  }
  if (radix_sort(ents, n) != 0) { free(ents); return bg_fail(db->err, sizeof db->err, BG_ERR_HOST_OOM, "Out of memory sorting the k-mer index"); }
  (void)cmp_kent;
  size_t distinct = 0;
  for (size_t i = 0; i < n; i++) distinct += (i == 0 || ents[i].canon != ents[i - 1].canon);
  uint64_t nslots = pow2_at_least(distinct * 2 + 16);
  uint64_t nwords = pow2_at_least((distinct * 20) / 64 + 64);
  bg_kslot_t *slots = calloc(nslots, sizeof *slots);
  bg_occ_t *occs = malloc((n ? n : 1) * sizeof *occs);
  uint64_t *filter = calloc(nwords, sizeof *filter);
  if (!slots || !occs || !filter) {
    free(ents); free(slots); free(occs); free(filter);
    return bg_fail(db->err, sizeof db->err, BG_ERR_HOST_OOM, "Out of memory building the k-mer index");
  }
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && ents[j].canon == ents[i].canon) { occs[j] = (bg_occ_t){ents[j].target, ents[j].pos}; j++; }
    uint64_t canon = ents[i].canon, h = bg_mix64(canon), k = h & (nslots - 1);
    while (slots[k].key) k = (k + 1) & (nslots - 1);
    slots[k] = (bg_kslot_t){canon + 1, (uint32_t)i, (uint32_t)(j - i)};
    uint64_t wi, m;
    bg_filter_add_bits(h, &wi, &m, nwords - 1);
    filter[wi] |= m;
    i = j;
  }
  free(ents);
  db->slots = slots; db->owned[db->n_owned++] = slots; db->slot_mask = nslots - 1;
  db->occs = occs; db->owned[db->n_owned++] = occs; db->n_occs = n;
  db->filter = filter; db->owned[db->n_owned++] = filter; db->filter_mask = nwords - 1;
  return BG_OK;
}

/* ---- file format ---------------------------------------------------------------------------
 * header (fixed 256 bytes) | sections, each 64-byte aligned. All integers little-endian.
 * The CRC-32 covers every byte after the header; load refuses a mismatch.
 */
enum { SEC_TARGETS, SEC_SITES, SEC_STRINGS, SEC_SEQS, SEC_SLOTS, SEC_OCCS, SEC_FILTER, SEC_WARNINGS, SEC_N };

typedef struct file_header_t {
  char magic[8];
  uint32_t version, k;
  uint64_t file_size;
  uint32_t crc, header_size;
  uint32_t n_targets, n_sites, n_resfinder, n_pointfinder, n_species, n_warnings;
  uint64_t slot_mask, filter_mask, n_occs;
  uint64_t off[SEC_N], size[SEC_N];
  uint32_t sizeof_target, sizeof_site;
  double build_seconds;
  uint8_t pad[256 - 8 - 8 - 8 - 8 - 24 - 24 - 16 * SEC_N - 8 - 8];
} file_header_t;
_Static_assert(sizeof(file_header_t) == 256, "index header is 256 bytes");

static bg_status_t write_all(int fd, const void *p, size_t n) {
  const uint8_t *b = p;
  while (n) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return BG_ERR_IO;
    b += w; n -= (size_t)w;
  }
  return BG_OK;
}

BG_API bg_status_t bg_db_save(bg_db_t *db, const char *path) {
  if (!db) return BG_ERR_INVALID_ARGUMENT;
  db->err[0] = 0;
  if (!path || !*path) return bg_fail(db->err, sizeof db->err, BG_ERR_INVALID_ARGUMENT, "An index file path is required");
  if (!db->n_targets) return bg_fail(db->err, sizeof db->err, BG_ERR_INVALID_ARGUMENT, "The database is empty: build or load it first");
  const char *warn = db->warnings_json ? db->warnings_json : "[]";
  const void *ptr[SEC_N] = {db->targets, db->sites, db->strings, db->seqs, db->slots, db->occs, db->filter, warn};
  uint64_t size[SEC_N] = {db->n_targets * sizeof(bg_target_t), db->n_sites * sizeof(bg_site_t), db->strings_len, db->seqs_len,
                          (db->slot_mask + 1) * sizeof(bg_kslot_t), db->n_occs * sizeof(bg_occ_t),
                          (db->filter_mask + 1) * sizeof(uint64_t), strlen(warn) + 1};
  file_header_t h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, BG_INDEX_MAGIC, 8);
  h.version = BG_INDEX_VERSION; h.k = BG_K; h.header_size = sizeof h;
  h.n_targets = db->n_targets; h.n_sites = db->n_sites; h.n_resfinder = db->n_resfinder; h.n_pointfinder = db->n_pointfinder;
  h.n_species = db->n_species; h.n_warnings = db->n_warnings;
  h.slot_mask = db->slot_mask; h.filter_mask = db->filter_mask; h.n_occs = db->n_occs;
  h.sizeof_target = sizeof(bg_target_t); h.sizeof_site = sizeof(bg_site_t);
  h.build_seconds = db->build_seconds;
  uint64_t off = sizeof h;
  uint32_t crc = 0;
  static const uint8_t zeros[64] = {0};
  for (int i = 0; i < SEC_N; i++) {
    uint64_t pad = (64 - off % 64) % 64;
    crc = crc32_gzip_refl(crc, zeros, pad);
    off += pad;
    h.off[i] = off; h.size[i] = size[i];
    crc = crc32_gzip_refl(crc, ptr[i], size[i]);
    off += size[i];
  }
  h.file_size = off; h.crc = crc;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    return bg_fail(db->err, sizeof db->err, bg_status_from_errno(e), "Cannot write the index: %s (%s)", strerror(e), path);
  }
  bg_status_t s = write_all(fd, &h, sizeof h);
  uint64_t pos = sizeof h;
  for (int i = 0; i < SEC_N && s == BG_OK; i++) {
    if (h.off[i] > pos) s = write_all(fd, zeros, h.off[i] - pos);
    if (s == BG_OK) s = write_all(fd, ptr[i], size[i]);
    pos = h.off[i] + size[i];
  }
  if (s == BG_OK && fsync(fd) != 0) s = BG_ERR_IO;
  int e = errno;
  close(fd);
  if (s == BG_OK && rename(tmp, path) != 0) { e = errno; s = bg_status_from_errno(e); }
  if (s != BG_OK) {
    unlink(tmp);
    return bg_fail(db->err, sizeof db->err, s, "Cannot write the index: %s (%s)", strerror(e), path);
  }
  return BG_OK;
}

/* Whether the bases a site reads lie within its target (len bases): a codon from tidx (AA), the codons either side
 * of an amino-acid insertion after tidx (AA_INS), the base at tidx; tidx < 0 (outside) reads none. */
static int site_span_ok(const bg_site_t *s, uint32_t len) {
  if (s->tidx < 0) return 1;
  int64_t first = s->tidx, end = (int64_t)s->tidx + 1;
  if (s->type == BG_MUT_AA) end = (int64_t)s->tidx + 3;
  else if (s->type == BG_MUT_AA_INS) { first = (int64_t)s->tidx - 2; end = (int64_t)s->tidx + 4; }
  return first >= 0 && end <= (int64_t)len;
}

BG_API bg_status_t bg_db_load(bg_db_t *db, const char *path) {
  if (!db) return BG_ERR_INVALID_ARGUMENT;
  db->err[0] = 0;
  if (!path || !*path) return bg_fail(db->err, sizeof db->err, BG_ERR_INVALID_ARGUMENT, "An index file path is required");
  if (db->n_targets) return bg_fail(db->err, sizeof db->err, BG_ERR_INVALID_ARGUMENT, "The database handle is not empty");
  double t0 = bg_now();
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return bg_fail(db->err, sizeof db->err, bg_status_from_errno(e), "Cannot load the index: %s (%s)", strerror(e), path);
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return bg_fail(db->err, sizeof db->err, BG_ERR_BAD_INDEX, "Cannot load the index: not a regular file (%s)", path);
  }
  if ((uint64_t)st.st_size < sizeof(file_header_t)) {
    close(fd);
    return bg_fail(db->err, sizeof db->err, BG_ERR_BAD_INDEX, "Cannot load the index: file is too short to be a BioGPU index (%lld bytes) (%s)", (long long)st.st_size, path);
  }
  /* populated at once: the checksum below reads every page anyway */
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return bg_fail(db->err, sizeof db->err, BG_ERR_IO, "Cannot load the index: mmap failed: %s (%s)", strerror(errno), path);
  const file_header_t *h = map;
  const char *why = NULL;
  char whybuf[256];
  if (memcmp(h->magic, BG_INDEX_MAGIC, 8) != 0) why = "not a BioGPU index file (bad magic)";
  else if (h->version != BG_INDEX_VERSION) { snprintf(whybuf, sizeof whybuf, "index format version %u, this engine reads %u: rebuild it with `db build`", h->version, BG_INDEX_VERSION); why = whybuf; }
  else if (h->k != BG_K || h->sizeof_target != sizeof(bg_target_t) || h->sizeof_site != sizeof(bg_site_t)) why = "index built with incompatible parameters: rebuild it";
  else if (h->file_size != (uint64_t)st.st_size) { snprintf(whybuf, sizeof whybuf, "file is %lld bytes but its header says %llu (truncated or damaged)", (long long)st.st_size, (unsigned long long)h->file_size); why = whybuf; }
  else {
    for (int i = 0; i < SEC_N && !why; i++)
      if (h->off[i] < sizeof *h || h->off[i] + h->size[i] > h->file_size || h->off[i] + h->size[i] < h->off[i]) why = "section table out of range";
    if (!why && (h->size[SEC_TARGETS] != (uint64_t)h->n_targets * sizeof(bg_target_t) || h->size[SEC_SITES] != (uint64_t)h->n_sites * sizeof(bg_site_t) ||
                 h->size[SEC_SLOTS] != (h->slot_mask + 1) * sizeof(bg_kslot_t) || h->size[SEC_OCCS] != h->n_occs * sizeof(bg_occ_t) ||
                 h->size[SEC_FILTER] != (h->filter_mask + 1) * 8 || h->n_targets == 0))
      why = "section sizes disagree with the header";
    if (!why) {
      uint32_t crc = crc_in_halves((const uint8_t *)map + sizeof *h, h->file_size - sizeof *h);
      if (crc != h->crc) why = "checksum mismatch (the file is damaged)";
    }
  }
  if (why) {
    munmap(map, (size_t)st.st_size);
    return bg_fail(db->err, sizeof db->err, BG_ERR_BAD_INDEX, "Cannot load the index: %s (%s)", why, path);
  }
  const uint8_t *base = map;
  db->targets = (const bg_target_t *)(base + h->off[SEC_TARGETS]); db->n_targets = h->n_targets;
  db->sites = (const bg_site_t *)(base + h->off[SEC_SITES]); db->n_sites = h->n_sites;
  db->strings = (const char *)(base + h->off[SEC_STRINGS]); db->strings_len = h->size[SEC_STRINGS];
  db->seqs = (const char *)(base + h->off[SEC_SEQS]); db->seqs_len = h->size[SEC_SEQS];
  db->slots = (const bg_kslot_t *)(base + h->off[SEC_SLOTS]); db->slot_mask = h->slot_mask;
  db->occs = (const bg_occ_t *)(base + h->off[SEC_OCCS]); db->n_occs = h->n_occs;
  db->filter = (const uint64_t *)(base + h->off[SEC_FILTER]); db->filter_mask = h->filter_mask;
  db->n_resfinder = h->n_resfinder; db->n_pointfinder = h->n_pointfinder; db->n_species = h->n_species; db->n_warnings = h->n_warnings;
  size_t wl = h->size[SEC_WARNINGS];
  db->warnings_json = malloc(wl + 1);
  if (db->warnings_json) { memcpy(db->warnings_json, base + h->off[SEC_WARNINGS], wl); db->warnings_json[wl] = 0; }
  db->build_seconds = h->build_seconds;
  db->map = map; db->map_len = (size_t)st.st_size; db->loaded = 1;
  /* bounds of string and sequence offsets, so a crafted file cannot make us read outside */
  for (uint32_t i = 0; i < db->n_targets; i++) {
    const bg_target_t *t = &db->targets[i];
    if (t->seq + t->len >= db->seqs_len || t->name >= db->strings_len || t->gene >= db->strings_len || t->accession >= db->strings_len ||
        t->drug_class >= db->strings_len || t->phenotype >= db->strings_len || t->species >= db->strings_len ||
        t->mechanism >= db->strings_len || (t->n_sites && (uint64_t)t->first_site + t->n_sites > db->n_sites)) {
      db->targets = NULL; db->n_targets = 0;
      munmap(map, db->map_len); db->map = NULL;
      return bg_fail(db->err, sizeof db->err, BG_ERR_BAD_INDEX, "Cannot load the index: target table out of range (%s)", path);
    }
  }
  for (uint32_t i = 0; i < db->n_sites; i++) {
    const bg_site_t *s = &db->sites[i];
    if (s->target >= db->n_targets || s->ref >= db->strings_len || s->ref_codon >= db->strings_len || s->alts >= db->strings_len ||
        s->drug_class >= db->strings_len || s->phenotype >= db->strings_len || s->pmid >= db->strings_len ||
        s->mechanism >= db->strings_len || s->type > BG_MUT_AA_INS || !site_span_ok(s, db->targets[s->target].len)) {
      db->targets = NULL; db->n_targets = 0; db->sites = NULL; db->n_sites = 0;
      munmap(map, db->map_len); db->map = NULL;
      return bg_fail(db->err, sizeof db->err, BG_ERR_BAD_INDEX, "Cannot load the index: site table out of range (%s)", path);
    }
  }
  for (uint32_t i = 0; i < db->n_targets; i++) { /* a variant target: a gene's long indel site (see db.c) */
    const bg_target_t *t = &db->targets[i];
    if (!t->variant_site) continue;
    const bg_site_t *s = t->variant_site <= db->n_sites ? &db->sites[t->variant_site - 1] : NULL;
    if (!s || t->kind != BG_KIND_POINTFINDER || t->n_sites || (s->type != BG_MUT_DEL && s->type != BG_MUT_INS) || s->tidx < 0 ||
        db->targets[s->target].variant_site || !bg_site_alt(db, s, t->variant_alt, NULL)) {
      db->targets = NULL; db->n_targets = 0; db->sites = NULL; db->n_sites = 0;
      munmap(map, db->map_len); db->map = NULL;
      return bg_fail(db->err, sizeof db->err, BG_ERR_BAD_INDEX, "Cannot load the index: variant target out of range (%s)", path);
    }
  }
  madvise(map, db->map_len, MADV_WILLNEED);
  db->load_seconds = bg_now() - t0;
  return BG_OK;
}
