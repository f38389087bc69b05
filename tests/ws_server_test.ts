import { createMetrics, type Metrics } from "../src/metrics/mod.ts";
import { ProgressBus } from "../src/progress/bus.ts";
import {
  assert,
  assertEquals,
  cleanupJobs,
  ignoreWithoutRedis,
  randomId,
  REDIS_URL,
  waitFor,
} from "../src/progress/testing.ts";
import { startWsServer, type WsLimits, type WsServer } from "../src/ws/server.ts";
import { hsToken, RawWsClient, TestClient } from "../src/ws/testing.ts";

const ignore = await ignoreWithoutRedis();
const SECRET = "ws-test-secret-0123456789abcdef0123456789";

interface Env {
  bus: ProgressBus;
  ws: WsServer;
  metrics: Metrics;
  url: string;
  jobs: string[];
  token(claims: Record<string, unknown>, exp?: string | number): Promise<string>;
  /** Registers a job with this access list and publishes one update; waits until it is stored. */
  job(acl: { owner?: string; tenant?: string }, progress?: number): Promise<string>;
  publish(jobId: string, stage: string, progress: number, data?: Record<string, unknown>): void;
}

async function withEnv(
  limits: WsLimits,
  fn: (e: Env) => Promise<void>,
  busOpts: { maxRatePerJob?: number } = {},
) {
  const metrics = createMetrics();
  const bus = new ProgressBus({
    redisUrl: REDIS_URL,
    statusTtlSeconds: 3600,
    streamMaxLen: 100,
    maxRatePerJob: busOpts.maxRatePerJob ?? 10_000,
    metrics,
  });
  await bus.start();
  const ws = await startWsServer({
    port: 0,
    hostname: "127.0.0.1",
    auth: { secret: SECRET },
    bus,
    metrics,
    limits,
  });
  const jobs: string[] = [];
  const publish = (jobId: string, stage: string, progress: number, data: Record<string, unknown> = {}) =>
    // deno-lint-ignore no-explicit-any
    bus.publish({ job_id: jobId, sample_id: "S1", stage: stage as any, progress, message: stage, data });
  const env: Env = {
    bus,
    ws,
    metrics,
    url: `ws://127.0.0.1:${ws.port}`,
    jobs,
    token: (claims, exp) => hsToken(SECRET, claims, exp),
    async job(acl, progress = 0.1) {
      const id = randomId("ws");
      jobs.push(id);
      await bus.registerJob(id, acl);
      publish(id, "screening", progress);
      await waitFor(async () => (await bus.snapshot(id)) !== null, 3000, "the job's first update");
      return id;
    },
    publish,
  };
  try {
    await fn(env);
  } finally {
    await ws.close();
    await bus.close();
    await cleanupJobs(jobs);
  }
}

Deno.test({
  name: "a client that does not authenticate in time gets auth_error and is closed",
  ignore,
  fn: () =>
    withEnv({ authTimeoutMs: 150 }, async (e) => {
      const c = await TestClient.connect(e.url);
      const m = await c.next();
      assertEquals(m, {
        type: "auth_error",
        message: "Authentication timeout: no auth message within 150 ms",
      });
      assertEquals((await c.closed).code, 4401);
      await waitFor(() => e.ws.connections() === 0, 2000, "the connection to be released");
    }),
});

Deno.test({
  name:
    "missing, expired and forged tokens, and a first message other than auth, are refused with the reason",
  ignore,
  fn: () =>
    withEnv({}, async (e) => {
      const cases: Array<[unknown, string]> = [
        [{ type: "auth" }, "Missing token"],
        [
          { type: "auth", token: await e.token({ sub: "a" }, Math.floor(Date.now() / 1000) - 5) },
          "Token expired",
        ],
        [
          { type: "auth", token: await hsToken("forged-secret-xxxxxxxxxxxxxxxx", { sub: "a" }) },
          "Invalid token signature",
        ],
        [{ type: "subscribe", job_id: "x" }, 'Authentication required: send {"type":"auth","token":…} first'],
      ];
      for (const [msg, expected] of cases) {
        const c = await TestClient.connect(e.url);
        c.send(msg);
        assertEquals(await c.next(), { type: "auth_error", message: expected });
        assertEquals((await c.closed).code, 4401);
      }
      const ok = await TestClient.authed(e.url, await e.token({ sub: "alice" }));
      ok.send({ type: "ping" });
      assertEquals(await ok.next(), { type: "pong" });
      await ok.close();
    }),
});

