/* api.c — version calls, status names, database handle lifecycle, options. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

BG_API uint32_t bg_abi_version(void) { return BG_ABI_VERSION; }
BG_API const char *bg_version_string(void) { return BG_ENGINE_VERSION; }

BG_API const char *bg_status_name(int32_t s) {
  static const char *names[] = {"BG_OK", "BG_ERR_INVALID_ARGUMENT", "BG_ERR_FILE_NOT_FOUND", "BG_ERR_PERMISSION_DENIED",
                                "BG_ERR_IO", "BG_ERR_CORRUPT_GZIP", "BG_ERR_MALFORMED_FASTQ", "BG_ERR_PAIR_MISMATCH",
                                "BG_ERR_EMPTY_INPUT", "BG_ERR_BAD_DATABASE", "BG_ERR_BAD_INDEX", "BG_ERR_HOST_OOM",
                                "BG_ERR_DEVICE_OOM", "BG_ERR_DEVICE_UNAVAILABLE", "BG_ERR_CANCELLED", "BG_ERR_INTERNAL"};
  return s >= 0 && s < (int32_t)(sizeof names / sizeof names[0]) ? names[s] : "BG_UNKNOWN";
}

BG_API int32_t bg_cuda_compiled(void) {
#ifdef BG_WITH_CUDA
  return 1;
#else
  return 0;
#endif
}

BG_API int32_t bg_cuda_device_count(void) {
#ifdef BG_WITH_CUDA
  return bg_cuda_devices();
#else
  return 0;
#endif
}

BG_API bg_db_t *bg_db_new(void) { return calloc(1, sizeof(bg_db_t)); }

BG_API void bg_db_free(bg_db_t *db) {
  if (!db) return;
  for (int i = 0; i < db->n_owned; i++) free(db->owned[i]);
  if (db->map) munmap(db->map, db->map_len);
  free(db->warnings_json);
  free(db->info);
  free(db);
}

BG_API const char *bg_db_errmsg(const bg_db_t *db) { return db ? db->err : "no database handle"; }

BG_API void bg_run_options_init(bg_run_options_t *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->size = sizeof *o;
  o->backend = BG_BACKEND_AUTO;
  o->threads = 0;
  o->device_id = 0;
  o->min_identity = 90.0;
  o->min_coverage = 60.0;
  o->min_depth = 3.0;
  o->min_allele_freq = 0.05;
  o->min_alt_reads = 2;
  o->min_point_identity = 95.0;
  o->batch_pairs = 4096; /* ~1.2 MB of bases: few fresh pages to fault in, still in cache when screened */
}

BG_API bg_status_t bg_run_options_check(const bg_run_options_t *o, char *msg, size_t n) {
  if (!o) return bg_fail(msg, n, BG_ERR_INVALID_ARGUMENT, "options: NULL pointer");
  if (o->size != sizeof *o)
    return bg_fail(msg, n, BG_ERR_INVALID_ARGUMENT, "options.size: expected %zu, found %u (header and library differ)", sizeof *o, o->size);
  if (o->backend < BG_BACKEND_AUTO || o->backend > BG_BACKEND_CUDA)
    return bg_fail(msg, n, BG_ERR_INVALID_ARGUMENT, "options.backend: expected 0 (auto), 1 (cpu) or 2 (cuda), found %d", o->backend);
  if (o->threads < 0 || o->threads > 1024)
    return bg_fail(msg, n, BG_ERR_INVALID_ARGUMENT, "options.threads: expected 0 (all cores) to 1024, found %d", o->threads);
  if (o->device_id < 0) return bg_fail(msg, n, BG_ERR_INVALID_ARGUMENT, "options.device_id: expected >= 0, found %d", o->device_id);
  if (!(o->min_identity >= 0 && o->min_identity <= 100))
    return bg_fail(msg, n, BG_ERR_INVALID_ARGUMENT, "options.min_identity: expected a percentage 0-100, found %g", o->min_identity);
  if (!(o->min_coverage >= 0 && o->min_coverage <= 100))
    return bg_fail(msg, n, BG_ERR_INVALID_ARGUMENT, "options.min_coverage: expected a percentage 0-100, found %g", o->min_coverage);
  if (!(o->min_depth >= 0 && isfinite(o->min_depth)))
    return bg_fail(msg, n, BG_ERR_INVALID_ARGUMENT, "options.min_depth: expected >= 0, found %g", o->min_depth);
  if (!(o->min_allele_freq >= 0 && o->min_allele_freq <= 1))
    return bg_fail(msg, n, BG_ERR_INVALID_ARGUMENT, "options.min_allele_freq: expected 0-1, found %g", o->min_allele_freq);
  if (o->min_alt_reads < 0) return bg_fail(msg, n, BG_ERR_INVALID_ARGUMENT, "options.min_alt_reads: expected >= 0, found %d", o->min_alt_reads);
  if (!(o->min_point_identity >= 0 && o->min_point_identity <= 100))
    return bg_fail(msg, n, BG_ERR_INVALID_ARGUMENT, "options.min_point_identity: expected a percentage 0-100, found %g", o->min_point_identity);
  if (!memchr(o->species, 0, sizeof o->species))
    return bg_fail(msg, n, BG_ERR_INVALID_ARGUMENT, "options.species: not NUL-terminated within %d bytes", BG_SPECIES_LIST_MAX);
  if (o->batch_pairs < 64 || o->batch_pairs > (1 << 22))
    return bg_fail(msg, n, BG_ERR_INVALID_ARGUMENT, "options.batch_pairs: expected 64 to 4194304, found %d", o->batch_pairs);
  return BG_OK;
}
