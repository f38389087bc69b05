/**
 * Service benchmark (`deno task bench:service`): prints figures, asserts nothing.
 *
 * 1. Progress latency: time from `bus.publish()` to a WebSocket client's `onmessage`, p50/p99, with N clients
 *    (default 1,000) subscribed to one job (every update fans out to all of them). Target p99 < 50 ms.
 * 2. Idle connections: the server's RSS with M (default 10,000) authenticated idle connections. Target < 600 MB.
 * 3. Per-job overhead from Kafka record to engine start: measured by `bench/job_overhead.ts` when that module
 *    exists (it exports `measureJobOverhead(): Promise<BenchRow[]>`); the row says so otherwise.
 *
 * The clients live in a second process (this file with `--client`), so the server's RSS is its own. Each side
 * holds one file descriptor per connection: with M connections `ulimit -n` must exceed M + 100 in both
 * processes (the child is started through `sh -c "ulimit -n …"` up to the hard limit; raise the hard limit
 * with `ulimit -Hn` if it is lower).
 *
 * Needs Redis at REDIS_URL (default redis://127.0.0.1:6379).
 * Flags: --clients N, --idle M, --updates K, --interval-ms MS.
 * @module
 */
import { createMetrics } from "../src/metrics/mod.ts";
import { ProgressBus } from "../src/progress/bus.ts";
import { cleanupJobs, REDIS_URL, redisAnswers } from "../src/progress/testing.ts";
import { startWsServer } from "../src/ws/server.ts";
import { hsToken } from "../src/ws/testing.ts";

/** One line of the printed table. */
export type BenchRow = [figure: string, value: string, target: string];

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const now = () => performance.timeOrigin + performance.now();

if (Deno.args.includes("--client")) await clientMain();
else await serverMain();

