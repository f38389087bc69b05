/**
 * Durability of the job service across restarts, crashes and cancellation, against real Kafka and Redis and
 * the real engine.
 *
 * The transient failure is real, not injected: a service configured with ENGINE_BACKEND=cuda on a machine
 * without a usable CUDA device gets BG_ERR_DEVICE_UNAVAILABLE from the engine, which is transient.
 */

import assert from "node:assert/strict";
import {
  cleanupRedis,
  createTopics,
  deleteTopics,
  firstSequence,
  ignoreWithoutServers,
  jobEvents,
  jobFor,
  jobStatus,
  makeWorkspace,
  produce,
  randomSuffix,
  readAll,
  serviceEnv,
  spawnService,
  startTestService,
  testKafka,
  testRedis,
  testTopics,
  waitFor,
  waitForRecords,
  writeReads,
} from "./utils.ts";
import { engineInfo } from "../ffi/mod.ts";

const ignore = await ignoreWithoutServers();
const noCuda = engineInfo().cudaDevices === 0;

Deno.test({
  name: "a transient failure goes retry_pending, and the pending retry still runs after a service restart",
  ignore: ignore || !noCuda,
  fn: async () => {
    const kafka = testKafka();
    const redis = testRedis();
    const topics = testTopics();
    const ws = await makeWorkspace();
    const jobId = `job-${randomSuffix()}`;
    try {
      await createTopics(kafka, topics);
      const env = serviceEnv(topics, ws, { BASE_RETRY_DELAY: "4" });
      await produce(kafka, topics.jobs, jobFor(ws, jobId), { key: jobId });

      // First service: no usable CUDA device, so the engine reports DEVICE_UNAVAILABLE (transient).
      const first = await startTestService({ ...env, ENGINE_BACKEND: "cuda" });
      let retry;
      try {
        [retry] = await waitForRecords(kafka, topics.retry, (r) => r.key === jobId, { timeoutMs: 30000 });
        const status = await waitFor(async () => {
          const s = await jobStatus(redis, jobId);
          return s?.stage === "retry_pending" ? s : null;
        }, { what: "retry_pending" });
        assert.equal(status.error_details?.error_class, "transient");
      } finally {
        await first.stop();
      }
      assert.equal(retry.headers.error_class, "transient");
      assert.equal(retry.headers.error_code, "BG_ERR_DEVICE_UNAVAILABLE");
      assert.equal(retry.headers.attempt, "1");
      const dueAt = Date.parse(retry.headers.due_at);
      assert.ok(dueAt > Date.now() - 1000, "the retry must still be pending when the first service stops");
      assert.equal((await readAll(kafka, topics.results)).filter((r) => r.key === jobId).length, 0);

      // Second service (CPU): picks the pending retry up from the topic and completes the job after its due time.
      const second = await startTestService(env);
      try {
        const [rec] = await waitForRecords(kafka, topics.results, (r) => r.key === jobId, {
          timeoutMs: 60000,
        });
        const record = JSON.parse(rec.value!);
        assert.equal(record.status, "completed");
        assert.equal(record.attempts, 2);
        assert.ok(Date.parse(record.finished_at) >= dueAt, "the retry ran before it was due");
        const stages = (await jobEvents(redis, jobId)).map((e) => e.stage);
        assert.ok(stages.indexOf("retry_pending") >= 0);
        assert.ok(stages.indexOf("retry_pending") < stages.lastIndexOf("completed"), stages.join(","));
        assert.equal((await readAll(kafka, topics.dlq)).length, 0);
      } finally {
        await second.stop();
      }
    } finally {
      await cleanupRedis(redis, [jobId]);
      redis.disconnect();
      await deleteTopics(kafka, topics);
      await ws.cleanup();
    }
  },
});

Deno.test({
  name: "a service killed mid-job (SIGKILL) leaves the job uncommitted; it is redelivered and completes once",
  ignore,
  fn: async () => {
    const kafka = testKafka();
    const redis = testRedis();
    const topics = testTopics();
    const ws = await makeWorkspace({ pairs: 50000, repeat: 30 }); // 1.5 M pairs: ~12 s on one thread
    const jobId = `job-${randomSuffix()}`;
    let child: Deno.ChildProcess | undefined;
    try {
      await createTopics(kafka, topics);
      const env = serviceEnv(topics, ws);
      await produce(kafka, topics.jobs, jobFor(ws, jobId), { key: jobId });
      child = spawnService(env);
      const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
      const drained = (async () => {
        while (!(await stderr.read()).done) { /* keep the pipe flowing */ }
      })();
      await waitFor(async () => {
        const s = await jobStatus(redis, jobId);
        return s && ["screening", "quantifying"].includes(s.stage) && s.progress > 0.1;
      }, { timeoutMs: 60000, what: "the job to be screening in the child service" });
      child.kill("SIGKILL");
      await child.status;
      await drained;
      child = undefined;
      assert.equal((await readAll(kafka, topics.results)).filter((r) => r.key === jobId).length, 0);

      const service = await startTestService(env);
      try {
        await waitForRecords(kafka, topics.results, (r) => r.key === jobId, { timeoutMs: 90000 });
        // Give a duplicate the chance to show up before counting.
        await new Promise((r) => setTimeout(r, 2000));
        const records = (await readAll(kafka, topics.results)).filter((r) => r.key === jobId).map((r) =>
          JSON.parse(r.value!)
        );
        assert.deepEqual(records.map((r) => r.status), ["completed"]);
        assert.equal(records[0].read_pairs, 1_500_000);
        assert.equal((await jobStatus(redis, jobId))?.stage, "completed");
      } finally {
        await service.stop();
      }
    } finally {
      if (child) {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
        await child.status;
      }
      await cleanupRedis(redis, [jobId]);
      redis.disconnect();
      await deleteTopics(kafka, topics);
      await ws.cleanup();
    }
  },
});

