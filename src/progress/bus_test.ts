import { Redis } from "ioredis";
import { createMetrics } from "../metrics/mod.ts";
import { type JobEvent, type JobUpdate, ProgressBus, toPlainObject } from "./bus.ts";
import {
  assert,
  assertEquals,
  cleanupJobs,
  FreezingProxy,
  ignoreWithoutRedis,
  PrivateRedis,
  randomId,
  REDIS_URL,
  waitFor,
} from "./testing.ts";

const ignore = await ignoreWithoutRedis();
const DAY = 86_400;

function newBus(o: Partial<ConstructorParameters<typeof ProgressBus>[0]> = {}) {
  return new ProgressBus({ redisUrl: REDIS_URL, statusTtlSeconds: 7 * DAY, streamMaxLen: 100, ...o });
}

Deno.test({
  name: "publish stores the snapshot, announces on both channels and appends a replayable stream event",
  ignore,
  async fn() {
    const jobId = randomId("bus");
    const bus = newBus();
    const listener = new Redis(REDIS_URL);
    try {
      await bus.start();
      const got: Array<[string, string]> = [];
      listener.on("message", (ch: string, msg: string) => got.push([ch, msg]));
      await listener.subscribe(`job_updates:${jobId}`, "all_job_updates");
      bus.publish({
        job_id: jobId,
        sample_id: "S1",
        stage: "screening",
        progress: 0.25,
        message: "Screening",
        data: { reads: 10n, tags: new Set(["a"]) },
      });
      await waitFor(() => got.some(([ch]) => ch === `job_updates:${jobId}`), 3000, "channel message");
      const snap = await bus.snapshot(jobId);
      assert(snap);
      assertEquals(Object.keys(snap), [
        "job_id",
        "sample_id",
        "stage",
        "progress",
        "message",
        "data",
        "timestamp",
        "error_details",
      ]);
      assertEquals(snap.stage, "screening");
      assertEquals(snap.data, { reads: 10, tags: ["a"] });
      assertEquals(snap.error_details, null);
      assert(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(snap.timestamp));
      assertEquals(JSON.parse(got.find(([ch]) => ch === `job_updates:${jobId}`)![1]), snap);
      await waitFor(() => got.some(([ch, m]) => ch === "all_job_updates" && m.includes(jobId)), 3000, "all");

      bus.publish({ job_id: jobId, sample_id: "S1", stage: "completed", progress: 0.9, message: "Done" });
      await waitFor(async () => (await bus.snapshot(jobId))?.stage === "completed", 3000, "completed");
      const all = await bus.events(jobId);
      assertEquals(all.map((e) => e.update.stage), ["screening", "completed"]);
      assertEquals(all[1].update.progress, 1);
      const after = await bus.events(jobId, all[0].id);
      assertEquals(after.map((e) => e.id), [all[1].id]);
      const latest = await bus.latest(jobId);
      assertEquals(latest?.id, all[1].id);
    } finally {
      listener.disconnect();
      await bus.close();
      await cleanupJobs([jobId]);
    }
  },
});

Deno.test({
  name: "intermediate updates are coalesced to the rate limit while the final state is sent at once",
  ignore,
  async fn() {
    const jobId = randomId("bus");
    const bus = newBus({ maxRatePerJob: 2 });
    try {
      await bus.start();
      const live: JobEvent[] = [];
      const unsub = bus.subscribe(jobId, (ev) => live.push(ev));
      await unsub.ready;
      for (let i = 1; i <= 50; i++) {
        bus.publish({
          job_id: jobId,
          sample_id: "S",
          stage: "screening",
          progress: i / 100,
          message: `${i}`,
        });
      }
      await waitFor(() => live.length === 1, 2000, "the first update");
      assertEquals(live[0].update.progress, 0.01);
      await waitFor(() => live.length === 2, 2000, "the coalesced update");
      assertEquals(live[1].update.progress, 0.5, "the latest coalesced update is the one sent");
      await new Promise((r) => setTimeout(r, 100));
      assertEquals(live.length, 2, "49 updates in one interval became one");
      const t0 = performance.now();
      bus.publish({ job_id: jobId, sample_id: "S", stage: "quantifying", progress: 0.6, message: "q" });
      bus.publish({ job_id: jobId, sample_id: "S", stage: "failed", progress: 0.6, message: "boom" });
      await waitFor(() => live.at(-1)?.update.stage === "failed", 2000, "final state");
      assert(performance.now() - t0 < 300, "the final state does not wait for the 500 ms interval");
      unsub();
    } finally {
      await bus.close();
      await cleanupJobs([jobId]);
    }
  },
});