Deno.test({
  name: "subscribe sends the snapshot, then live updates with event ids, and since replays the stored events",
  ignore,
  fn: () =>
    withEnv({}, async (e) => {
      const jobId = await e.job({ owner: "alice" }, 0.1);
      e.publish(jobId, "screening", 0.2);
      e.publish(jobId, "quantifying", 0.3);
      await waitFor(async () => (await e.bus.snapshot(jobId))?.progress === 0.3, 3000, "stored updates");
      const stored = await e.bus.events(jobId);
      assertEquals(stored.length, 3);

      const c = await TestClient.authed(e.url, await e.token({ sub: "alice" }));
      c.send({ type: "subscribe", job_id: jobId });
      const snap = await c.next();
      assertEquals(snap.type, "status_update");
      assertEquals(snap.id, stored[2].id);
      assertEquals(snap.data.stage, "quantifying");
      assertEquals(snap.data.job_id, jobId);
      e.publish(jobId, "calling_mutations", 0.8);
      const live = await c.next();
      assertEquals(live.type, "job_update");
      assertEquals(live.data.stage, "calling_mutations");
      assert(live.id > stored[2].id);

      const r = await TestClient.authed(e.url, await e.token({ sub: "alice" }));
      r.send({ type: "subscribe", job_id: jobId, since: stored[0].id });
      const got = [await r.next(), await r.next(), await r.next(), await r.next()];
      assertEquals(got.map((m) => m.type), [
        "status_update",
        "status_update",
        "status_update",
        "status_update",
      ]);
      assertEquals(got[0].data.stage, "calling_mutations");
      assertEquals(got.slice(1).map((m) => m.id), [stored[1].id, stored[2].id, live.id]);
      e.publish(jobId, "completed", 1);
      assertEquals((await r.next()).data.stage, "completed");
      assertEquals((await c.next()).data.stage, "completed");
      assertEquals(r.pending.length, 0);

      r.send({ type: "subscribe", job_id: jobId, since: "not-an-id" });
      assertEquals(
        (await r.next()).message,
        'Invalid since: expected a stream event id like "1700000000000-0"',
      );
      await c.close();
      await r.close();
    }),
});

Deno.test({
  name: "another user's job answers exactly like a job that does not exist, for subscribe and cancel",
  ignore,
  fn: () =>
    withEnv({}, async (e) => {
      const jobId = await e.job({ owner: "alice", tenant: "lab-a" });
      const missing = randomId("ws-missing");
      const bob = await TestClient.authed(e.url, await e.token({ sub: "bob", tenant: "lab-b" }));
      const answers: string[] = [];
      for (const type of ["subscribe", "cancel"]) {
        for (const id of [jobId, missing]) {
          bob.send({ type, job_id: id });
          const m = await bob.next();
          assertEquals(m.type, "error");
          answers.push(JSON.stringify(m).replace(id, "<id>"));
        }
      }
      assertEquals(new Set(answers).size, 1, answers.join(" / "));
      assertEquals(answers[0], '{"type":"error","message":"Job not found: <id>"}');
      assertEquals(await e.bus.isCancelled(jobId), false);
      assertEquals(e.ws.subscriptions(), 0);
      await bob.close();
    }),
});