async function serverMain(): Promise<void> {
  const clients = flag("clients", 1000);
  const idle = flag("idle", 10_000);
  const updates = flag("updates", 100);
  const intervalMs = flag("interval-ms", 120);
  if (!(await redisAnswers())) {
    console.error(`Cannot run the benchmark: no Redis answers at ${REDIS_URL}`);
    Deno.exit(1);
  }
  const fdLimit = await softFdLimit();
  const rows: BenchRow[] = [];
  const secret = crypto.randomUUID() + crypto.randomUUID();
  const metrics = createMetrics();
  const bus = new ProgressBus({ redisUrl: REDIS_URL, statusTtlSeconds: 600, streamMaxLen: 200, metrics });
  await bus.start();
  const ws = await startWsServer({
    port: 0,
    hostname: "127.0.0.1",
    auth: { secret },
    bus,
    metrics,
    limits: { authTimeoutMs: 120_000, idleTimeoutMs: 120_000 },
  });
  const token = await hsToken(secret, { sub: "bench" }, "2h");
  const jobId = `bench-${crypto.randomUUID()}`;
  const rssStart = Deno.memoryUsage().rss;
  try {
    // 1. Latency with N subscribed clients.
    await bus.registerJob(jobId, { owner: "bench" });
    bus.publish({ job_id: jobId, sample_id: "B", stage: "submitted", progress: 0, message: "start" });
    await new Promise((r) => setTimeout(r, 200));
    console.error(`latency: ${clients} clients, ${updates} updates every ${intervalMs} ms…`);
    const lat = spawnClient(["latency", String(ws.port), token, jobId, String(clients)], clients);
    await lat.line((l) => l === "READY");
    for (let i = 1; i <= updates; i++) {
      bus.publish({
        job_id: jobId,
        sample_id: "B",
        stage: "screening",
        progress: i / (updates + 1),
        message: `update ${i}`,
        data: { t: now() },
      });
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    bus.publish({
      job_id: jobId,
      sample_id: "B",
      stage: "completed",
      progress: 1,
      message: "done",
      data: { t: now() },
    });
    const stats = JSON.parse(await lat.line((l) => l.startsWith("{")));
    await lat.done();
    rows.push(
      ["progress latency p50 (publish → client)", `${stats.p50.toFixed(2)} ms`, ""],
      ["progress latency p99", `${stats.p99.toFixed(2)} ms`, "< 50 ms"],
      ["progress latency max", `${stats.max.toFixed(2)} ms`, ""],
      ["latency samples (updates × clients)", `${stats.count}`, `${(updates + 1) * clients}`],
    );
    await waitFor(() => ws.connections() === 0);

    // 2. Idle authenticated connections.
    let n = idle;
    if (fdLimit !== null && fdLimit < n + 200) {
      n = Math.max(0, fdLimit - 200);
      console.error(
        `idle: the file descriptor limit is ${fdLimit}; measuring ${n} connections instead of ${idle}`,
      );
    }
    const before = Deno.memoryUsage().rss;
    console.error(`idle: opening ${n} authenticated connections…`);
    const t0 = performance.now();
    const idleClient = spawnClient(["idle", String(ws.port), token, "-", String(n)], n);
    await idleClient.line((l) => l === "READY");
    const openSeconds = (performance.now() - t0) / 1000;
    await waitFor(() => ws.connections() >= n);
    await new Promise((r) => setTimeout(r, 1000));
    const after = Deno.memoryUsage().rss;
    rows.push(
      ["idle authenticated connections", `${ws.connections()}`, `${idle}`],
      ["server RSS before them", mb(before), ""],
      ["server RSS with them", mb(after), "< 600 MB"],
      ["RSS per connection", `${((after - before) / Math.max(1, n) / 1024).toFixed(1)} KiB`, ""],
      ["time to open and authenticate them", `${openSeconds.toFixed(1)} s`, ""],
    );
    await idleClient.done();
  } finally {
    await ws.close();
    await bus.close();
    await cleanup(jobId);
  }

  // 3. Per-job overhead (Kafka record → engine start), owned by the job service.
  rows.push(...await jobOverhead());
  rows.push(["server RSS at start", mb(rssStart), ""]);
  printTable(rows);
}

async function jobOverhead(): Promise<BenchRow[]> {
  const url = new URL("./job_overhead.ts", import.meta.url);
  try {
    await Deno.stat(url);
  } catch {
    return [[
      "per-job overhead (Kafka record → engine start)",
      "not measured: bench/job_overhead.ts absent",
      "< 100 ms",
    ]];
  }
  const mod = await import(url.href);
  return await mod.measureJobOverhead() as BenchRow[];
}

function printTable(rows: BenchRow[]): void {
  const w0 = Math.max(6, ...rows.map((r) => r[0].length));
  const w1 = Math.max(5, ...rows.map((r) => r[1].length));
  const w2 = Math.max(6, ...rows.map((r) => r[2].length));
  const line = (a: string, b: string, c: string) =>
    `| ${a.padEnd(w0)} | ${b.padStart(w1)} | ${c.padEnd(w2)} |`;
  console.log(line("figure", "value", "target"));
  console.log(`|${"-".repeat(w0 + 2)}|${"-".repeat(w1 + 2)}|${"-".repeat(w2 + 2)}|`);
  for (const r of rows) console.log(line(...r));
}

function spawnClient(args: string[], connections: number) {
  const script = new URL(import.meta.url).pathname;
  const want = connections + 200;
  const cmd = new Deno.Command("sh", {
    args: [
      "-c",
      `ulimit -n ${want} 2>/dev/null || ulimit -n $(ulimit -Hn); s="$1"; shift; exec "$0" run -A "$s" --client "$@"`,
      Deno.execPath(),
      script,
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  });
  const child = cmd.spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  return {
    async line(match: (l: string) => boolean): Promise<string> {
      while (true) {
        const nl = pending.indexOf("\n");
        if (nl >= 0) {
          const l = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (match(l)) return l;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("The client process ended early");
        pending += value;
      }
    },
    async done(): Promise<void> {
      await child.stdin.close();
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      await child.status;
    },
  };
}

async function clientMain(): Promise<void> {
  const [, mode, port, token, jobId, count] = Deno.args.slice(Deno.args.indexOf("--client"));
  const n = Number(count);
  const url = `ws://127.0.0.1:${port}`;
  const sockets: WebSocket[] = [];
  const latencies: number[] = [];
  let finished = 0;
  let resolveAll!: () => void;
  const allDone = new Promise<void>((r) => resolveAll = r);
  const open = (): Promise<WebSocket> =>
    new Promise((resolve, reject) => {
      const s = new WebSocket(url);
      s.onopen = () => s.send(JSON.stringify({ type: "auth", token }));
      s.onerror = () => reject(new Error("WebSocket error"));
      s.onmessage = (e) => {
        const m = JSON.parse(e.data as string);
        if (m.type === "auth_success") {
          if (mode === "latency") s.send(JSON.stringify({ type: "subscribe", job_id: jobId }));
          else resolve(s);
        } else if (m.type === "status_update") resolve(s);
        else if (m.type === "job_update") {
          const t = m.data?.data?.t;
          if (typeof t === "number") latencies.push(now() - t);
          if (m.data.stage === "completed" && ++finished === n) resolveAll();
        } else if (m.type === "auth_error" || m.type === "error") reject(new Error(m.message));
      };
    });
  const batch = 250;
  for (let i = 0; i < n; i += batch) {
    sockets.push(...await Promise.all(Array.from({ length: Math.min(batch, n - i) }, open)));
  }
  console.log("READY");
  if (mode === "latency") {
    await allDone;
    latencies.sort((a, b) => a - b);
    const q = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
    console.log(
      JSON.stringify({ p50: q(0.5), p99: q(0.99), max: latencies.at(-1) ?? NaN, count: latencies.length }),
    );
  }
  // Wait until the server process closes our stdin.
  for await (const _ of Deno.stdin.readable) { /* drain */ }
  for (const s of sockets) s.close();
}

async function softFdLimit(): Promise<number | null> {
  try {
    const out = await new Deno.Command("sh", { args: ["-c", "ulimit -n"], stdout: "piped" }).output();
    const v = new TextDecoder().decode(out.stdout).trim();
    return v === "unlimited" ? null : Number(v);
  } catch {
    return null;
  }
}

async function waitFor(fn: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

async function cleanup(jobId: string): Promise<void> {
  await cleanupJobs([jobId]);
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}
