/**
 * Job intake: consumes `new_jobs` and `new_jobs.retry` in one consumer group, at least once, with no
 * duplicate results.
 *
 * - `autoCommit` is off. A record's offset is committed only once its outcome is durable: results written
 *   and the `job_results` record acknowledged, or a retry / dead-letter record acknowledged.
 * - A partition is paused while its job runs, so the consumer keeps fetching (and heart-beating) for the
 *   others: a job of hours never triggers a rebalance. At most `workers` jobs run at once; a record that
 *   arrives while every worker is busy is sought back and its partition paused until a worker frees.
 * - A retry record not yet due is sought back and its partition paused; a timer resumes it at the due
 *   time. Nothing sleeps in memory holding a job: the record stays uncommitted in the topic, so a restart
 *   picks it up again.
 * - Invalid JSON or schema: dead-lettered with the validation message and committed.
 * - A redelivered job whose results are complete (marker beside results.json) is acknowledged without
 *   running again; its `job_results` record is produced only if it was not yet.
 * - A cancel request (`job_cancel:{id}`) stops the job before it runs, or while it runs (announced on
 *   `job_control`, and read every `cancelPollMs` in case the announcement was missed), unless its results are
 *   already complete
 *   or the request is older than the record (a resubmission of a cancelled job id). The flag is cleared once
 *   the job reaches a final state: completed, dead-lettered or cancelled.
 * - Rebalance: when a partition with a running job is assigned to another member, the job is aborted as
 *   interrupted (no result, retry or dead-letter record) and nothing of that partition is committed any more:
 *   its new owner reads the record again. Offsets are only committed for partitions assigned now.
 * - Shutdown waits `graceMs` for running jobs, aborts them, and waits at most `abortWaitMs` more; a job still
 *   running then (stuck where it cannot see the abort) is abandoned uncommitted, to be redelivered.
 *
 * @module
 */

import type { Consumer, EachMessagePayload, Kafka, KafkaMessage, Producer } from "kafkajs";
import { Partitions } from "./partitions.ts";
import type { Config } from "../config/mod.ts";
import type { Metrics } from "../metrics/mod.ts";
import type { ProgressBus } from "../progress/bus.ts";
import { type Logger, silentLogger } from "../log.ts";
import { type BackoffStrategy, decideRetry } from "../jobs/backoff.ts";
import type { Classified } from "../jobs/errors.ts";
import { parseJob } from "../jobs/schema.ts";
import type { Job } from "../jobs/schema.ts";
import {
  type CompletionRecord,
  type JobOutcome,
  type JobWorker,
  MARKER_FILE,
  readCompletion,
  writeJsonAtomic,
} from "../jobs/worker.ts";
import { ensureTopics } from "./client.ts";
import {
  deadLetterHeaders,
  decodeHeaders,
  dueTime,
  failureInfo,
  type Origin,
  retryHeaders,
} from "./headers.ts";

/** The part of the progress bus the consumer uses. */
export type ConsumerBus = Pick<
  ProgressBus,
  "publish" | "resetAttempt" | "registerJob" | "cancelRequestedAt" | "clearCancel"
>;

/** Settings of the consumer (a subset of {@link Config}). */
export type ConsumerSettings = Pick<
  Config,
  | "KAFKA_GROUP_ID"
  | "KAFKA_TOPIC_JOBS"
  | "KAFKA_TOPIC_RETRY"
  | "KAFKA_TOPIC_DLQ"
  | "KAFKA_TOPIC_RESULTS"
  | "KAFKA_TOPIC_PARTITIONS"
  | "KAFKA_SESSION_TIMEOUT_MS"
  | "KAFKA_HEARTBEAT_INTERVAL_MS"
  | "WORKERS"
  | "MAX_RETRIES"
  | "BASE_RETRY_DELAY"
  | "MAX_RETRY_DELAY"
  | "RETRY_JITTER"
  | "WORKER_ID"
>;

