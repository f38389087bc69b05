import { createMetrics } from "../metrics/mod.ts";
import { ProgressBus } from "../progress/bus.ts";
import {
  assert,
  assertEquals,
  cleanupJobs,
  ignoreWithoutRedis,
  PrivateRedis,
  randomId,
  REDIS_URL,
  waitFor,
} from "../progress/testing.ts";
import { hsToken } from "../ws/testing.ts";
import { startHttpServer } from "./server.ts";

const ignore = await ignoreWithoutRedis();
const SECRET = "http-test-secret-0123456789abcdef012345";

Deno.test("/health answers while alive, /metrics lists the biogpu_ metrics, / serves the dashboard", async () => {
  const metrics = createMetrics();
  const http = startHttpServer({
    port: 0,
    hostname: "127.0.0.1",
    metrics,
    readiness: () => Promise.resolve({}),
  });
  const base = `http://127.0.0.1:${http.port}`;
  try {
    const health = await fetch(`${base}/health`);
    assertEquals(health.status, 200);
    assertEquals((await health.json()).status, "ok");

    metrics.jobsTotal.inc({ outcome: "completed" });
    metrics.jobsTotal.inc({ outcome: "completed" });
    metrics.retriesTotal.inc({ error_class: "transient" });
    metrics.jobDuration.observe(12);
    metrics.engineReadPairs.inc({ backend: "cpu" }, 1000);
    metrics.consumerLag.set({ topic: "new_jobs", partition: "0" }, 3);
    const res = await fetch(`${base}/metrics`);
    assertEquals(res.status, 200);
    assert(res.headers.get("content-type")!.startsWith("text/plain"));
    const text = await res.text();
    for (
      const name of [
        "biogpu_jobs_total",
        "biogpu_job_duration_seconds",
        "biogpu_retries_total",
        "biogpu_dead_letters_total",
        "biogpu_jobs_in_progress",
        "biogpu_engine_read_pairs_total",
        "biogpu_engine_throughput_read_pairs_per_second",
        "biogpu_engine_cuda_fallbacks_total",
        "biogpu_consumer_lag",
        "biogpu_redis_publish_failures_total",
        "biogpu_ws_connections",
        "biogpu_ws_messages_sent_total",
        "biogpu_process_resident_memory_bytes",
      ]
    ) assert(text.includes(`# TYPE ${name} `), `missing ${name}`);
    assert(text.includes('biogpu_jobs_total{outcome="completed"} 2'));
    assert(text.includes('biogpu_retries_total{error_class="transient"} 1'));
    assert(text.includes("biogpu_job_duration_seconds_count 1"));
    assert(text.includes('biogpu_consumer_lag{topic="new_jobs",partition="0"} 3'));

    const page = await fetch(`${base}/`);
    assertEquals(page.status, 200);
    const html = await page.text();
    assert(html.includes("new WebSocket("));
    assert(html.includes('const config = {"wsUrl":null,"wsPort":8765};'));
    const wrong = await fetch(`${base}/health`, { method: "POST" });
    assertEquals(wrong.status, 405);
    await wrong.body?.cancel();
    const missing = await fetch(`${base}/nope`);
    assertEquals(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await http.close();
  }
});

Deno.test({
  name: "/ready answers 503 while Redis is down and 200 once it is back",
  ignore,
  async fn() {
    const redis = new PrivateRedis();
    await redis.start();
    const metrics = createMetrics();
    const bus = new ProgressBus({ redisUrl: redis.url, statusTtlSeconds: 60, streamMaxLen: 10, metrics });
    await bus.start();
    const http = startHttpServer({
      port: 0,
      hostname: "127.0.0.1",
      metrics,
      readiness: () => Promise.resolve({ redis: bus.ready(), engine: { ok: true, detail: "loaded" } }),
    });
    const ready = async () => {
      const r = await fetch(`http://127.0.0.1:${http.port}/ready`);
      return { status: r.status, body: await r.json() };
    };
    try {
      const up = await ready();
      assertEquals(up.status, 200);
      assertEquals(up.body.status, "ready");
      assertEquals(up.body.checks.engine, { ok: true, detail: "loaded" });
      await redis.stop();
      await waitFor(async () => (await ready()).status === 503, 5000, "/ready to report 503");
      const down = await ready();
      assertEquals(down.body.status, "not_ready");
      assertEquals(down.body.checks.redis.ok, false);
      assertEquals(down.body.checks.engine.ok, true);
      bus.publish({ job_id: "j-down", sample_id: "S", stage: "failed", progress: 0, message: "x" });
      const text = await (await fetch(`http://127.0.0.1:${http.port}/metrics`)).text();
      assert(/biogpu_redis_publish_failures_total [1-9]/.test(text), "publish failures are counted");
      await redis.start();
      await waitFor(async () => (await ready()).status === 200, 10_000, "/ready to report 200 again");
    } finally {
      await http.close();
      await bus.close();
      await redis.stop();
    }
  },
});

Deno.test({
  name: "the job API applies the authorization rule and answers another user's job like a missing one",
  ignore,
  async fn() {
    const metrics = createMetrics();
    const bus = new ProgressBus({ redisUrl: REDIS_URL, statusTtlSeconds: 600, streamMaxLen: 10, metrics });
    await bus.start();
    const http = startHttpServer({
      port: 0,
      hostname: "127.0.0.1",
      metrics,
      readiness: () => Promise.resolve({}),
      auth: { secret: SECRET },
      bus,
    });
    const jobId = randomId("http");
    const missing = randomId("http-missing");
    const call = async (path: string, token: string | null, method = "GET") => {
      const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
      const r = await fetch(`http://127.0.0.1:${http.port}${path}`, { method, headers });
      return { status: r.status, body: await r.json() };
    };
    try {
      await bus.registerJob(jobId, { owner: "alice", tenant: "lab-a" });
      bus.publish({ job_id: jobId, sample_id: "S1", stage: "screening", progress: 0.4, message: "m" });
      await waitFor(async () => (await bus.snapshot(jobId)) !== null, 3000, "the update");
      const alice = await hsToken(SECRET, { sub: "alice" });
      const bob = await hsToken(SECRET, { sub: "bob", tenant: "lab-b" });
      const carol = await hsToken(SECRET, { sub: "carol", tenant: "lab-a" });
      const admin = await hsToken(SECRET, { sub: "root", roles: ["admin"] });

      const own = await call(`/api/jobs/${jobId}`, alice);
      assertEquals(own.status, 200);
      assertEquals(own.body.stage, "screening");
      assertEquals((await call(`/api/jobs/${jobId}`, carol)).status, 200);
      const events = await call(`/api/jobs/${jobId}/events`, alice);
      assertEquals(events.body.events.length, 1);
      assertEquals(
        (await call(`/api/jobs/${jobId}/events?since=${events.body.events[0].id}`, alice)).body.events,
        [],
      );

      const other = await call(`/api/jobs/${jobId}`, bob);
      const none = await call(`/api/jobs/${missing}`, bob);
      assertEquals(other.status, 404);
      assertEquals(none.status, 404);
      assertEquals(other.body.error.replace(jobId, "<id>"), none.body.error.replace(missing, "<id>"));
      const otherCancel = await call(`/api/jobs/${jobId}/cancel`, bob, "POST");
      assertEquals(otherCancel.status, 404);
      assertEquals(await bus.isCancelled(jobId), false);

      assertEquals(await call(`/api/jobs/${jobId}`, null), { status: 401, body: { error: "Missing token" } });
      // RFC 6750: a challenge without an error code when no token came, with one for a bad token
      const url = `http://127.0.0.1:${http.port}/api/jobs/${jobId}`;
      const bare = await fetch(url);
      await bare.body?.cancel();
      assertEquals(bare.headers.get("www-authenticate"), 'Bearer realm="biogpu"');
      const bad = await fetch(url, { headers: { authorization: "Bearer not.a.token" } });
      await bad.body?.cancel();
      assertEquals(bad.headers.get("www-authenticate"), 'Bearer realm="biogpu", error="invalid_token"');
      const head = await fetch(url, { method: "HEAD", headers: { authorization: `Bearer ${alice}` } });
      assertEquals(head.status, 200);
      await head.body?.cancel();
      // ids no job can have are refused before any lookup, without echoing them
      for (const id of ["a".repeat(60_000), "a%20b", "x%2Fy", "%C3%A9t%C3%A9"]) {
        const r = await call(`/api/jobs/${id}`, alice);
        assertEquals(r.status, 400, id.slice(0, 20));
        assert(r.body.error.startsWith("Invalid job id: expected 1 to 200 of A-Z a-z 0-9 . _ : @ -"));
        assert(r.body.error.length < 200);
      }
      const expired = await hsToken(SECRET, { sub: "alice" }, Math.floor(Date.now() / 1000) - 10);
      assertEquals(await call(`/api/jobs/${jobId}`, expired), {
        status: 401,
        body: { error: "Token expired" },
      });

      const cancel = await call(`/api/jobs/${jobId}/cancel`, admin, "POST");
      assertEquals(cancel, { status: 202, body: { job_id: jobId, status: "cancel_requested" } });
      assertEquals(await bus.isCancelled(jobId), true);
      assertEquals((await call(`/api/jobs/${jobId}/cancel`, alice)).status, 405);
    } finally {
      await http.close();
      await bus.close();
      await cleanupJobs([jobId]);
    }
  },
});

Deno.test({
  name: "with a certificate and key configured the server speaks HTTPS",
  ignore: !(await hasOpenssl()),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const out = await new Deno.Command("openssl", {
        args: [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=localhost",
          "-addext",
          "subjectAltName=DNS:localhost,IP:127.0.0.1",
          "-addext",
          "basicConstraints=critical,CA:FALSE",
          "-keyout",
          `${dir}/key.pem`,
          "-out",
          `${dir}/cert.pem`,
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert(out.success, new TextDecoder().decode(out.stderr));
      const http = startHttpServer({
        port: 0,
        hostname: "127.0.0.1",
        tls: { cert: `${dir}/cert.pem`, key: `${dir}/key.pem` },
        metrics: createMetrics(),
        readiness: () => Promise.resolve({}),
      });
      const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(`${dir}/cert.pem`)] });
      try {
        const r = await fetch(`https://localhost:${http.port}/health`, { client });
        assertEquals(r.status, 200);
        assertEquals((await r.json()).status, "ok");
      } finally {
        client.close();
        await http.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function hasOpenssl(): Promise<boolean> {
  try {
    return (await new Deno.Command("openssl", { args: ["version"], stdout: "null" }).output()).success;
  } catch {
    return false;
  }
}

Deno.test("the dashboard connects to the WebSocket port it is given", async () => {
  const http = startHttpServer({
    port: 0,
    hostname: "127.0.0.1",
    metrics: createMetrics(),
    readiness: () => Promise.resolve({}),
    dashboard: { wsPort: 18765 },
  });
  try {
    const html = await (await fetch(`http://127.0.0.1:${http.port}/`)).text();
    assert(html.includes('const config = {"wsUrl":null,"wsPort":18765};'));
    assert(html.includes('":" + config.wsPort'));
  } finally {
    await http.close();
  }
});
