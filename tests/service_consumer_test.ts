/**
 * The job consumer against real Kafka and Redis, with stand-in workers (no engine): a rebalance never runs a
 * job twice, shutdown cannot hang on a job stuck past its abort, a stale cancel flag neither cancels a
 * resubmission nor turns a completed job into a cancelled one, and Redis that stops answering does not stall
 * jobs.
 */

import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import { type ConsumerSettings, JobConsumer } from "../src/kafka/consumer.ts";
import type { Job } from "../src/jobs/schema.ts";
import { type CompletionRecord, type JobOutcome, MARKER_FILE, readCompletion } from "../src/jobs/worker.ts";
import { ProgressBus } from "../src/progress/bus.ts";
import { cleanupJobs, FreezingProxy } from "../src/progress/testing.ts";
import {
  deleteTopics,
  randomSuffix,
  readAll,
  REDIS_URL,
  testKafka,
  testRedis,
  type TestTopics,
  testTopics,
  waitFor,
} from "./utils.ts";

function settings(t: TestTopics, o: { partitions?: number; workers?: number } = {}): ConsumerSettings {
  return {
    KAFKA_GROUP_ID: t.group,
    KAFKA_TOPIC_JOBS: t.jobs,
    KAFKA_TOPIC_RETRY: t.retry,
    KAFKA_TOPIC_DLQ: t.dlq,
    KAFKA_TOPIC_RESULTS: t.results,
    KAFKA_TOPIC_PARTITIONS: o.partitions ?? 1,
    KAFKA_SESSION_TIMEOUT_MS: 10000,
    KAFKA_HEARTBEAT_INTERVAL_MS: 500,
    WORKERS: o.workers ?? 1,
    MAX_RETRIES: 3,
    BASE_RETRY_DELAY: 1,
    MAX_RETRY_DELAY: 10,
    RETRY_JITTER: 0,
    WORKER_ID: "test",
  };
}

interface Run {
  worker: string;
  jobId: string;
  /** How the run ended: "completed", "duplicate", "interrupted", "cancelled", or null while it runs. */
  end: string | null;
}

/**
 * A worker that takes `ms` per job and honours its abort signal (unless `ignoreAbort`). Like the real worker it
 * acknowledges a job whose results are complete, and (with `writeResults`) leaves results.json and the
 * completion marker in output_path.
 */
class StandInWorker {
  readonly runs: Run[];
  readonly #name: string;
  readonly #ms: number;
  readonly #o: { ignoreAbort?: boolean; writeResults?: boolean };
  readonly #releases: (() => void)[] = [];

  constructor(
    name: string,
    ms: number,
    runs: Run[],
    o: { ignoreAbort?: boolean; writeResults?: boolean } = {},
  ) {
    this.#name = name;
    this.#ms = ms;
    this.runs = runs;
    this.#o = o;
  }

