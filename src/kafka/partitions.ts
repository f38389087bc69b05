/**
 * Pause bookkeeping of the job consumer, per topic-partition: which partitions run a job (`busy`), which
 * were held back because every worker was busy (`waiting`), and which wait for a retry's due time (a timer
 * resumes them). Holding a record back means seeking to it and pausing its partition, so it is fetched again
 * on resume and never lost or skipped.
 *
 * @module
 */

import type { Logger } from "../log.ts";

/** Consumer operations the bookkeeping drives (KafkaJS `pause`, `resume`, `seek`). */
export interface PartitionOps {
  pause(topic: string, partition: number): void;
  resume(topic: string, partition: number): void;
  seek(topic: string, partition: number, offset: string): void;
  now: () => number;
  log: Logger;
}

const keyOf = (topic: string, partition: number) => `${topic}:${partition}`;

function splitKey(key: string): [string, number] {
  const i = key.lastIndexOf(":");
  return [key.slice(0, i), Number(key.slice(i + 1))];
}

/** See the module documentation. */
export class Partitions {
  readonly #ops: PartitionOps;
  readonly #busy = new Set<string>();
  readonly #waiting = new Map<string, [string, number]>();
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Whether a partition is assigned to this member (from the last {@link retain}). */
  #keep: (key: string) => boolean = () => true;

  constructor(ops: PartitionOps) {
    this.#ops = ops;
  }

  #try(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#ops.log.warn(`Cannot ${what}`, { error: err });
    }
  }

  /** True while the partition `key` (`topic:partition`) runs a job. */
  isBusy(key: string): boolean {
    return this.#busy.has(key);
  }

  /** Partitions waiting for a retry's due time. */
  get timed(): number {
    return this.#timers.size;
  }

  /** Marks the partition busy and pauses it (its job starts). */
  take(topic: string, partition: number): void {
    this.#busy.add(keyOf(topic, partition));
    this.#try("pause partition", () => this.#ops.pause(topic, partition));
  }

  /** The partition's job ended: resume it unless `keepPaused` (or a timer will). */
  release(topic: string, partition: number, keepPaused: boolean): void {
    const key = keyOf(topic, partition);
    this.#busy.delete(key);
    if (!keepPaused && !this.#timers.has(key)) {
      this.#try("resume partition", () => this.#ops.resume(topic, partition));
    }
  }

  /**
   * Seeks back to `offset` and pauses. `waiting`: resumed by {@link wakeWaiting}; `busy`: resumed when its
   * job ends; other reasons: resumed by the caller or never (stopping).
   */
  holdBack(
    topic: string,
    partition: number,
    offset: string,
    reason: "waiting" | "busy" | "stopping" | "redeliver",
  ): void {
    this.#try("seek", () => this.#ops.seek(topic, partition, offset));
    this.#try("pause partition", () => this.#ops.pause(topic, partition));
    if (reason === "waiting") this.#waiting.set(keyOf(topic, partition), [topic, partition]);
  }

  /** Seeks back to `offset`, pauses, and resumes at `dueAt` (ms since the epoch). */
  holdUntil(topic: string, partition: number, offset: string, dueAt: number): void {
    const key = keyOf(topic, partition);
    this.holdBack(topic, partition, offset, "stopping");
    const old = this.#timers.get(key);
    if (old !== undefined) clearTimeout(old);
    const delay = Math.max(0, dueAt - this.#ops.now());
    this.#ops.log.debug("Partition paused until due", { topic, partition, offset, due_in_ms: delay });
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        if (!this.#busy.has(key)) this.#try("resume partition", () => this.#ops.resume(topic, partition));
      }, delay),
    );
  }

  /** Resumes every partition held back for lack of a worker. */
  wakeWaiting(): void {
    for (const [key, [topic, partition]] of this.#waiting) {
      this.#waiting.delete(key);
      if (!this.#busy.has(key) && !this.#timers.has(key)) {
        this.#try("resume partition", () => this.#ops.resume(topic, partition));
      }
    }
  }

  /**
   * After a rebalance, forgets the holds of partitions no longer assigned (`keep(key)` false): their due-time
   * timers and waits end, and they are resumed in the consumer's pause state so that they are read again if
   * they come back. Busy ones stay busy until their job ends ({@link release}).
   */
  retain(keep: (key: string) => boolean): void {
    this.#keep = keep;
    const gone = new Set<string>();
    for (const [key, t] of this.#timers) {
      if (keep(key)) continue;
      clearTimeout(t);
      this.#timers.delete(key);
      gone.add(key);
    }
    for (const key of this.#waiting.keys()) {
      if (keep(key)) continue;
      this.#waiting.delete(key);
      gone.add(key);
    }
    for (const key of gone) {
      if (this.#busy.has(key)) continue;
      const [topic, partition] = splitKey(key);
      this.#try("resume partition", () => this.#ops.resume(topic, partition));
    }
  }

  /** After a rebalance: pause again what must stay paused (of the partitions still assigned). */
  reapply(): void {
    for (const key of [...this.#busy, ...this.#timers.keys()]) {
      if (!this.#keep(key)) continue;
      const [topic, partition] = splitKey(key);
      this.#try("pause partition", () => this.#ops.pause(topic, partition));
    }
  }

  /** Cancels every due-time timer (shutdown). */
  clearTimers(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#waiting.clear();
  }
}