Deno.test({
  name: "a user of the job's tenant and an admin may watch and cancel it",
  ignore,
  fn: () =>
    withEnv({}, async (e) => {
      const jobId = await e.job({ owner: "alice", tenant: "lab-a" });
      const cancelled: string[] = [];
      const off = e.bus.onCancel((id) => cancelled.push(id));
      const carol = await TestClient.authed(e.url, await e.token({ sub: "carol", tenant: "lab-a" }));
      carol.send({ type: "subscribe", job_id: jobId });
      assertEquals((await carol.next()).type, "status_update");
      const admin = await TestClient.authed(e.url, await e.token({ sub: "root", roles: ["admin"] }));
      admin.send({ type: "subscribe", job_id: jobId });
      assertEquals((await admin.next()).type, "status_update");
      admin.send({ type: "cancel", job_id: jobId });
      assertEquals(await admin.next(), { type: "cancel_requested", job_id: jobId });
      await waitFor(() => cancelled.includes(jobId), 2000, "the cancel to reach the bus");
      assertEquals(await e.bus.isCancelled(jobId), true);
      off();
      await carol.close();
      await admin.close();
    }),
});

Deno.test({
  name:
    "oversized frames, invalid JSON and unknown types are refused with a message and the connection survives",
  ignore,
  fn: () =>
    withEnv({ maxMessageBytes: 1024 }, async (e) => {
      const c = await TestClient.authed(e.url, await e.token({ sub: "alice" }));
      c.send(JSON.stringify({ type: "ping", pad: "x".repeat(5000) }));
      assertEquals((await c.next()).message, "Message too large: 5024 bytes, at most 1024");
      c.send("{not json");
      assertEquals(await c.next(), {
        type: "error",
        message: "Invalid JSON: expected an object with a type field",
      });
      c.send("[1,2]");
      assertEquals((await c.next()).message, "Invalid message: expected an object with a string type field");
      c.send({ type: "fly" });
      assertEquals((await c.next()).message, "Unknown message type: fly");
      c.send({ type: "subscribe" });
      assertEquals(
        (await c.next()).message,
        "Invalid job_id: expected a non-empty string of at most 256 characters",
      );
      c.ws.send(new Uint8Array([1, 2, 3]));
      assertEquals((await c.next()).message, "Binary messages are not supported: send JSON text");
      c.send({ type: "ping" });
      assertEquals(await c.next(), { type: "pong" });
      const other = await TestClient.authed(e.url, await e.token({ sub: "bob" }));
      await other.close();
      await c.close();
    }),
});

Deno.test({
  name: "a connection may hold at most maxSubscriptions subscriptions",
  ignore,
  fn: () =>
    withEnv({ maxSubscriptions: 2 }, async (e) => {
      const ids = [
        await e.job({ owner: "alice" }),
        await e.job({ owner: "alice" }),
        await e.job({ owner: "alice" }),
      ];
      const c = await TestClient.authed(e.url, await e.token({ sub: "alice" }));
      c.send({ type: "subscribe", job_id: ids[0] });
      assertEquals((await c.next()).type, "status_update");
      c.send({ type: "subscribe", job_id: ids[1] });
      assertEquals((await c.next()).type, "status_update");
      c.send({ type: "subscribe", job_id: ids[2] });
      assertEquals(await c.next(), {
        type: "error",
        message: "Subscription limit reached: at most 2 per connection",
      });
      c.send({ type: "subscribe", job_id: ids[0] });
      assertEquals((await c.next()).message, `Already subscribed: ${ids[0]}`);
      c.send({ type: "unsubscribe", job_id: ids[0] });
      assertEquals(await c.next(), { type: "unsubscribed", job_id: ids[0] });
      c.send({ type: "subscribe", job_id: ids[2] });
      assertEquals((await c.next()).data.job_id, ids[2]);
      await c.close();
    }),
});