/** Options of {@link JobConsumer}. */
export interface JobConsumerOptions {
  kafka: Kafka;
  settings: ConsumerSettings;
  worker: Pick<JobWorker, "run">;
  bus: ConsumerBus;
  metrics?: Metrics;
  log?: Logger;
  /** Clock (ms since the epoch); injectable for tests. */
  now?: () => number;
  /** Random source of the retry jitter; injectable for tests. */
  random?: () => number;
  /** At shutdown, how long aborted jobs may take to end before they are abandoned (default 10000 ms). */
  abortWaitMs?: number;
  /**
   * How often a running job's cancel flag is read (default 5000 ms): a cancel announced on `job_control` while
   * this process's Redis subscription was down still reaches the job.
   */
  cancelPollMs?: number;
}

interface Active {
  jobId: string;
  key: string;
  controller: AbortController;
  done: Promise<void>;
  /**
   * Why the job may no longer record an outcome or commit: its partition went to another member, or
   * shutdown gave up waiting for it. Its record is then redelivered (to the partition's owner).
   */
  revoked: "reassigned" | "abandoned" | null;
}

/** The job's partition is no longer this consumer's, or the consumer gave up on it: nothing is recorded. */
class RevokedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RevokedError";
  }
}

/** How long to wait before re-reading a record whose outcome could not be made durable (broker down). */
const REDELIVER_AFTER_MS = 2000;

/**
 * A cancel request older than the job's record by more than this is stale (it was for an earlier submission
 * of the same job id); the margin allows for clock differences between the producer and the canceller.
 */
const CANCEL_CLOCK_SKEW_MS = 5000;

/** Consumes jobs and runs them on the worker; see the module documentation. */
export class JobConsumer {
  readonly #o: JobConsumerOptions;
  readonly #s: ConsumerSettings;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #consumer: Consumer;
  readonly #producer: Producer;
  readonly #strategy: BackoffStrategy;
  readonly #active = new Map<string, Active>();
  readonly #parts: Partitions;
  #connected = false;
  #crashed: string | null = null;
  #stopping = false;
  #stopped: Promise<void> | null = null;
  #listeners: (() => void)[] = [];
  /** Partitions assigned to this member (`topic:partition`) since the last group join; null before it. */
  #assigned: Set<string> | null = null;