Deno.test({
  name: "progress never decreases within an attempt and starts again after resetAttempt",
  ignore,
  async fn() {
    const jobId = randomId("bus");
    const bus = newBus({ maxRatePerJob: 10_000 });
    try {
      await bus.start();
      const live: JobUpdate[] = [];
      const unsub = bus.subscribe(jobId, (ev) => live.push(ev.update));
      await unsub.ready;
      const p = (progress: number) =>
        bus.publish({ job_id: jobId, sample_id: "S", stage: "screening", progress, message: "" });
      p(0.5);
      await waitFor(() => live.length === 1, 2000, "first update");
      p(0.3);
      await waitFor(() => live.length === 2, 2000, "second update");
      p(7);
      await waitFor(() => live.length === 3, 2000, "third update");
      assertEquals(live.map((u) => u.progress), [0.5, 0.5, 1]);
      bus.resetAttempt(jobId);
      p(0.1);
      await waitFor(() => live.length === 4, 2000, "update of the new attempt");
      assertEquals(live[3].progress, 0.1);
      unsub();
      assertEquals(bus.stats().subscriptions, 0);
      assertEquals(bus.stats().channels, 0);
    } finally {
      await bus.close();
      await cleanupJobs([jobId]);
    }
  },
});

Deno.test({
  name: "many subscriptions share one Redis subscription and each is released",
  ignore,
  async fn() {
    const jobId = randomId("bus");
    const bus = newBus();
    try {
      await bus.start();
      const counts = [0, 0, 0];
      const unsubs = counts.map((_, i) => bus.subscribe(jobId, () => counts[i]++));
      await Promise.all(unsubs.map((u) => u.ready));
      assertEquals(bus.stats(), { subscriptions: 3, channels: 1, buffered: 0, jobs: 0 });
      bus.publish({ job_id: jobId, sample_id: "S", stage: "completed", progress: 1, message: "" });
      await waitFor(() => counts.every((c) => c === 1), 2000, "three deliveries");
      unsubs[0]();
      unsubs[0]();
      assertEquals(bus.stats().subscriptions, 2);
      unsubs[1]();
      unsubs[2]();
      assertEquals(bus.stats().channels, 0);
    } finally {
      await bus.close();
      await cleanupJobs([jobId]);
    }
  },
});

Deno.test({
  name: "requestCancel reaches onCancel callbacks and isCancelled; registerJob records the access list",
  ignore,
  async fn() {
    const jobId = randomId("bus");
    const bus = newBus();
    const other = newBus();
    try {
      await bus.start();
      await other.start();
      const heard: string[] = [];
      const off = bus.onCancel((id) => heard.push(id));
      assertEquals(await bus.isCancelled(jobId), false);
      await other.requestCancel(jobId);
      await waitFor(() => heard.includes(jobId), 2000, "cancel callback");
      assertEquals(await bus.isCancelled(jobId), true);
      off();
      assertEquals(await bus.acl(jobId), null);
      await bus.registerJob(jobId, { owner: "alice", tenant: "lab-a" });
      assertEquals(await other.acl(jobId), { owner: "alice", tenant: "lab-a" });
    } finally {
      await bus.close();
      await other.close();
      await cleanupJobs([jobId]);
    }
  },
});

Deno.test({
  name:
    "with Redis down publish neither throws nor blocks, ready() says so, and the latest state is published when it is back",
  ignore,
  async fn() {
    const jobId = randomId("bus");
    const redis = new PrivateRedis();
    await redis.start();
    const metrics = createMetrics();
    const logs: string[] = [];
    const bus = new ProgressBus({
      redisUrl: redis.url,
      statusTtlSeconds: DAY,
      streamMaxLen: 100,
      bufferLimit: 5,
      maxRatePerJob: 10_000,
      metrics,
      log: (_l, msg) => logs.push(msg),
    });
    try {
      await bus.start();
      assertEquals(bus.ready().ok, true);
      await bus.registerJob(jobId, { owner: "alice" });
      bus.publish({ job_id: jobId, sample_id: "S", stage: "screening", progress: 0.1, message: "before" });
      await waitFor(async () => (await bus.snapshot(jobId)) !== null, 2000, "first update");

      await redis.stop();
      await waitFor(() => !bus.ready().ok, 5000, "ready() to report Redis down");
      assert(bus.ready().detail.includes("Redis unreachable"), bus.ready().detail);
      const t0 = performance.now();
      for (let i = 2; i <= 20; i++) {
        bus.publish({
          job_id: jobId,
          sample_id: "S",
          stage: "screening",
          progress: i / 100,
          message: `${i}`,
        });
      }
      bus.publish({ job_id: jobId, sample_id: "S", stage: "failed", progress: 0.2, message: "final" });
      assert(performance.now() - t0 < 50, "publish does not block while Redis is down");
      assert(bus.stats().buffered <= 5, `buffer is bounded, found ${bus.stats().buffered}`);
      // A publish that found the connection still up fails a moment later, when Redis refuses it.
      await waitFor(
        async () => /biogpu_redis_publish_failures_total [1-9]/.test(await metrics.registry.metrics()),
        5000,
        "the publish failures to be counted",
      );

      await redis.start();
      await waitFor(() => bus.ready().ok, 10_000, "ready() to report Redis back");
      await waitFor(() => bus.stats().buffered === 0, 5000, "the buffer to drain");
      const snap = await bus.snapshot(jobId);
      assertEquals(snap?.stage, "failed");
      assertEquals(snap?.message, "final");
      const events = await bus.events(jobId);
      assertEquals(events.at(-1)?.update.stage, "failed");
      assert(events.length <= 6);
    } finally {
      await bus.close();
      await redis.stop();
    }
  },
});