Deno.test({
  name: "unsubscribe and close release every subscription on the server and the bus",
  ignore,
  fn: () =>
    withEnv({}, async (e) => {
      const a = await e.job({ owner: "alice" });
      const b = await e.job({ owner: "alice" });
      const c1 = await TestClient.authed(e.url, await e.token({ sub: "alice" }));
      const c2 = await TestClient.authed(e.url, await e.token({ sub: "alice" }));
      for (const c of [c1, c2]) {
        for (const id of [a, b]) {
          c.send({ type: "subscribe", job_id: id });
          await c.next((m) => m.type === "status_update" && m.data.job_id === id);
        }
      }
      assertEquals(e.ws.subscriptions(), 4);
      assertEquals(e.bus.stats().subscriptions, 4);
      assertEquals(e.bus.stats().channels, 2);
      assertEquals(e.ws.connections(), 2);
      c1.send({ type: "unsubscribe", job_id: a });
      await c1.next((m) => m.type === "unsubscribed");
      c1.send({ type: "unsubscribe", job_id: a });
      assertEquals((await c1.next()).message, `Not subscribed: ${a}`);
      assertEquals(e.bus.stats().subscriptions, 3);
      e.publish(a, "screening", 0.5);
      await c2.next((m) => m.type === "job_update" && m.data.job_id === a);
      await c1.close();
      await waitFor(() => e.ws.connections() === 1, 2000, "the first connection to be released");
      assertEquals(e.bus.stats().subscriptions, 2);
      await c2.close();
      await waitFor(() => e.ws.connections() === 0, 2000, "every connection to be released");
      assertEquals(e.ws.subscriptions(), 0);
      assertEquals(e.bus.stats().subscriptions, 0);
      assertEquals(e.bus.stats().channels, 0);
      const text = await e.metrics.registry.metrics();
      assert(text.includes("biogpu_ws_connections 0"), "connections gauge back to 0");
      assert(/biogpu_ws_messages_sent_total\{type="job_update"\} [1-9]/.test(text));
    }),
});

Deno.test({
  name:
    "a client that stops reading gets only the latest state per job once its send buffer passes the bound",
  ignore,
  fn: () =>
    withEnv({ maxBufferedBytes: 64 * 1024, idleTimeoutMs: 0 }, async (e) => {
      const jobId = await e.job({ owner: "alice" });
      const raw = await RawWsClient.connect(e.ws.port);
      try {
        await raw.send({ type: "auth", token: await e.token({ sub: "alice" }) });
        assertEquals((await raw.next())?.type, "auth_success");
        await raw.send({ type: "subscribe", job_id: jobId });
        assertEquals((await raw.next())?.type, "status_update");
        const pad = "x".repeat(512 * 1024);
        const total = 80;
        for (let i = 1; i < total; i++) {
          e.publish(jobId, "screening", i / 100, { pad });
          if (i % 10 === 0) await new Promise((r) => setTimeout(r, 20));
        }
        e.publish(jobId, "completed", 1);
        const coalesced = async () =>
          Number(
            /biogpu_ws_updates_coalesced_total (\d+)/.exec(await e.metrics.registry.metrics())?.[1] ?? 0,
          );
        await waitFor(async () => (await coalesced()) > 0, 10_000, "updates to be coalesced");
        const received: string[] = [];
        while (true) {
          const m = await raw.next();
          assert(m, "connection closed before the final state");
          received.push(m.data.stage);
          if (m.data.stage === "completed") break;
        }
        assert(received.length < total, `expected fewer than ${total} messages, got ${received.length}`);
        assertEquals(received.at(-1), "completed");
      } finally {
        raw.close();
      }
    }),
});

Deno.test({
  name: "a peer that stops answering pings is closed after the idle timeout and released",
  ignore,
  fn: () =>
    withEnv({ idleTimeoutMs: 1000 }, async (e) => {
      const raw = await RawWsClient.connect(e.ws.port);
      try {
        await raw.send({ type: "auth", token: await e.token({ sub: "alice" }) });
        assertEquals((await raw.next())?.type, "auth_success");
        const t0 = performance.now();
        assertEquals(await raw.next(), null, "the server closes the connection");
        assert(performance.now() - t0 < 5000);
        await waitFor(() => e.ws.connections() === 0, 2000, "the connection to be released");
      } finally {
        raw.close();
      }
    }),
});
