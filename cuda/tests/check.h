/* check.h — the C tests' assertion: counts passes and failures, prints a failed condition's place and
 * message, and goes on (each test binary prints "NAME: N passed, M failed" and exits 1 on a failure). */
#ifndef BG_TESTS_CHECK_H
#define BG_TESTS_CHECK_H
#include <stdio.h>

static int passed, failed;
#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (cond) passed++;                                    \
    else { failed++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } \
  } while (0)

#endif