Deno.test({
  name: "a cancelled job ends cancelled: not retried, not dead-lettered, and committed",
  ignore,
  fn: async () => {
    const kafka = testKafka();
    const redis = testRedis();
    const topics = testTopics();
    const ws = await makeWorkspace({ pairs: 50000, repeat: 30 });
    const jobId = `job-${randomSuffix()}`;
    const nextId = `job-${randomSuffix()}`;
    try {
      await createTopics(kafka, topics);
      const env = serviceEnv(topics, ws);
      const service = await startTestService(env);
      try {
        await produce(kafka, topics.jobs, jobFor(ws, jobId), { key: jobId });
        const { seq } = await firstSequence(`${ws.db}/fusidicacid.fsa`);
        const small = await writeReads(ws.dir, "S2", seq, { pairs: 300, gzip: true });
        await produce(
          kafka,
          topics.jobs,
          jobFor(ws, nextId, { path_to_r1: small.r1, path_to_r2: small.r2 }),
          {
            key: nextId,
          },
        );
        await waitFor(async () => {
          const s = await jobStatus(redis, jobId);
          return s?.stage === "screening";
        }, { timeoutMs: 30000, what: "screening" });
        await service.bus.requestCancel(jobId);
        const [rec] = await waitForRecords(kafka, topics.results, (r) => r.key === jobId, {
          timeoutMs: 30000,
        });
        assert.equal(JSON.parse(rec.value!).status, "cancelled");
        assert.equal((await jobStatus(redis, jobId))?.stage, "cancelled");
        // The next record of the partition runs: the cancelled one was committed, not left hanging.
        await waitForRecords(kafka, topics.results, (r) => r.key === nextId, { timeoutMs: 60000 });
        assert.equal((await readAll(kafka, topics.retry)).length, 0);
        assert.equal((await readAll(kafka, topics.dlq)).length, 0);
      } finally {
        await service.stop();
      }
    } finally {
      await cleanupRedis(redis, [jobId, nextId]);
      redis.disconnect();
      await deleteTopics(kafka, topics);
      await ws.cleanup();
    }
  },
});

Deno.test({
  name:
    "SIGTERM stops the service gracefully: the running job is cancelled, left uncommitted and redelivered",
  ignore,
  fn: async () => {
    const kafka = testKafka();
    const redis = testRedis();
    const topics = testTopics();
    const ws = await makeWorkspace({ pairs: 50000, repeat: 30 });
    const jobId = `job-${randomSuffix()}`;
    let child: Deno.ChildProcess | undefined;
    try {
      await createTopics(kafka, topics);
      const env = serviceEnv(topics, ws, { SHUTDOWN_GRACE_MS: "500" });
      await produce(kafka, topics.jobs, jobFor(ws, jobId), { key: jobId });
      child = spawnService({ ...env, LOG_LEVEL: "info" });
      const logText = new Response(child.stderr).text();
      await waitFor(async () => (await jobStatus(redis, jobId))?.stage === "screening", {
        timeoutMs: 60000,
        what: "the job to be screening in the child service",
      });
      const sent = Date.now();
      child.kill("SIGTERM");
      const status = await child.status;
      const logs = await logText;
      child = undefined;
      assert.equal(status.code, 0, logs.slice(-2000));
      assert.ok(Date.now() - sent < 15000, "shutdown took too long");
      assert.match(logs, /Job interrupted by shutdown/);
      assert.match(logs, /"msg":"Shut down"/);
      assert.equal((await readAll(kafka, topics.results)).filter((r) => r.key === jobId).length, 0);

      const service = await startTestService(env);
      try {
        const [rec] = await waitForRecords(kafka, topics.results, (r) => r.key === jobId, {
          timeoutMs: 90000,
        });
        assert.equal(JSON.parse(rec.value!).status, "completed");
      } finally {
        await service.stop();
      }
    } finally {
      if (child) {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
        await child.status;
      }
      await cleanupRedis(redis, [jobId]);
      redis.disconnect();
      await deleteTopics(kafka, topics);
      await ws.cleanup();
    }
  },
});
