/**
 * End to end: a job produced to Kafka, watched by a WebSocket client of the running service (auth →
 * subscribe → snapshot → non-decreasing progress → completed), results files and a `job_results` record.
 */

import assert from "node:assert/strict";
import { SignJWT } from "jose";
import {
  cleanupRedis,
  createTopics,
  deleteTopics,
  ignoreWithoutServers,
  jobFor,
  makeWorkspace,
  produce,
  randomSuffix,
  serviceEnv,
  startTestService,
  TEST_JWT_SECRET,
  testKafka,
  testRedis,
  testTopics,
  waitFor,
  waitForRecords,
} from "./utils.ts";

const ignore = await ignoreWithoutServers();

function token(sub: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));
}

/** A WebSocket client that queues parsed messages. */
class Client {
  readonly ws: WebSocket;
  readonly messages: Record<string, unknown>[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<void>;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = () => resolve();
      this.ws.onerror = (e) => reject(new Error(`WebSocket error: ${(e as ErrorEvent).message}`));
    });
    this.closed = new Promise((resolve) => this.ws.onclose = () => resolve());
    this.ws.onmessage = (e) => this.messages.push(JSON.parse(e.data));
  }

  send(m: unknown): void {
    this.ws.send(JSON.stringify(m));
  }

  next(type: string, timeoutMs = 20000): Promise<Record<string, unknown>> {
    return waitFor(() => {
      const i = this.messages.findIndex((m) => m.type === type);
      return i >= 0 ? this.messages.splice(i, 1)[0] : null;
    }, { timeoutMs, intervalMs: 20, what: `a ${type} message` });
  }

  async close(): Promise<void> {
    this.ws.close();
    await this.closed;
  }
}

Deno.test({
  name: "end to end: Kafka job → WebSocket auth, subscribe, snapshot, non-decreasing progress, completed",
  ignore,
  fn: async () => {
    const kafka = testKafka();
    const redis = testRedis();
    const topics = testTopics();
    const ws = await makeWorkspace({ pairs: 20000, repeat: 10 }); // 200 k pairs: a couple of seconds
    const jobId = `job-${randomSuffix()}`;
    try {
      await createTopics(kafka, topics);
      const service = await startTestService(serviceEnv(topics, ws));
      const client = new Client(`ws://127.0.0.1:${service.ports.ws}`);
      try {
        await client.opened;
        client.send({ type: "auth", token: await token("alice") });
        assert.equal((await client.next("auth_success")).user_id, "alice");

        await produce(kafka, topics.jobs, jobFor(ws, jobId, { owner: "alice" }), { key: jobId });
        // The job is visible once the service registered its owner.
        await waitFor(() => redis.exists(`job_acl:${jobId}`), { what: "the job's ACL" });
        client.send({ type: "subscribe", job_id: jobId });
        const snapshot = await client.next("status_update");
        const first = snapshot.data as { job_id: string; stage: string; progress: number };
        assert.equal(first.job_id, jobId);

        const updates = [first];
        let last = first;
        while (last.stage !== "completed") {
          const m = await client.next("job_update", 60000);
          last = m.data as typeof first;
          assert.ok(
            !["failed", "cancelled", "retry_pending"].includes(last.stage),
            `unexpected ${last.stage}`,
          );
          updates.push(last);
        }
        const progress = updates.map((u) => u.progress);
        for (let i = 1; i < progress.length; i++) {
          assert.ok(progress[i] >= progress[i - 1], `progress decreased: ${progress.join(", ")}`);
        }
        assert.equal(last.progress, 1);
        assert.ok(
          updates.length >= 3,
          `expected several updates, got ${updates.map((u) => u.stage).join(",")}`,
        );

        const [rec] = await waitForRecords(kafka, topics.results, (r) => r.key === jobId);
        assert.equal(JSON.parse(rec.value!).status, "completed");
        assert.ok((await Deno.stat(`${ws.dir}/out/${jobId}/results.json`)).isFile);

        // Another user's job answers like a job that does not exist.
        const bob = new Client(`ws://127.0.0.1:${service.ports.ws}`);
        try {
          await bob.opened;
          bob.send({ type: "auth", token: await token("bob") });
          await bob.next("auth_success");
          bob.send({ type: "subscribe", job_id: jobId });
          assert.equal((await bob.next("error")).message, `Job not found: ${jobId}`);
        } finally {
          await bob.close();
        }

        // /ready and /metrics of the same service.
        const ready = await fetch(`http://127.0.0.1:${service.ports.http}/ready`);
        const body = await ready.json();
        assert.equal(ready.status, 200, JSON.stringify(body));
        const metrics = await (await fetch(`http://127.0.0.1:${service.ports.http}/metrics`)).text();
        assert.match(metrics, /biogpu_jobs_total\{outcome="completed"\} 1/);
      } finally {
        await client.close();
        await service.stop();
      }
    } finally {
      await cleanupRedis(redis, [jobId]);
      redis.disconnect();
      await deleteTopics(kafka, topics);
      await ws.cleanup();
    }
  },
});
