/* test_quantify.c — the EM that shares multi-mapping fragments among alleles (bg_em), on classes whose
 * maximum-likelihood answer is known in closed form. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "run.h"
#include "check.h"

#define NT 5
static bg_target_t targets[NT];
static const uint32_t A[] = {0}, B[] = {1}, AB[] = {0, 1}, C[] = {3};

static void lengths(uint32_t a, uint32_t b) {
  memset(targets, 0, sizeof targets);
  for (int t = 0; t < NT; t++) targets[t].len = 1000;
  targets[0].len = a; targets[1].len = b;
}

static bg_status_t run(const bg_em_class_t *cls, size_t n, double *theta) {
  char err[128] = "";
  for (int t = 0; t < NT; t++) theta[t] = -1; /* every entry must be written */
  return bg_em(targets, NT, cls, n, theta, NULL, err, sizeof err);
}

/* 20 fragments only on A, 10 only on B, 30 on both, equal lengths: the shared ones split 2:1, so A holds
 * 40 of 60 and B 20. Every count matters (a class counted once, not count times, gives 1/2 each). */
static void test_shared_fragments_split_by_unique_evidence(void) {
  lengths(1000, 1000);
  bg_em_class_t cls[] = {{A, 1, 20}, {B, 1, 10}, {AB, 2, 30}};
  double th[NT];
  CHECK(run(cls, 3, th) == BG_OK, "status");
  CHECK(fabs(th[0] * 60 - 40) < 1e-6 && fabs(th[1] * 60 - 20) < 1e-6, "A %.9f B %.9f fragments, want 40 and 20", th[0] * 60, th[1] * 60);
  CHECK(th[2] == 0 && th[3] == 0 && th[4] == 0, "targets in no class stay at zero");
}

/* The same classes with A twice as long as B: a shared fragment is twice as likely to come from B per
 * unit of abundance, so with r the shared fraction A takes, a = 20 + 30r, b = 40 - 30r and
 * r = (a/1000) / (a/1000 + b/500) give 3r^2 - 7r + 2 = 0, r = 1/3: A and B hold 30 each. */
static void test_lengths_weigh_the_split(void) {
  lengths(1000, 500);
  bg_em_class_t cls[] = {{A, 1, 20}, {B, 1, 10}, {AB, 2, 30}};
  double th[NT];
  CHECK(run(cls, 3, th) == BG_OK, "status");
  CHECK(fabs(th[0] * 60 - 30) < 1e-6 && fabs(th[1] * 60 - 30) < 1e-6, "A %.9f B %.9f fragments, want 30 and 30", th[0] * 60, th[1] * 60);
}

/* A near relative with no fragment of its own (B) is driven toward zero: the reads are A's. */
static void test_relative_without_own_evidence_vanishes(void) {
  lengths(1000, 1000);
  bg_em_class_t cls[] = {{A, 1, 30}, {AB, 2, 70}};
  double th[NT];
  CHECK(run(cls, 2, th) == BG_OK, "status");
  CHECK(th[0] * 100 > 99 && th[1] * 100 < 1, "A %.4f B %.4f fragments, want ~100 and ~0", th[0] * 100, th[1] * 100);
  CHECK(fabs(th[0] + th[1] - 1) < 1e-12, "fractions sum to one: %.15f", th[0] + th[1]);
}

/* Independent classes keep their counts; the order of the classes does not change the figures. */
static void test_independent_classes_and_order(void) {
  lengths(1000, 1000);
  bg_em_class_t one[] = {{C, 1, 5}, {A, 1, 20}, {B, 1, 10}, {AB, 2, 30}};
  bg_em_class_t two[] = {{AB, 2, 30}, {B, 1, 10}, {A, 1, 20}, {C, 1, 5}};
  double x[NT], y[NT];
  CHECK(run(one, 4, x) == BG_OK && run(two, 4, y) == BG_OK, "status");
  CHECK(fabs(x[3] * 65 - 5) < 1e-9, "C keeps its 5 fragments: %.9f", x[3] * 65);
  for (int t = 0; t < NT; t++) CHECK(fabs(x[t] - y[t]) < 1e-12, "target %d: %.15f vs %.15f", t, x[t], y[t]);
}

static void test_no_classes_and_cancel(void) {
  lengths(1000, 1000);
  double th[NT];
  CHECK(run(NULL, 0, th) == BG_OK, "no classes");
  int zero = 1;
  for (int t = 0; t < NT; t++) zero &= th[t] == 0;
  CHECK(zero, "no classes: every theta zero");
  bg_em_class_t cls[] = {{A, 1, 20}, {AB, 2, 30}};
  _Atomic int cancel = 1;
  char err[128] = "";
  CHECK(bg_em(targets, NT, cls, 2, th, &cancel, err, sizeof err) == BG_ERR_CANCELLED, "cancelled");
  CHECK(strstr(err, "cancelled") != NULL, "message: %s", err);
}

int main(void) {
  test_shared_fragments_split_by_unique_evidence();
  test_lengths_weigh_the_split();
  test_relative_without_own_evidence_vanishes();
  test_independent_classes_and_order();
  test_no_classes_and_cancel();
  printf("quantify: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
