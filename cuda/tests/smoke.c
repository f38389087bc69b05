/* smoke.c — the intended use of libbiogpu in plain C: build (or load) a database, analyse a pair.
 * Usage: smoke RESFINDER_DIR POINTFINDER_DIR R1 R2 [INDEX_OUT]
 * With no arguments (as run by `make test`) it uses the Debian packages' files and skips when absent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "biogpu.h"

int main(int argc, char **argv) {
  const char *rf = argc > 1 ? argv[1] : "/usr/share/resfinder/db";
  const char *pf = argc > 2 ? argv[2] : "/usr/share/doc/resfinder/examples/db_pointfinder";
  const char *r1 = argc > 3 ? argv[3] : "/usr/share/doc/resfinder/examples/data/test_isolate_01_1.fq.gz";
  const char *r2 = argc > 4 ? argv[4] : "/usr/share/doc/resfinder/examples/data/test_isolate_01_2.fq.gz";
  if (bg_abi_version() != BG_ABI_VERSION) { fprintf(stderr, "ABI mismatch\n"); return 1; }
  if (argc == 1 && access(rf, R_OK) != 0) { printf("smoke: 0 passed, 0 failed, 1 skipped (no resfinder-db)\n"); return 0; }
  bg_db_t *db = bg_db_new();
  bg_status_t s = bg_db_build(db, rf, pf, "escherichia_coli");
  if (s != BG_OK) { fprintf(stderr, "db build: %s: %s\n", bg_status_name(s), bg_db_errmsg(db)); bg_db_free(db); return 1; }
  fprintf(stderr, "db: %s\n", bg_db_info_json(db));
  if (argc > 5) {
    s = bg_db_save(db, argv[5]);
    if (s != BG_OK) { fprintf(stderr, "db save: %s\n", bg_db_errmsg(db)); bg_db_free(db); return 1; }
    bg_db_free(db);
    db = bg_db_new();
    s = bg_db_load(db, argv[5]);
    if (s != BG_OK) { fprintf(stderr, "db load: %s\n", bg_db_errmsg(db)); bg_db_free(db); return 1; }
  }
  bg_run_options_t o;
  bg_run_options_init(&o);
  bg_run_t *run = bg_run_new(db);
  s = bg_run_analyze(run, &o, r1, r2);
  if (s != BG_OK) fprintf(stderr, "analyze: %s: %s\n", bg_status_name(s), bg_run_errmsg(run));
  else if (argc > 1) printf("%s\n", bg_run_result_json(run, NULL));
  else {
    /* the packaged example isolate 01 carries blaB-2 (ResFinder's own test answer) */
    int ok = strstr(bg_run_result_json(run, NULL), "\"blaB-2_1_AF189300\"") != NULL;
    printf("smoke: %d passed, %d failed\n", ok, !ok);
    if (!ok) s = BG_ERR_INTERNAL;
  }
  bg_run_free(run);
  bg_db_free(db);
  return s == BG_OK ? 0 : 1;
}
