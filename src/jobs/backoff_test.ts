import assert from "node:assert/strict";
import { type BackoffStrategy, decideRetry, retryDelay } from "./backoff.ts";

const strategy: BackoffStrategy = { kind: "exponential", baseMs: 60_000, maxMs: 600_000, jitter: 0.2 };
const middle = () => 0.5;

Deno.test("retry schedule doubles the delay and caps it at maxMs", () => {
  const delays = [0, 1, 2, 3, 4, 5].map((a) => retryDelay(strategy, a, middle));
  assert.deepEqual(delays, [60_000, 120_000, 240_000, 480_000, 600_000, 600_000]);
});

Deno.test("jitter stays within ±jitter and never passes the cap", () => {
  assert.equal(retryDelay(strategy, 0, () => 0), 48_000);
  assert.equal(retryDelay(strategy, 0, () => 0.999999), 72_000);
  assert.equal(retryDelay(strategy, 4, () => 0.999999), 600_000);
  assert.equal(retryDelay(strategy, 4, () => 0), 480_000);
});

Deno.test("strategies are data: linear and fixed schedules", () => {
  const linear = { ...strategy, kind: "linear" as const, jitter: 0 };
  assert.deepEqual([0, 1, 2].map((a) => retryDelay(linear, a)), [60_000, 120_000, 180_000]);
  const fixed = { ...strategy, kind: "fixed" as const, jitter: 0 };
  assert.deepEqual([0, 5].map((a) => retryDelay(fixed, a)), [60_000, 60_000]);
  assert.throws(() => retryDelay(strategy, -1), RangeError);
});

Deno.test("decideRetry retries up to maxRetries with due times from the injected clock, then dead-letters", () => {
  const now = Date.UTC(2026, 0, 1);
  const plan = [1, 2, 3, 4].map((failures) =>
    decideRetry({ failures, maxRetries: 3, strategy, now, random: middle })
  );
  assert.deepEqual(plan, [
    { action: "retry", attempt: 1, delayMs: 60_000, dueAt: now + 60_000 },
    { action: "retry", attempt: 2, delayMs: 120_000, dueAt: now + 120_000 },
    { action: "retry", attempt: 3, delayMs: 240_000, dueAt: now + 240_000 },
    { action: "dead_letter", attempts: 4 },
  ]);
  assert.deepEqual(decideRetry({ failures: 1, maxRetries: 0, strategy, now }), {
    action: "dead_letter",
    attempts: 1,
  });
});
