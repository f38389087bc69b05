/**
 * Helpers for tests that need a real Redis: the shared server (REDIS_URL, default 127.0.0.1:6379), or a private
 * `redis-server` on a random port that a test may stop and start again. In CI (`CI=true`) a missing server is a
 * failure, never a skip.
 * @module
 */
import { deepStrictEqual } from "node:assert/strict";
import { Redis } from "ioredis";

/** Throws unless `cond` is truthy. */
export function assert(cond: unknown, msg = "Assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/** Deep strict equality, with the difference in the error. */
export function assertEquals<T>(actual: unknown, expected: T, msg?: string): asserts actual is T {
  deepStrictEqual(actual, expected, msg);
}

/** The Redis URL tests use. */
export const REDIS_URL: string = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";

/** True when running in CI, where a missing server must fail the tests. */
export const IN_CI: boolean = (Deno.env.get("CI") ?? "").toLowerCase() === "true";

/** Pings `url` once; true when Redis answered. */
export async function redisAnswers(url: string = REDIS_URL, timeoutMs = 1500): Promise<boolean> {
  const r = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  r.on("error", () => {});
  try {
    await r.connect();
    return (await r.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

/**
 * Whether tests needing Redis should be ignored: false when Redis answers; throws in CI when it does not.
 * Use as `Deno.test({ ignore: await ignoreWithoutRedis(), … })`.
 */
export async function ignoreWithoutRedis(): Promise<boolean> {
  if (await redisAnswers()) return false;
  if (IN_CI) throw new Error(`Redis is required in CI: no answer at ${REDIS_URL}`);
  console.warn(`Redis tests skipped: no answer at ${REDIS_URL} (they fail instead when CI=true)`);
  return true;
}

/** A random suffix for job ids and keys. */
export function randomId(prefix = "test"): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

/** Deletes every key a bus test may have made for these jobs. */
export async function cleanupJobs(jobIds: string[], url: string = REDIS_URL): Promise<void> {
  if (jobIds.length === 0) return;
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  r.on("error", () => {});
  try {
    await r.connect();
    const keys = jobIds.flatMap((id) => [
      `job_status:${id}`,
      `job_events:${id}`,
      `job_acl:${id}`,
      `job_cancel:${id}`,
    ]);
    await r.del(...keys);
  } catch {
    /* best effort */
  } finally {
    r.disconnect();
  }
}

/** Polls `fn` until it returns true, or throws after `timeoutMs`. */
export async function waitFor(fn: () => boolean | Promise<boolean>, timeoutMs = 5000, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A `redis-server` of this test's own, on a free port, without persistence; stop and start it at will. */
export class PrivateRedis {
  #child: Deno.ChildProcess | null = null;
  readonly port: number;

  constructor(port?: number) {
    this.port = port ?? freePort();
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server and waits until it answers. */
  async start(): Promise<void> {
    if (this.#child) return;
    const cmd = new Deno.Command("redis-server", {
      args: ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      stdout: "null",
      stderr: "null",
    });
    this.#child = cmd.spawn();
    await waitFor(() => redisAnswers(this.url, 300), 10_000, `redis-server on port ${this.port}`);
  }

  /** Kills the server and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = null;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
  }
}

/** A TCP port that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * A TCP proxy in front of Redis that can stop forwarding without closing anything: Redis then looks alive
 * (connections open, no reset) but never answers, as in a network partition or a frozen failover.
 */
export class FreezingProxy {
  /** While true, nothing is forwarded in either direction (bytes read meanwhile are dropped). */
  frozen = false;
  readonly #listener: Deno.TcpListener;
  readonly #target: { hostname: string; port: number };
  readonly #conns = new Set<Deno.Conn>();
  readonly #pumps = new Set<Promise<void>>();
  #accepting: Promise<void>;

  constructor(targetUrl: string = REDIS_URL) {
    const u = new URL(targetUrl);
    this.#target = { hostname: u.hostname, port: Number(u.port || 6379) };
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  /** The proxy's Redis URL. */
  get url(): string {
    return `redis://127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}`;
  }

  async #accept(): Promise<void> {
    try {
      for await (const client of this.#listener) {
        this.#conns.add(client);
        let upstream: Deno.Conn;
        try {
          upstream = await Deno.connect(this.#target);
        } catch {
          this.#drop(client);
          continue;
        }
        this.#conns.add(upstream);
        for (const [from, to] of [[client, upstream], [upstream, client]]) {
          const p = this.#pump(from, to);
          this.#pumps.add(p);
          p.finally(() => this.#pumps.delete(p));
        }
      }
    } catch { /* listener closed */ }
  }

  async #pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        if (this.frozen) continue;
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
    } catch { /* closed */ }
    this.#drop(from);
    this.#drop(to);
  }

  #drop(c: Deno.Conn): void {
    if (!this.#conns.delete(c)) return;
    try {
      c.close();
    } catch { /* closed */ }
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const c of [...this.#conns]) this.#drop(c);
    await Promise.allSettled([...this.#pumps]);
  }
}