  /** Ends every run still waiting (a stuck job that finally returns). */
  releaseAll(): void {
    for (const r of this.#releases.splice(0)) r();
  }

  async run(job: Job, o: { attempt: number; signal?: AbortSignal }): Promise<JobOutcome> {
    const run: Run = { worker: this.#name, jobId: job.job_id, end: null };
    this.runs.push(run);
    const done = await readCompletion(job);
    if (done) {
      run.end = "duplicate";
      return { status: "completed", record: done, duplicate: true };
    }
    const aborted = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => finish(false), this.#ms);
      const onAbort = () => finish(true);
      const finish = (wasAborted: boolean) => {
        clearTimeout(timer);
        o.signal?.removeEventListener("abort", onAbort);
        resolve(wasAborted);
      };
      this.#releases.push(() => finish(false));
      if (!this.#o.ignoreAbort) o.signal?.addEventListener("abort", onAbort);
    });
    if (aborted && o.signal?.reason === "user") {
      run.end = "cancelled";
      return { status: "cancelled", durationMs: 1 };
    }
    if (aborted) {
      run.end = "interrupted";
      return { status: "interrupted", durationMs: 1 };
    }
    const record = completion(job, this.#name);
    if (this.#o.writeResults) {
      await Deno.mkdir(job.output_path, { recursive: true });
      await Deno.writeTextFile(
        `${job.output_path}/results.json`,
        JSON.stringify({ sample_id: job.sample_id }),
      );
      await Deno.writeTextFile(`${job.output_path}/${MARKER_FILE}`, JSON.stringify(record));
    }
    run.end = "completed";
    return { status: "completed", record, duplicate: false };
  }
}

function completion(job: Job, worker: string): CompletionRecord {
  return {
    job_id: job.job_id,
    sample_id: job.sample_id,
    status: "completed",
    output_path: job.output_path,
    output_files: [],
    gene_count: 0,
    mutation_count: 0,
    genes: [],
    drug_classes: [],
    read_pairs: 0,
    backend: "cpu",
    duration_ms: 1,
    attempts: 1,
    worker_id: worker,
    finished_at: new Date().toISOString(),
  };
}

interface Ctx {
  kafka: Kafka;
  topics: TestTopics;
  out: string;
  jobIds: string[];
  bus: ProgressBus;
  /** A job for partition `partition`; its id is remembered for cleanup. */
  job(id?: string): Job;
  send(job: Job, partition?: number): Promise<void>;
  results(): Promise<CompletionRecord[]>;
  committed(): Promise<Map<number, string>>;
  consumer(
    worker: StandInWorker,
    o?: {
      partitions?: number;
      workers?: number;
      abortWaitMs?: number;
      cancelPollMs?: number;
      bus?: ProgressBus;
    },
  ): JobConsumer;
}

async function withCtx(fn: (c: Ctx) => Promise<void>): Promise<void> {
  const kafka = testKafka();
  const topics = testTopics();
  const out = await Deno.makeTempDir({ prefix: "biogpu-consumer-" });
  const bus = new ProgressBus({ redisUrl: REDIS_URL, statusTtlSeconds: 600, streamMaxLen: 100 });
  await bus.start();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const consumers: JobConsumer[] = [];
  const jobIds: string[] = [];
  const ctx: Ctx = {
    kafka,
    topics,
    out,
    jobIds,
    bus,
    job(id = `job-${randomSuffix()}`) {
      jobIds.push(id);
      return {
        job_id: id,
        sample_id: `S-${id}`,
        path_to_r1: "/x",
        path_to_r2: "/y",
        output_path: `${out}/${id}`,
      };
    },
    async send(job, partition = 0) {
      await producer.send({
        topic: topics.jobs,
        acks: -1,
        messages: [{ partition, key: job.job_id, value: JSON.stringify(job) }],
      });
    },
    async results() {
      return (await readAll(kafka, topics.results)).map((r) => JSON.parse(r.value!));
    },
    async committed() {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const [t] = await admin.fetchOffsets({ groupId: topics.group, topics: [topics.jobs] });
        return new Map(t.partitions.map((p) => [p.partition, p.offset]));
      } finally {
        await admin.disconnect();
      }
    },
    consumer(worker, o = {}) {
      const c = new JobConsumer({
        kafka,
        settings: settings(topics, o),
        worker,
        bus: o.bus ?? bus,
        abortWaitMs: o.abortWaitMs,
        cancelPollMs: o.cancelPollMs,
      });
      consumers.push(c);
      return c;
    },
  };
  try {
    await fn(ctx);
  } finally {
    await Promise.allSettled(consumers.map((c) => c.stop()));
    await producer.disconnect();
    await bus.close();
    await cleanupJobs(jobIds);
    await deleteTopics(kafka, topics);
    await Deno.remove(out, { recursive: true });
  }
}

/** Waits until the consumer has joined its group and is ready. */
function joined(c: JobConsumer): Promise<true> {
  return waitFor(() => c.ready().ok || null, {
    timeoutMs: 20000,
    intervalMs: 50,
    what: "the consumer to join",
  });
}

Deno.test("a consumer joining the group while jobs run: every job runs to completion once, one result each", () =>
  withCtx(async (c) => {
    const runs: Run[] = [];
    const workerA = new StandInWorker("A", 6000, runs);
    const workerB = new StandInWorker("B", 6000, runs);
    const a = c.consumer(workerA, { partitions: 4, workers: 4 });
    await a.start();
    const jobs = [0, 1, 2, 3].map(() => c.job());
    for (const [i, job] of jobs.entries()) await c.send(job, i);
    await waitFor(() => a.running === 4 || null, {
      timeoutMs: 20000,
      intervalMs: 50,
      what: "A to run 4 jobs",
    });

    // Scale out: B joins and takes half of the partitions while A's jobs run.
    const b = c.consumer(workerB, { partitions: 4, workers: 4 });
    await b.start();
    await waitFor(() => runs.filter((r) => r.end === "completed").length >= 4 || null, {
      timeoutMs: 30000,
      what: "4 completed runs",
    });
    // Give a second run (the bug) time to finish and record.
    await waitFor(() => (a.running === 0 && b.running === 0) || null, { timeoutMs: 15000, what: "idle" });
    await new Promise((r) => setTimeout(r, 500));

    const completed = runs.filter((r) => r.end === "completed").map((r) => r.jobId).sort();
    assert.deepEqual(completed, jobs.map((j) => j.job_id).sort(), JSON.stringify(runs));
    assert.ok(runs.some((r) => r.worker === "B"), "B took no partition");
    // Each job that moved was stopped on A, not run to the end there too.
    for (const r of runs.filter((r) => r.worker === "B")) {
      assert.equal(
        runs.find((x) => x.worker === "A" && x.jobId === r.jobId)?.end ?? "interrupted",
        "interrupted",
      );
    }
    const results = await c.results();
    assert.deepEqual(results.map((r) => r.job_id).sort(), jobs.map((j) => j.job_id).sort());
    assert.ok(results.every((r) => r.status === "completed"));
    const committed = await c.committed();
    assert.deepEqual([0, 1, 2, 3].map((p) => committed.get(p)), ["1", "1", "1", "1"]);
  }));

Deno.test("shutdown does not wait for ever on a job that ignores its abort, and leaves it uncommitted", () =>
  withCtx(async (c) => {
    const runs: Run[] = [];
    const stuck = new StandInWorker("stuck", 20_000, runs, { ignoreAbort: true });
    const consumer = c.consumer(stuck, { abortWaitMs: 1000 });
    await consumer.start();
    const job = c.job();
    await c.send(job);
    await waitFor(() => consumer.running === 1 || null, {
      timeoutMs: 20000,
      intervalMs: 50,
      what: "the job",
    });

    const t0 = performance.now();
    await consumer.stop({ graceMs: 300 });
    const ms = performance.now() - t0;
    assert.ok(ms < 5000, `stop took ${Math.round(ms)} ms`);
    // The stuck job returns after the shutdown: it records nothing and commits nothing.
    stuck.releaseAll();
    await waitFor(() => runs[0].end === "completed" || null, {
      timeoutMs: 2000,
      what: "the stuck run to end",
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await c.results(), []);
    assert.equal((await c.committed()).get(0), "-1");

    // The record is redelivered to the next consumer, which completes it.
    const next = c.consumer(new StandInWorker("next", 10, runs));
    await next.start();
    await waitFor(async () => (await c.results()).length === 1 || null, {
      timeoutMs: 20000,
      what: "a result",
    });
    assert.deepEqual(runs.map((r) => [r.worker, r.end]), [["stuck", "completed"], ["next", "completed"]]);
    await waitFor(async () => (await c.committed()).get(0) === "1" || null, {
      timeoutMs: 5000,
      what: "commit",
    });
  }));

Deno.test("a cancelled job id submitted again runs, and its cancel flag is cleared at each final state", () =>
  withCtx(async (c) => {
    const runs: Run[] = [];
    const consumer = c.consumer(new StandInWorker("W", 10, runs));
    const job = c.job();
    await c.bus.requestCancel(job.job_id); // cancelled while queued
    await consumer.start();
    await c.send(job);
    await waitFor(async () => (await c.results()).length === 1 || null, {
      timeoutMs: 20000,
      what: "result 1",
    });
    assert.equal((await c.results())[0].status, "cancelled");
    assert.equal(runs.length, 0);
    await waitFor(async () => (await c.bus.cancelRequestedAt(job.job_id)) === null || null, {
      timeoutMs: 3000,
      what: "the flag to be cleared after the cancel",
    });

    await c.send(job); // the same job id resubmitted
    await waitFor(async () => (await c.results()).length === 2 || null, {
      timeoutMs: 20000,
      what: "result 2",
    });
    assert.deepEqual((await c.results()).map((r) => r.status), ["cancelled", "completed"]);
    assert.deepEqual(runs.map((r) => r.end), ["completed"]);
  }));

Deno.test("a cancel requested after a job completed does not turn its redelivery into a cancelled result", () =>
  withCtx(async (c) => {
    const runs: Run[] = [];
    const first = c.consumer(new StandInWorker("W", 10, runs, { writeResults: true }));
    await first.start();
    const job = c.job();
    await c.send(job);
    await waitFor(async () => (await c.results()).length === 1 || null, { timeoutMs: 20000, what: "result" });
    await waitFor(async () => (await c.committed()).get(0) === "1" || null, {
      timeoutMs: 5000,
      what: "commit",
    });
    await first.stop();
    await c.bus.requestCancel(job.job_id); // too late: the job is complete

    // The record is read again (an offset reset, a replay): the results are complete, so it is acknowledged.
    const admin = c.kafka.admin();
    await admin.connect();
    await admin.resetOffsets({ groupId: c.topics.group, topic: c.topics.jobs, earliest: true });
    await admin.disconnect();
    const second = c.consumer(new StandInWorker("W2", 10, runs, { writeResults: true }));
    await second.start();
    await waitFor(async () => (await c.committed()).get(0) === "1" || null, {
      timeoutMs: 20000,
      what: "commit",
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual((await c.results()).map((r) => r.status), ["completed"]);
    assert.deepEqual(runs.map((r) => [r.worker, r.end]), [["W", "completed"], ["W2", "duplicate"]]);
    assert.equal(await c.bus.cancelRequestedAt(job.job_id), null);
  }));

Deno.test("Redis that stops answering does not stall a job: it runs and its result is recorded", () =>
  withCtx(async (c) => {
    const proxy = new FreezingProxy(REDIS_URL);
    const bus = new ProgressBus({
      redisUrl: proxy.url,
      statusTtlSeconds: 600,
      streamMaxLen: 100,
      commandTimeoutMs: 1000,
    });
    try {
      await bus.start();
      const runs: Run[] = [];
      const consumer = c.consumer(new StandInWorker("W", 10, runs), { bus });
      await consumer.start();
      await joined(consumer);
      proxy.frozen = true;
      const job = c.job();
      await c.send(job);
      const t0 = performance.now();
      await waitFor(() => runs.length === 1 || null, { timeoutMs: 10000, intervalMs: 50, what: "the run" });
      const ms = performance.now() - t0;
      assert.ok(ms < 5000, `the job started ${Math.round(ms)} ms after it was sent`);
      await waitFor(async () => (await c.results()).length === 1 || null, {
        timeoutMs: 20000,
        what: "result",
      });
      await waitFor(() => !bus.ready().ok || null, { timeoutMs: 5000, what: "ready() to say Redis is gone" });
    } finally {
      proxy.frozen = false;
      await Promise.allSettled([bus.close()]);
      await proxy.close();
    }
  }));

Deno.test("a cancel whose announcement was missed still reaches the running job, from its flag", () =>
  withCtx(async (c) => {
    const runs: Run[] = [];
    const consumer = c.consumer(new StandInWorker("W", 20_000, runs), { cancelPollMs: 200 });
    const job = c.job();
    await consumer.start();
    await c.send(job);
    await waitFor(() => runs.length === 1 || null, { timeoutMs: 20000, what: "the job to start" });
    // the flag alone, as if job_control's message had been lost (this process's subscription was down)
    const redis = testRedis();
    try {
      await redis.set(`job_cancel:${job.job_id}`, new Date().toISOString(), "EX", 600);
    } finally {
      redis.disconnect();
    }
    const t0 = Date.now();
    await waitFor(async () => (await c.results()).length === 1 || null, {
      timeoutMs: 10000,
      what: "the result",
    });
    assert.ok(Date.now() - t0 < 5000, `the cancel took ${Date.now() - t0} ms`);
    assert.equal((await c.results())[0].status, "cancelled");
    assert.deepEqual(runs.map((r) => r.end), ["cancelled"]);
  }));
