/**
 * Per-job overhead from a Kafka record to the engine starting on it, against the real service started in this
 * process (real Kafka, real Redis, the real engine on the CPU backend, a tiny real database and tiny simulated
 * reads), with its own random topics. Imported by `bench/service.ts`; also runs alone:
 * `deno run -A bench/job_overhead.ts [--jobs N] [--repeat R] [--idle-ms MS]`.
 *
 * N jobs (default 20, after one warm-up job that is not counted) are produced one after another by one
 * long-lived producer, each once the previous has completed. For each, the clock starts just before
 * `producer.send` and the Redis channel `job_updates:{id}` is subscribed to before that. Figures:
 *
 * - engine start: the service's own "Engine run started" log line for the job (captured in-process through
 *   the logger's sink), written just before the worker calls the engine. This is the figure against the
 *   100 ms target.
 * - first `screening` update on Redis: what a client sees. It lags the engine start by design: the engine's
 *   progress is polled every PROGRESS_INTERVAL_MS (50 ms here, as in the tests; 250 ms by default) and the
 *   progress bus sends at most 10 intermediate updates per second per job (later ones supersede pending
 *   ones). The first update at or after `screening` counts, since a short run can skip past it.
 * - pickup: the first update on Redis (`submitted`, sent at once when the consumer takes the job) and the
 *   `validating_input` update (often coalesced away, so its own `timestamp` field is used when seen).
 * - completed: the `completed` update on Redis.
 *
 * @module
 */
import type { Kafka, Producer } from "kafkajs";
import type { Redis } from "ioredis";
import { createLogger } from "../src/log.ts";
import { SERVICE_STAGES } from "../src/progress/bus.ts";
import { type Service, startService } from "../src/service/service.ts";
import {
  cleanupRedis,
  createTopics,
  deleteTopics,
  jobFor,
  makeWorkspace,
  randomSuffix,
  serviceEnv,
  testConfig,
  testKafka,
  testRedis,
  testTopics,
  type Workspace,
} from "../tests/utils.ts";

type BenchRow = [figure: string, value: string, target: string];

/** What was seen of one job, in ms after `producer.send` was called (null: not seen). */
interface JobTimes {
  jobId: string;
  engineStart: number | null;
  consumerPickup: number | null;
  firstUpdate: number | null;
  validatingStamp: number | null;
  screening: number | null;
  screeningExact: boolean;
  completed: number | null;
  failed: string | null;
}

const RANK = new Map<string, number>(SERVICE_STAGES.map((s, i) => [s, i]));
const SCREENING = RANK.get("screening")!;

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

