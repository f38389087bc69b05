/* header_test.c — biogpu.h is self-contained plain C99 (and C++): compiled with -pedantic -Werror.
 * Also built and run as an ordinary test: the version calls and the status names. */
#include "biogpu.h"

#include <stdio.h>
#include <string.h>

int main(void) {
  bg_run_options_t o;
  bg_progress_t p;
  int failed = 0;
  bg_run_options_init(&o);
  p.size = (uint32_t)sizeof p;
  if (o.size != sizeof o) failed++;
  if (bg_abi_version() != BG_ABI_VERSION) failed++;
  if (strcmp(bg_status_name(BG_ERR_CORRUPT_GZIP), "BG_ERR_CORRUPT_GZIP") != 0) failed++;
  if (strcmp(bg_status_name(99), "BG_UNKNOWN") != 0) failed++;
  if (strcmp(bg_version_string(), BG_ENGINE_VERSION) != 0) failed++;
  bg_db_free(NULL);
  bg_run_free(NULL);
  printf("header_test: %d passed, %d failed\n", 5 - failed, failed);
  return failed != 0;
}