  constructor(o: JobConsumerOptions) {
    this.#o = o;
    this.#s = o.settings;
    this.#log = o.log ?? silentLogger;
    this.#now = o.now ?? Date.now;
    this.#strategy = {
      kind: "exponential",
      baseMs: o.settings.BASE_RETRY_DELAY * 1000,
      maxMs: o.settings.MAX_RETRY_DELAY * 1000,
      jitter: o.settings.RETRY_JITTER,
    };
    this.#consumer = o.kafka.consumer({
      groupId: o.settings.KAFKA_GROUP_ID,
      sessionTimeout: o.settings.KAFKA_SESSION_TIMEOUT_MS,
      heartbeatInterval: o.settings.KAFKA_HEARTBEAT_INTERVAL_MS,
      rebalanceTimeout: Math.max(60000, o.settings.KAFKA_SESSION_TIMEOUT_MS * 2),
      maxWaitTimeInMs: 50, // a record produced while another partition is paused is picked up within ~50 ms
      // One record at a time per partition is all a job worker can take.
      maxBytesPerPartition: 1024 * 1024,
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 10000 },
    });
    this.#producer = o.kafka.producer({ allowAutoTopicCreation: false, maxInFlightRequests: 5 });
    this.#parts = new Partitions({
      pause: (topic, partition) => this.#consumer.pause([{ topic, partitions: [partition] }]),
      resume: (topic, partition) => this.#consumer.resume([{ topic, partitions: [partition] }]),
      seek: (topic, partition, offset) => this.#consumer.seek({ topic, partition, offset }),
      now: this.#now,
      log: this.#log,
    });
  }

  /** Jobs running now. */
  get running(): number {
    return this.#active.size;
  }

  /** Readiness for /ready: connected, not crashed, not stopping. */
  ready(): { ok: boolean; detail: string } {
    if (this.#crashed) return { ok: false, detail: `consumer crashed: ${this.#crashed}` };
    if (this.#stopping) return { ok: false, detail: "stopping" };
    if (!this.#connected) return { ok: false, detail: "not connected" };
    return { ok: true, detail: `${this.#active.size}/${this.#s.WORKERS} workers busy` };
  }

  /** Creates missing topics, connects, subscribes to the job and retry topics and starts consuming. */
  async start(): Promise<void> {
    const s = this.#s;
    const admin = this.#o.kafka.admin();
    await admin.connect();
    try {
      const created = await ensureTopics(
        admin,
        [s.KAFKA_TOPIC_JOBS, s.KAFKA_TOPIC_RETRY, s.KAFKA_TOPIC_DLQ, s.KAFKA_TOPIC_RESULTS],
        s.KAFKA_TOPIC_PARTITIONS,
      );
      if (created.length) this.#log.info("Kafka topics created", { topics: created });
    } finally {
      await admin.disconnect();
    }
    await this.#producer.connect();
    const ev = this.#consumer.events;
    this.#listeners.push(
      this.#consumer.on(ev.CONNECT, () => {
        this.#connected = true;
      }),
      this.#consumer.on(ev.DISCONNECT, () => {
        this.#connected = false;
      }),
      this.#consumer.on(ev.CRASH, (e) => {
        const err = e.payload.error;
        this.#crashed = err?.message ?? "unknown error";
        this.#log.error("Kafka consumer crashed", { error: err, restart: e.payload.restart });
        if (e.payload.restart) this.#crashed = null;
      }),
      this.#consumer.on(ev.GROUP_JOIN, (e) => {
        this.#connected = true;
        this.#log.info("Joined consumer group", {
          group: e.payload.groupId,
          assignment: e.payload.memberAssignment,
        });
        this.#onAssignment(e.payload.memberAssignment);
      }),
      this.#consumer.on(ev.END_BATCH_PROCESS, (e) => {
        const lag = Number(e.payload.offsetLag);
        if (Number.isFinite(lag)) {
          this.#o.metrics?.consumerLag.set(
            { topic: e.payload.topic, partition: String(e.payload.partition) },
            lag,
          );
        }
      }),
    );
    await this.#consumer.connect();
    this.#connected = true;
    await this.#consumer.subscribe({
      topics: [s.KAFKA_TOPIC_JOBS, s.KAFKA_TOPIC_RETRY],
      fromBeginning: true,
    });
    await this.#consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 1,
      eachMessage: (p) => this.#onMessage(p),
    });
    this.#log.info("Consuming jobs", {
      topics: [s.KAFKA_TOPIC_JOBS, s.KAFKA_TOPIC_RETRY],
      group: s.KAFKA_GROUP_ID,
      workers: s.WORKERS,
    });
  }

  /** Cancels the running job `jobId` (a user's request). Returns true when it was running here. */
  cancel(jobId: string): boolean {
    let found = false;
    for (const a of this.#active.values()) {
      if (a.jobId === jobId) {
        a.controller.abort("user");
        found = true;
      }
    }
    return found;
  }

  /**
   * Stops: no more records are taken; running jobs get `graceMs` to finish (and commit), then are cancelled
   * and left uncommitted for redelivery; a job that has not ended `abortWaitMs` after its abort is abandoned
   * (uncommitted, it records nothing). The producer is flushed and both clients disconnect. Idempotent;
   * every step runs even if one fails.
   */
  stop(o: { graceMs?: number } = {}): Promise<void> {
    this.#stopped ??= this.#stop(o.graceMs ?? 0);
    return this.#stopped;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (err) {
        this.#log.warn(`Shutdown step failed: ${what}`, { error: err });
      }
    };
    await step("pause consumption", () => {
      this.#parts.clearTimers();
      if (this.#connected) {
        this.#consumer.pause([{ topic: this.#s.KAFKA_TOPIC_JOBS }, { topic: this.#s.KAFKA_TOPIC_RETRY }]);
      }
    });
    if (this.#active.size > 0) {
      this.#log.info("Waiting for running jobs", {
        jobs: [...this.#active.values()].map((a) => a.jobId),
        graceMs,
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await step("wait for running jobs", () =>
        Promise.race([
          Promise.allSettled([...this.#active.values()].map((a) => a.done)),
          new Promise((r) => timer = setTimeout(r, graceMs)),
        ]));
      clearTimeout(timer);
      for (const a of this.#active.values()) a.controller.abort("shutdown");
      const abortWaitMs = this.#o.abortWaitMs ?? 10_000;
      await step("wait for cancelled jobs", () =>
        Promise.race([
          Promise.allSettled([...this.#active.values()].map((a) => a.done)),
          new Promise((r) => timer = setTimeout(r, abortWaitMs)),
        ]));
      clearTimeout(timer);
      const stuck = [...this.#active.values()];
      if (stuck.length > 0) {
        // Stuck where the abort cannot reach (native code): stop without it. Its offset is not committed, so
        // the record is redelivered; whatever it does later records nothing.
        for (const a of stuck) a.revoked = "abandoned";
        this.#active.clear();
        this.#log.warn(
          "Jobs did not stop after the abort; shutting down without them (they will be redelivered)",
          {
            jobs: stuck.map((a) => a.jobId || a.key),
            abortWaitMs,
          },
        );
      }
    }
    await step("stop consumer", () => this.#consumer.stop());
    await step("disconnect consumer", () => this.#consumer.disconnect());
    await step("disconnect producer", () => this.#producer.disconnect());
    for (const off of this.#listeners) off();
    this.#listeners = [];
    this.#connected = false;
  }

  /**
   * A new assignment (after any rebalance): jobs whose partition went elsewhere are aborted and will record
   * nothing; their new owner reads the record again. Partitions kept stay paused as they were.
   */
  #onAssignment(assignment: Record<string, number[]>): void {
    const assigned = new Set<string>();
    for (const [topic, partitions] of Object.entries(assignment ?? {})) {
      for (const p of partitions) assigned.add(`${topic}:${p}`);
    }
    this.#assigned = assigned;
    this.#parts.retain((key) => assigned.has(key));
    for (const a of this.#active.values()) {
      if (assigned.has(a.key) || a.revoked) continue;
      a.revoked = "reassigned";
      this.#log.warn(
        "Partition reassigned while its job runs; the job is stopped and left to the new owner",
        {
          job_id: a.jobId || undefined,
          partition: a.key,
        },
      );
      a.controller.abort("shutdown");
    }
    this.#parts.reapply();
  }

  #isAssigned(key: string): boolean {
    return this.#assigned === null || this.#assigned.has(key);
  }

  /** Called by KafkaJS for each record; returns at once (the job runs in the background). */
  #onMessage({ topic, partition, message }: EachMessagePayload): Promise<void> {
    const key = `${topic}:${partition}`;
    const offset = message.offset;
    if (!this.#isAssigned(key)) {
      // A record fetched before a rebalance took the partition away: its new owner reads it.
      return Promise.resolve();
    }
    if (this.#stopping) {
      this.#parts.holdBack(topic, partition, offset, "stopping");
      return Promise.resolve();
    }
    if (this.#parts.isBusy(key) || this.#active.size >= this.#s.WORKERS) {
      this.#parts.holdBack(topic, partition, offset, this.#parts.isBusy(key) ? "busy" : "waiting");
      return Promise.resolve();
    }
    if (topic === this.#s.KAFKA_TOPIC_RETRY) {
      const due = dueTime(decodeHeaders(message.headers));
      if (due > this.#now()) {
        this.#parts.holdUntil(topic, partition, offset, due);
        return Promise.resolve();
      }
    }
    this.#parts.take(topic, partition);
    const controller = new AbortController();
    const active: Active = { jobId: "", key, controller, done: Promise.resolve(), revoked: null };
    this.#active.set(key, active);
    active.done = this.#process(topic, partition, message, active)
      .then(() => "ended", (err) => {
        if (active.revoked) {
          // Not this consumer's to record: the partition's owner reads the record again.
          this.#log.info("Job stopped without recording an outcome", {
            topic,
            partition,
            offset,
            reason: active.revoked,
          });
          this.#o.metrics?.jobsTotal.inc({ outcome: "interrupted" });
          return "revoked";
        }
        // The outcome could not be made durable: read the record again a little later.
        this.#log.error("Job outcome not recorded; the record will be read again", {
          topic,
          partition,
          offset,
          error: err,
        });
        this.#parts.holdBack(topic, partition, offset, "redeliver");
        if (!this.#stopping) {
          this.#parts.holdUntil(topic, partition, offset, this.#now() + REDELIVER_AFTER_MS);
        }
        return "held";
      })
      .then((ended) => {
        if (this.#active.get(key) === active) this.#active.delete(key);
        if (active.revoked === "abandoned") return;
        // A partition that went elsewhere is resumed here so that it is consumed if it comes back.
        this.#parts.release(topic, partition, ended === "held" || (this.#stopping && ended !== "revoked"));
        if (!this.#stopping) this.#parts.wakeWaiting();
      })
      .catch((err) => this.#log.warn("Cannot release the job's partition", { topic, partition, error: err }));
    return Promise.resolve();
  }

  /** Commits past `offset`, unless the job was revoked or the partition is no longer assigned here. */
  async #commit(topic: string, partition: number, offset: string, active: Active): Promise<void> {
    this.#checkOwned(active);
    const next = (BigInt(offset) + 1n).toString();
    await this.#consumer.commitOffsets([{ topic, partition, offset: next }]);
  }

  /** Throws {@link RevokedError} when the job may no longer record anything. */
  #checkOwned(active: Active): void {
    if (!active.revoked && !this.#isAssigned(active.key)) active.revoked = "reassigned";
    if (active.revoked) {
      throw new RevokedError(`Job not recorded: its partition ${active.key} was ${active.revoked}`);
    }
  }

  /**
   * Whether a pending cancel request applies to this run of the job. A request older than the record (by more
   * than the clock margin) belongs to an earlier submission of the same job id, and a job whose results are
   * complete is acknowledged, not cancelled; in both cases the stale flag is removed.
   */
  async #cancelApplies(job: Job, message: KafkaMessage, log: Logger): Promise<boolean> {
    const requestedAt = await this.#o.bus.cancelRequestedAt(job.job_id);
    if (requestedAt === null) return false;
    const recordAt = Number(message.timestamp);
    let stale: string | null = null;
    if (Number.isFinite(recordAt) && requestedAt < recordAt - CANCEL_CLOCK_SKEW_MS) {
      stale = "the request is older than the job's record";
    } else if (await readCompletion(job)) {
      stale = "the job's results are already complete";
    }
    if (stale === null) return true;
    log.info(`Cancel request ignored: ${stale}`, {
      cancel_requested_at: new Date(requestedAt).toISOString(),
    });
    await this.#clearCancel(job, log);
    return false;
  }

  /** Removes the job's cancel flag (a final state was reached); a Redis failure is only logged. */
  async #clearCancel(job: Job, log: Logger): Promise<void> {
    try {
      await this.#o.bus.clearCancel(job.job_id);
    } catch (err) {
      log.warn("Cannot clear the job's cancel flag", { error: err });
    }
  }

  async #process(topic: string, partition: number, message: KafkaMessage, active: Active): Promise<void> {
    const s = this.#s;
    const offset = message.offset;
    const headers = decodeHeaders(message.headers);
    const info = failureInfo(topic, partition, offset, headers, s.KAFKA_TOPIC_RETRY);
    const text = message.value ? new TextDecoder().decode(message.value) : null;
    const parsed = parseJob(text);
    if (!parsed.ok) {
      this.#log.warn("Invalid job record dead-lettered", { topic, partition, offset, error: parsed.error });
      const now = this.#now();
      await this.#send(s.KAFKA_TOPIC_DLQ, {
        key: message.key,
        value: message.value,
        headers: deadLetterHeaders({
          attempts: info.failures + 1,
          errorClass: "permanent",
          code: "INVALID_JOB",
          message: parsed.error,
          firstFailureAt: info.firstFailureAt ?? new Date(now).toISOString(),
          lastFailureAt: new Date(now).toISOString(),
          origin: info.origin,
          workerId: s.WORKER_ID,
          now,
        }),
      });
      this.#o.metrics?.deadLettersTotal.inc({ error_class: "permanent" });
      this.#o.metrics?.jobsTotal.inc({ outcome: "invalid" });
      await this.#commit(topic, partition, offset, active);
      return;
    }
    const job = parsed.job;
    active.jobId = job.job_id;
    const log = this.#log.child({ job_id: job.job_id, sample_id: job.sample_id, topic, partition, offset });
    const bus = this.#o.bus;
    try {
      await bus.registerJob(job.job_id, { owner: job.owner, tenant: job.tenant });
    } catch (err) {
      log.warn("Cannot register the job's owner for progress", { error: err });
    }
    // A new attempt (a retry, a replay or a resubmission): progress may start from 0 again.
    bus.resetAttempt(job.job_id);
    if (info.failures === 0) {
      bus.publish({
        job_id: job.job_id,
        sample_id: job.sample_id,
        stage: "submitted",
        progress: 0,
        message: "Job received",
      });
    }
    let cancelled = false;
    try {
      cancelled = await this.#cancelApplies(job, message, log);
    } catch (err) {
      log.warn("Cannot check whether the job was cancelled", { error: err });
    }
    // Its partition went elsewhere while the job was being registered: do not start it.
    this.#checkOwned(active);
    log.info("Job started", { attempt: info.failures });
    const recordAt = Number(message.timestamp);
    const poll = cancelled ? undefined : setInterval(() => {
      this.#o.bus.cancelRequestedAt(job.job_id).then((at) => {
        if (at === null || (Number.isFinite(recordAt) && at < recordAt - CANCEL_CLOCK_SKEW_MS)) return;
        if (!active.controller.signal.aborted) log.info("Cancel flag found while the job runs");
        active.controller.abort("user");
      }, () => {}); // Redis unreachable: the next poll tries again
    }, this.#o.cancelPollMs ?? 5000);
    let outcome: JobOutcome;
    try {
      outcome = cancelled
        ? { status: "cancelled", durationMs: 0 }
        : await this.#o.worker.run(job, { attempt: info.failures, signal: active.controller.signal });
    } finally {
      clearInterval(poll);
    }
    // Whatever the outcome, a job whose partition went elsewhere (or that shutdown abandoned) records nothing.
    this.#checkOwned(active);
    if (outcome.status !== "completed" || !outcome.duplicate) {
      const ms = outcome.status === "completed" ? outcome.record.duration_ms : outcome.durationMs;
      this.#o.metrics?.jobDuration.observe(ms / 1000);
    }
    let final = true;
    switch (outcome.status) {
      case "completed":
        await this.#completed(job, outcome.record, outcome.duplicate, log);
        break;
      case "cancelled":
        if (cancelled) {
          bus.publish({
            job_id: job.job_id,
            sample_id: job.sample_id,
            stage: "cancelled",
            progress: 1,
            message: "Job cancelled",
          });
        }
        await this.#sendResult(job, this.#record(job, "cancelled", info.failures + 1, outcome.durationMs));
        this.#o.metrics?.jobsTotal.inc({ outcome: "cancelled" });
        log.info("Job cancelled");
        break;
      case "interrupted":
        // Left uncommitted: the record is read again after the restart.
        this.#o.metrics?.jobsTotal.inc({ outcome: "interrupted" });
        return;
      case "failed":
        final =
          await this.#failed(job, message, info, outcome.error, outcome.durationMs, log) === "dead_letter";
        break;
    }
    await this.#commit(topic, partition, offset, active);
    if (final) await this.#clearCancel(job, log);
  }

  #record(
    job: Job,
    status: CompletionRecord["status"],
    attempts: number,
    durationMs: number,
    error?: Classified,
  ) {
    const record: CompletionRecord = {
      job_id: job.job_id,
      sample_id: job.sample_id,
      status,
      output_path: job.output_path,
      output_files: [],
      gene_count: 0,
      mutation_count: 0,
      genes: [],
      drug_classes: [],
      read_pairs: 0,
      backend: "",
      duration_ms: durationMs,
      attempts,
      worker_id: this.#s.WORKER_ID,
      finished_at: new Date(this.#now()).toISOString(),
    };
    if (error) record.error = { error_class: error.errorClass, code: error.code, message: error.message };
    return record;
  }

  async #completed(job: Job, record: CompletionRecord, duplicate: boolean, log: Logger): Promise<void> {
    if (!record.published_at) {
      await this.#sendResult(job, record);
      record.published_at = new Date(this.#now()).toISOString();
      try {
        await writeJsonAtomic(`${job.output_path}/${MARKER_FILE}`, record);
      } catch (err) {
        log.warn("Cannot mark the completion record as published", { error: err });
      }
    }
    this.#o.bus.publish({
      job_id: job.job_id,
      sample_id: job.sample_id,
      stage: "completed",
      progress: 1,
      message: duplicate ? "Analysis complete (results already present)" : "Analysis complete",
      data: {
        output_path: record.output_path,
        output_files: record.output_files,
        gene_count: record.gene_count,
        mutation_count: record.mutation_count,
        genes: record.genes,
        drug_classes: record.drug_classes,
        duration_ms: record.duration_ms,
      },
    });
    this.#o.metrics?.jobsTotal.inc({ outcome: duplicate ? "duplicate" : "completed" });
    log.info(duplicate ? "Job already complete; acknowledged" : "Job completed", {
      genes: record.gene_count,
      mutations: record.mutation_count,
      duration_ms: record.duration_ms,
    });
  }

  async #failed(
    job: Job,
    message: KafkaMessage,
    info: ReturnType<typeof failureInfo>,
    error: Classified,
    durationMs: number,
    log: Logger,
  ): Promise<"retry" | "dead_letter"> {
    const s = this.#s;
    const now = this.#now();
    const nowIso = new Date(now).toISOString();
    const firstFailureAt = info.firstFailureAt ?? nowIso;
    const failures = info.failures + 1;
    const decision = error.errorClass === "permanent"
      ? { action: "dead_letter" as const, attempts: failures }
      : decideRetry({
        failures,
        maxRetries: s.MAX_RETRIES,
        strategy: this.#strategy,
        now,
        random: this.#o.random,
      });
    const errorDetails = {
      error_class: error.errorClass,
      code: error.code,
      message: error.message,
      attempts: failures,
    };
    if (decision.action === "retry") {
      if (error.errorClass === "unknown") {
        log.error("Job failed with an unknown error; retrying", errorDetails);
      } else log.warn("Job failed; retrying", errorDetails);
      await this.#send(s.KAFKA_TOPIC_RETRY, {
        key: job.job_id,
        value: message.value,
        headers: retryHeaders({
          attempt: decision.attempt,
          dueAt: decision.dueAt,
          errorClass: error.errorClass,
          code: error.code,
          message: error.message,
          firstFailureAt,
          lastFailureAt: nowIso,
          origin: info.origin,
          workerId: s.WORKER_ID,
        }),
      });
      this.#o.metrics?.retriesTotal.inc({ error_class: error.errorClass });
      this.#o.metrics?.jobsTotal.inc({ outcome: "retried" });
      this.#o.bus.publish({
        job_id: job.job_id,
        sample_id: job.sample_id,
        stage: "retry_pending",
        progress: 0,
        message:
          `Attempt ${failures} failed (${error.code}); retry ${decision.attempt} of ${s.MAX_RETRIES} at ${
            new Date(decision.dueAt).toISOString()
          }`,
        data: {
          attempt: decision.attempt,
          max_retries: s.MAX_RETRIES,
          due_at: new Date(decision.dueAt).toISOString(),
          duration_ms: durationMs,
        },
        error_details: errorDetails,
      });
      return "retry";
    }
    log.error("Job failed; dead-lettered", errorDetails);
    await this.#send(s.KAFKA_TOPIC_DLQ, {
      key: job.job_id,
      value: message.value,
      headers: deadLetterHeaders({
        attempts: failures,
        errorClass: error.errorClass,
        code: error.code,
        message: error.message,
        firstFailureAt,
        lastFailureAt: nowIso,
        origin: info.origin,
        workerId: s.WORKER_ID,
        now,
      }),
    });
    await this.#sendResult(job, this.#record(job, "failed", failures, durationMs, error));
    this.#o.metrics?.deadLettersTotal.inc({ error_class: error.errorClass });
    this.#o.metrics?.jobsTotal.inc({ outcome: "failed" });
    this.#o.bus.publish({
      job_id: job.job_id,
      sample_id: job.sample_id,
      stage: "failed",
      progress: 1,
      message: `Job failed: ${error.message}`,
      error_details: errorDetails,
    });
    return "dead_letter";
  }

  #sendResult(job: Job, record: CompletionRecord): Promise<void> {
    return this.#send(this.#s.KAFKA_TOPIC_RESULTS, { key: job.job_id, value: JSON.stringify(record) });
  }

  async #send(
    topic: string,
    m: {
      key: string | Uint8Array | null;
      value: string | Uint8Array | null;
      headers?: Record<string, string>;
    },
  ): Promise<void> {
    await this.#producer.send({
      topic,
      acks: -1,
      messages: [{ key: m.key as string | null, value: m.value as string | null, headers: m.headers }],
    });
  }
}

export type { Origin };
