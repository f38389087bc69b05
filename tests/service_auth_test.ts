/**
 * Token lifetime on both front doors: a token without `exp` is refused by the REST API and the WebSocket
 * server alike, and a WebSocket session ends when its token expires. Real Redis behind the progress bus.
 */
import { SignJWT } from "jose";
import { startHttpServer } from "../src/http/server.ts";
import { createMetrics } from "../src/metrics/mod.ts";
import { ProgressBus } from "../src/progress/bus.ts";
import { assert, assertEquals, cleanupJobs, randomId, REDIS_URL, waitFor } from "../src/progress/testing.ts";
import { CLOSE_UNAUTHORIZED, startWsServer } from "../src/ws/server.ts";
import { hsToken, TestClient } from "../src/ws/testing.ts";

const SECRET = "service-auth-test-secret-0123456789abcdef";

/** An HS256 token with no `exp` claim. */
function noExpToken(sub: string): Promise<string> {
  return new SignJWT({ sub }).setProtectedHeader({ alg: "HS256" }).setIssuedAt()
    .sign(new TextEncoder().encode(SECRET));
}

async function withServers(
  fn: (e: { bus: ProgressBus; wsUrl: string; httpBase: string; jobs: string[] }) => Promise<void>,
) {
  const metrics = createMetrics();
  const bus = new ProgressBus({
    redisUrl: REDIS_URL,
    statusTtlSeconds: 3600,
    streamMaxLen: 100,
    maxRatePerJob: 10_000,
    metrics,
  });
  await bus.start();
  const ws = await startWsServer({ port: 0, hostname: "127.0.0.1", auth: { secret: SECRET }, bus, metrics });
  const http = startHttpServer({
    port: 0,
    hostname: "127.0.0.1",
    metrics,
    readiness: () => Promise.resolve({}),
    auth: { secret: SECRET },
    bus,
  });
  const jobs: string[] = [];
  try {
    await fn({ bus, wsUrl: `ws://127.0.0.1:${ws.port}`, httpBase: `http://127.0.0.1:${http.port}`, jobs });
  } finally {
    await http.close();
    await ws.close();
    await bus.close();
    await cleanupJobs(jobs);
  }
}

Deno.test("a token without exp is refused by the REST API and the WebSocket server", () =>
  withServers(async (e) => {
    const jobId = randomId("auth");
    e.jobs.push(jobId);
    await e.bus.registerJob(jobId, { owner: "alice" });
    e.bus.publish({ job_id: jobId, sample_id: "S1", stage: "screening", progress: 0.2, message: "m" });
    await waitFor(async () => (await e.bus.snapshot(jobId)) !== null, 3000, "the update");

    const token = await noExpToken("alice");
    const r = await fetch(`${e.httpBase}/api/jobs/${jobId}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assertEquals({ status: r.status, body: await r.json() }, {
      status: 401,
      body: { error: "Token has no expiry (exp) claim" },
    });
    const cancel = await fetch(`${e.httpBase}/api/jobs/${jobId}/cancel`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    assertEquals(cancel.status, 401);
    await cancel.body?.cancel();
    assertEquals(await e.bus.isCancelled(jobId), false);
    // The same user with an expiring token is let in.
    const ok = await fetch(`${e.httpBase}/api/jobs/${jobId}`, {
      headers: { authorization: `Bearer ${await hsToken(SECRET, { sub: "alice" })}` },
    });
    assertEquals(ok.status, 200);
    await ok.body?.cancel();

    const c = await TestClient.connect(e.wsUrl);
    c.send({ type: "auth", token });
    assertEquals(await c.next(), { type: "auth_error", message: "Token has no expiry (exp) claim" });
    assertEquals((await c.closed).code, CLOSE_UNAUTHORIZED);
  }));

Deno.test("a WebSocket session is closed with 4401 when its token expires, and stops receiving updates", () =>
  withServers(async (e) => {
    const jobId = randomId("auth");
    e.jobs.push(jobId);
    await e.bus.registerJob(jobId, { owner: "alice" });
    e.bus.publish({ job_id: jobId, sample_id: "S1", stage: "screening", progress: 0.1, message: "m" });
    await waitFor(async () => (await e.bus.snapshot(jobId)) !== null, 3000, "the update");

    const exp = Math.floor(Date.now() / 1000) + 2;
    const short = await TestClient.authed(e.wsUrl, await hsToken(SECRET, { sub: "alice" }, exp));
    const long = await TestClient.authed(e.wsUrl, await hsToken(SECRET, { sub: "alice" }, "1h"));
    for (const c of [short, long]) {
      c.send({ type: "subscribe", job_id: jobId });
      assertEquals((await c.next((m) => m.type === "status_update")).data.progress, 0.1);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const closed = await Promise.race([
      short.closed,
      new Promise<never>((_, reject) =>
        timer = setTimeout(
          () => reject(new Error("the session outlived its token by 5 s")),
          exp * 1000 + 5000 - Date.now(),
        )
      ),
    ]).finally(() => clearTimeout(timer));
    const at = Date.now();
    assert(at >= exp * 1000 && at < exp * 1000 + 1500, `closed at ${at}, token expired at ${exp * 1000}`);
    assertEquals(closed, { code: CLOSE_UNAUTHORIZED, reason: "Token expired" });
    assertEquals(short.pending.filter((m) => m.type === "auth_error"), [
      { type: "auth_error", message: "Token expired" },
    ]);
    // The session with a valid token goes on.
    e.bus.publish({ job_id: jobId, sample_id: "S1", stage: "screening", progress: 0.5, message: "m" });
    assertEquals((await long.next((m) => m.type === "job_update")).data.progress, 0.5);
    long.send({ type: "ping" });
    assertEquals(await long.next((m) => m.type === "pong"), { type: "pong" });
    await long.close();
  }));