/** Measures the per-job overhead; returns rows [figure, value, target]. */
export async function measureJobOverhead(
  o: { jobs?: number; repeat?: number; idleMs?: number; timeoutMs?: number } = {},
): Promise<BenchRow[]> {
  const jobs = o.jobs ?? flag("jobs", 20);
  // Repeating the reads keeps the engine in `screening` past the first progress poll and the bus's rate
  // limit, so the update is sent before `completed` supersedes it.
  const repeat = o.repeat ?? flag("repeat", 200);
  const idleMs = o.idleMs ?? flag("idle-ms", 1500);
  const timeoutMs = o.timeoutMs ?? 60_000;
  const kafka: Kafka = testKafka();
  const redis: Redis = testRedis();
  const sub: Redis = testRedis();
  const topics = testTopics();
  let ws: Workspace | undefined;
  let service: Service | undefined;
  let producer: Producer | undefined;
  const jobIds: string[] = [];
  const times: JobTimes[] = [];
  const backToBack: JobTimes[] = [];
  // In-process marks from the service's log lines, keyed by job id.
  const marks = new Map<string, { pickup?: number; engine?: number }>();
  const listeners = new Map<string, (raw: string, at: number) => void>();
  sub.on("message", (channel: string, raw: string) => {
    const at = performance.now();
    listeners.get(channel)?.(raw, at);
  });
  try {
    ws = await makeWorkspace({ pairs: 300, gzip: true, repeat });
    await createTopics(kafka, topics);
    const env = serviceEnv(topics, ws);
    const config = await testConfig(env);
    const log = createLogger({
      level: "info",
      base: { worker_id: config.WORKER_ID },
      sink: (line) => {
        const at = performance.now();
        const rec = JSON.parse(line);
        if (rec.msg === "Job started" || rec.msg === "Engine run started") {
          const m = marks.get(rec.job_id) ?? {};
          if (rec.msg === "Job started") m.pickup ??= at;
          else m.engine ??= at;
          marks.set(rec.job_id, m);
        } else if (rec.level === "warn" || rec.level === "error") {
          console.error(line);
        }
      },
    });
    service = await startService(config, { log });
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    console.error(
      `job overhead: 1 warm-up job, then ${jobs} jobs each ${idleMs} ms after the previous completed, ` +
        `then ${jobs} back to back…`,
    );
    for (let i = 0; i <= jobs; i++) {
      await new Promise((r) => setTimeout(r, idleMs));
      const jobId = `bench-${randomSuffix()}`;
      jobIds.push(jobId);
      const t = await runOne(jobId);
      if (i > 0) times.push(t);
    }
    for (let i = 0; i < jobs; i++) {
      const jobId = `bench-${randomSuffix()}`;
      jobIds.push(jobId);
      backToBack.push(await runOne(jobId));
    }
  } finally {
    await producer?.disconnect().catch(() => {});
    await service?.stop();
    listeners.clear();
    sub.disconnect();
    await cleanupRedis(redis, jobIds);
    redis.disconnect();
    await deleteTopics(kafka, topics);
    await ws?.cleanup();
  }
  return rows(times, backToBack, { jobs, repeat, idleMs });

  async function runOne(jobId: string): Promise<JobTimes> {
    const channel = `job_updates:${jobId}`;
    const t: JobTimes = {
      jobId,
      engineStart: null,
      consumerPickup: null,
      firstUpdate: null,
      validatingStamp: null,
      screening: null,
      screeningExact: false,
      completed: null,
      failed: null,
    };
    let t0 = 0;
    let wall0 = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => done = r);
    listeners.set(channel, (raw, at) => {
      const u = JSON.parse(raw);
      const dt = at - t0;
      t.firstUpdate ??= dt;
      if (u.stage === "validating_input") t.validatingStamp ??= Date.parse(u.timestamp) - wall0;
      const rank = RANK.get(u.stage) ?? -1;
      if (t.screening === null && rank >= SCREENING && u.stage !== "failed" && u.stage !== "cancelled") {
        t.screening = dt;
        t.screeningExact = u.stage === "screening";
      }
      if (u.stage === "completed") {
        t.completed = dt;
        done();
      } else if (u.stage === "failed" || u.stage === "cancelled") {
        t.failed = `${u.stage}: ${u.message}`;
        done();
      }
    });
    await sub.subscribe(channel);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      wall0 = Date.now();
      t0 = performance.now();
      await producer!.send({
        topic: topics.jobs,
        acks: -1,
        messages: [{ key: jobId, value: JSON.stringify(jobFor(ws!, jobId)) }],
      });
      await Promise.race([
        finished,
        new Promise<void>((r) => timer = setTimeout(r, timeoutMs)),
      ]);
    } finally {
      clearTimeout(timer);
      listeners.delete(channel);
      await sub.unsubscribe(channel);
    }
    if (t.completed === null && t.failed === null) t.failed = `no final update within ${timeoutMs} ms`;
    if (t.failed) console.error(`job overhead: ${jobId} ${t.failed}`);
    const m = marks.get(jobId);
    if (m?.pickup !== undefined) t.consumerPickup = m.pickup - t0;
    if (m?.engine !== undefined) t.engineStart = m.engine - t0;
    return t;
  }
}

function quantile(values: number[], p: number): number {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const pos = (v.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

function rows(
  times: JobTimes[],
  backToBack: JobTimes[],
  o: { jobs: number; repeat: number; idleMs: number },
): BenchRow[] {
  const ok = times.filter((t) => t.failed === null);
  const pick = (f: (t: JobTimes) => number | null, from = ok) =>
    from.map(f).filter((v): v is number => v !== null);
  const ms = (v: number) => Number.isFinite(v) ? `${v.toFixed(1)} ms` : "n/a";
  const pair = (what: string, values: number[], target = ""): BenchRow[] => [
    [`${what} (median)`, ms(quantile(values, 0.5)), target],
    [`${what} (p90)`, ms(quantile(values, 0.9)), ""],
  ];
  const engine = pick((t) => t.engineStart);
  const screening = pick((t) => t.screening);
  const b2b = backToBack.filter((t) => t.failed === null);
  return [
    ...pair(`per-job overhead, Kafka record → engine start, ${o.idleMs} ms idle`, engine, "< 100 ms"),
    ...pair("Kafka record → consumer pickup (service log)", pick((t) => t.consumerPickup)),
    ...pair("Kafka record → first Redis update (submitted)", pick((t) => t.firstUpdate)),
    ...pair("Kafka record → validating_input (update timestamp)", pick((t) => t.validatingStamp)),
    ...pair("Kafka record → first Redis update at/after screening", screening),
    ...pair("Kafka record → completed on Redis", pick((t) => t.completed)),
    ...pair(
      "per-job overhead, Kafka record → engine start, back to back",
      pick((t) => t.engineStart, b2b),
      "< 100 ms",
    ),
    ...pair("back to back: Kafka record → consumer pickup", pick((t) => t.consumerPickup, b2b)),
    [
      "jobs measured (completed / produced), idle + back to back",
      `${ok.length} / ${times.length} + ${b2b.length} / ${backToBack.length}`,
      `${o.jobs} + ${o.jobs}`,
    ],
    [
      "of them, `screening` itself seen / validating_input seen",
      `${ok.filter((t) => t.screeningExact).length} / ${ok.filter((t) => t.validatingStamp !== null).length}`,
      `(reads repeated ×${o.repeat})`,
    ],
  ];
}

if (import.meta.main) {
  for (const r of await measureJobOverhead()) console.log(r.join(" | "));
}