Deno.test("toPlainObject turns values JSON cannot hold into plain JSON and never throws", () => {
  enum Stage {
    Screening = 3,
  }
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assertEquals(toPlainObject({ s: Stage.Screening, m: new Map([["k", 1n]]), e: new Error("x"), n: NaN }), {
    s: 3,
    m: { k: 1 },
    e: { name: "Error", message: "x" },
    n: null,
  });
  assert("unserializable" in toPlainObject(cyclic));
  assertEquals(toPlainObject("text"), { value: "text" });
});

Deno.test({
  name: "start() resolves when Redis is unreachable; updates are buffered and written once Redis comes up",
  ignore,
  async fn() {
    const redis = new PrivateRedis();
    const bus = new ProgressBus({
      redisUrl: redis.url,
      statusTtlSeconds: DAY,
      streamMaxLen: 10,
      connectWaitMs: 300,
    });
    try {
      await bus.start();
      assertEquals(bus.ready().ok, false);
      bus.publish({ job_id: "never-stored", sample_id: "S", stage: "completed", progress: 1, message: "" });
      assertEquals(bus.stats().buffered, 1);
      await bus.registerJob("never-stored", { owner: "a" });
      assertEquals(await bus.acl("never-stored"), { owner: "a" });
      await redis.start();
      await waitFor(() => bus.ready().ok && bus.stats().buffered === 0, 10_000, "Redis to come up");
      assertEquals((await bus.snapshot("never-stored"))?.stage, "completed");
    } finally {
      await bus.close();
      await redis.stop();
    }
  },
});

Deno.test({
  name:
    "Redis that stops answering without a reset: the job path's calls fail within the command timeout and ready() says so",
  ignore,
  async fn() {
    const jobId = randomId("bus");
    const proxy = new FreezingProxy();
    const bus = newBus({ redisUrl: proxy.url, commandTimeoutMs: 500, maxRatePerJob: 10_000 });
    try {
      await bus.start();
      assertEquals(bus.ready(), { ok: true, detail: "connected" });
      proxy.frozen = true;
      const settled = async (what: string, p: Promise<unknown>) => {
        const t0 = performance.now();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const outcome = await Promise.race([
          p.then(() => "resolved", () => "rejected"),
          new Promise((r) => timer = setTimeout(() => r("still waiting"), 3000)),
        ]);
        clearTimeout(timer);
        const ms = performance.now() - t0;
        assert(ms < 2000, `${what} took ${Math.round(ms)} ms (${outcome})`);
        return outcome;
      };
      // registerJob never throws (the access list is kept until Redis is back); the others throw.
      assertEquals(await settled("registerJob", bus.registerJob(jobId, { owner: "alice" })), "resolved");
      assertEquals(await settled("cancelRequestedAt", bus.cancelRequestedAt(jobId)), "rejected");
      assertEquals(await settled("isCancelled", bus.isCancelled(jobId)), "rejected");
      assertEquals(await settled("clearCancel", bus.clearCancel(jobId)), "rejected");
      bus.publish({ job_id: jobId, sample_id: "S", stage: "screening", progress: 0.2, message: "frozen" });
      await waitFor(() => !bus.ready().ok, 3000, "ready() to report Redis unreachable");
      assert(bus.ready().detail.includes("Redis unreachable"), bus.ready().detail);

      proxy.frozen = false;
      await waitFor(() => bus.ready().ok, 10_000, "the bus to reconnect");
      await waitFor(
        async () => (await bus.snapshot(jobId))?.message === "frozen",
        5000,
        "the buffered update",
      );
      assertEquals(await bus.acl(jobId), { owner: "alice", tenant: undefined });
    } finally {
      proxy.frozen = false;
      await bus.close();
      await proxy.close();
      await cleanupJobs([jobId]);
    }
  },
});

Deno.test({
  name: "cancelRequestedAt gives the time of the request, and clearCancel removes the flag",
  ignore,
  async fn() {
    const jobId = randomId("bus");
    const bus = newBus();
    try {
      await bus.start();
      assertEquals(await bus.cancelRequestedAt(jobId), null);
      const before = Date.now();
      await bus.requestCancel(jobId);
      const at = await bus.cancelRequestedAt(jobId);
      assert(at !== null && at >= before - 1 && at <= Date.now(), `requested at ${at}`);
      await bus.clearCancel(jobId);
      assertEquals(await bus.cancelRequestedAt(jobId), null);
      assertEquals(await bus.isCancelled(jobId), false);
    } finally {
      await bus.close();
      await cleanupJobs([jobId]);
    }
  },
});
