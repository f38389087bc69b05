/**
 * Retry delays. A strategy is data (`{ kind, baseMs, maxMs, jitter }`); the kinds are a table of pure
 * functions, so a new schedule is a new row, not a new branch. Randomness and time are injected so tests
 * can pin them.
 *
 * @example
 * ```ts
 * const s: BackoffStrategy = { kind: "exponential", baseMs: 60_000, maxMs: 3_600_000, jitter: 0.2 };
 * retryDelay(s, 0); // ≈ 60 s ± 20 %
 * retryDelay(s, 3); // ≈ 480 s ± 20 %
 * ```
 *
 * @module
 */

/** Raw delay (before cap and jitter) of retry number `attempt` (0 = first retry). */
export const BACKOFF_KINDS = {
  exponential: (attempt: number, baseMs: number) => baseMs * 2 ** attempt,
  linear: (attempt: number, baseMs: number) => baseMs * (attempt + 1),
  fixed: (_attempt: number, baseMs: number) => baseMs,
} as const satisfies Record<string, (attempt: number, baseMs: number) => number>;

/** A retry schedule. `jitter` is the fraction (0..1) by which a delay may vary either way. */
export interface BackoffStrategy {
  kind: keyof typeof BACKOFF_KINDS;
  baseMs: number;
  maxMs: number;
  jitter: number;
}

/**
 * Delay before retry number `attempt` (0-based): `min(maxMs, raw) × (1 ± jitter)`, never above `maxMs`.
 * `random` returns a number in [0, 1); 0.5 gives the delay without jitter.
 */
export function retryDelay(
  strategy: BackoffStrategy,
  attempt: number,
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new RangeError(`Expected a retry attempt >= 0, found ${attempt}`);
  }
  const raw = Math.min(strategy.maxMs, BACKOFF_KINDS[strategy.kind](attempt, strategy.baseMs));
  const jitter = Math.min(1, Math.max(0, strategy.jitter));
  const factor = 1 - jitter + 2 * jitter * random();
  return Math.max(0, Math.min(strategy.maxMs, Math.round(raw * factor)));
}

/** What to do after a failed run. */
export type RetryDecision =
  | { action: "retry"; attempt: number; delayMs: number; dueAt: number }
  | { action: "dead_letter"; attempts: number };

/**
 * Decides after a failed run. `failures` counts the failed runs of this job including this one;
 * while `failures <= maxRetries` the job is retried (retry number `failures`, delay index `failures - 1`),
 * due at `now + delay`.
 */
export function decideRetry(o: {
  failures: number;
  maxRetries: number;
  strategy: BackoffStrategy;
  now: number;
  random?: () => number;
}): RetryDecision {
  if (o.failures > o.maxRetries) return { action: "dead_letter", attempts: o.failures };
  const delayMs = retryDelay(o.strategy, o.failures - 1, o.random);
  return { action: "retry", attempt: o.failures, delayMs, dueAt: o.now + delayMs };
}
