/**
 * Shared helpers of the service's integration tests: real Kafka (scripts/kafka.sh) and real Redis, random
 * topics and keys per test, a tiny real database and deterministic reads, waiting utilities, and the
 * service started in-process or as a subprocess. In CI (`CI=true`) a missing server fails the tests.
 *
 * @module
 */

import { type Admin, Kafka, logLevel } from "kafkajs";
import { Redis } from "ioredis";
import { type Config, loadConfig, type SettingKey } from "../src/config/mod.ts";
import { createLogger, type Logger, type LogLevel } from "../src/log.ts";
import { type Service, startService } from "../src/service/service.ts";
import type { JobUpdate } from "../src/progress/bus.ts";

/** Brokers the tests use. */
export const KAFKA_SERVERS: string = Deno.env.get("KAFKA_SERVERS") ?? "127.0.0.1:9092";
/** Redis the tests use. */
export const REDIS_URL: string = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
/** True in CI, where a missing server is a failure. */
export const IN_CI: boolean = (Deno.env.get("CI") ?? "").toLowerCase() === "true";
/** The JWT secret of test services. */
export const TEST_JWT_SECRET = "test-secret-0123456789-abcdefghijklmnop";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

async function portAnswers(hostPort: string, timeoutMs = 1500): Promise<boolean> {
  const [hostname, port] = hostPort.split(":");
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const conn = await Promise.race([
      Deno.connect({ hostname, port: Number(port) }),
      new Promise<never>((_, rej) => timer = setTimeout(() => rej(new Error("timeout")), timeoutMs)),
    ]);
    conn.close();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether service integration tests must be ignored: false when Kafka and Redis answer; in CI a missing
 * server throws (a failure, never a skip). Use as `Deno.test({ ignore: await ignoreWithoutServers(), … })`.
 */
export async function ignoreWithoutServers(): Promise<boolean> {
  const redisUrl = new URL(REDIS_URL);
  const missing: string[] = [];
  if (!await portAnswers(KAFKA_SERVERS.split(",")[0])) {
    missing.push(`Kafka at ${KAFKA_SERVERS} (scripts/kafka.sh up)`);
  }
  if (!await portAnswers(`${redisUrl.hostname}:${redisUrl.port || 6379}`)) {
    missing.push(`Redis at ${REDIS_URL}`);
  }
  if (missing.length === 0) return false;
  if (IN_CI) throw new Error(`Service tests need ${missing.join(" and ")}; none answered`);
  console.warn(`Service tests skipped: no answer from ${missing.join(", ")} (CI=true makes this a failure)`);
  return true;
}

/** A random lower-case suffix. */
export function randomSuffix(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 12);
}

/** Topic names and group of one test. */
export interface TestTopics {
  jobs: string;
  retry: string;
  dlq: string;
  results: string;
  group: string;
}

/** Fresh topic names and consumer group for one test. */
export function testTopics(): TestTopics {
  const s = randomSuffix();
  return {
    jobs: `test.${s}.new_jobs`,
    retry: `test.${s}.new_jobs.retry`,
    dlq: `test.${s}.failed_jobs_dlq`,
    results: `test.${s}.job_results`,
    group: `test.${s}.biogpu_workers`,
  };
}

/** A quiet KafkaJS client for tests. */
export function testKafka(): Kafka {
  return new Kafka({
    clientId: "biogpu-tests",
    brokers: KAFKA_SERVERS.split(","),
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 200 },
  });
}

/** Creates the topics (one partition each). */
export async function createTopics(kafka: Kafka, t: TestTopics): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [t.jobs, t.retry, t.dlq, t.results].map((topic) => ({ topic, numPartitions: 1 })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** Deletes the topics and group of a test (best effort). */
export async function deleteTopics(kafka: Kafka, t: TestTopics): Promise<void> {
  const admin: Admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([t.group]).catch(() => {});
    await admin.deleteTopics({ topics: [t.jobs, t.retry, t.dlq, t.results] }).catch(() => {});
  } catch {
    // Best effort.
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Produces one record (a job object is sent as JSON). */
export async function produce(
  kafka: Kafka,
  topic: string,
  value: unknown,
  o: { key?: string; headers?: Record<string, string> } = {},
): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: [{
        key: o.key ?? null,
        value: typeof value === "string" ? value : JSON.stringify(value),
        headers: o.headers,
      }],
    });
  } finally {
    await producer.disconnect();
  }
}

/** A record as tests see it. */
export interface TestRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** Reads every record of `topic` present now (via the DLQ reader, which leaves no group behind). */
export async function readAll(kafka: Kafka, topic: string): Promise<TestRecord[]> {
  const { readTopic } = await import("../src/kafka/dlq.ts");
  const records = await readTopic(kafka, topic, 20000);
  return records.map((r) => ({
    partition: r.partition,
    offset: r.offset,
    key: r.key,
    value: r.value,
    headers: r.headers,
  }));
}

/** Polls `fn` until it returns a truthy value; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  o: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (o.timeoutMs ?? 30000);
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 200));
  }
  throw new Error(`Timed out after ${o.timeoutMs ?? 30000} ms waiting for ${o.what ?? "a condition"}`, {
    cause: last,
  });
}

/** Waits until `topic` holds at least `n` records matching `pred`; returns the matching ones. */
export function waitForRecords(
  kafka: Kafka,
  topic: string,
  pred: (r: TestRecord) => boolean,
  o: { n?: number; timeoutMs?: number } = {},
): Promise<TestRecord[]> {
  return waitFor(async () => {
    const rs = (await readAll(kafka, topic)).filter(pred);
    return rs.length >= (o.n ?? 1) ? rs : null;
  }, { timeoutMs: o.timeoutMs ?? 60000, intervalMs: 500, what: `${o.n ?? 1} record(s) on ${topic}` });
}

/** A short-lived Redis client for reading job state. */
export function testRedis(): Redis {
  const r = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  r.on("error", () => {});
  return r;
}

/** The latest update of a job (`job_status:{id}`), or null. */
export async function jobStatus(redis: Redis, jobId: string): Promise<JobUpdate | null> {
  const raw = await redis.get(`job_status:${jobId}`);
  return raw ? JSON.parse(raw) : null;
}

/** Every stored update of a job (`job_events:{id}`), oldest first. */
export async function jobEvents(redis: Redis, jobId: string): Promise<JobUpdate[]> {
  const entries = await redis.xrange(`job_events:${jobId}`, "-", "+");
  return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf("update") + 1]));
}

/** Deletes a job's Redis keys. */
export async function cleanupRedis(redis: Redis, jobIds: string[]): Promise<void> {
  const keys = jobIds.flatMap((
    id,
  ) => [`job_status:${id}`, `job_events:${id}`, `job_acl:${id}`, `job_cancel:${id}`]);
  if (keys.length) await redis.del(...keys).catch(() => {});
}

// ---------------------------------------------------------------------------------------------------------
// Tiny real database and deterministic reads

const RESFINDER = "/usr/share/resfinder/db";

/** Copies two small ResFinder classes (fusidic acid, rifampicin) and phenotypes.txt into `dir`. */
export async function makeTinyDb(dir: string): Promise<string> {
  const db = `${dir}/resfinder`;
  await Deno.mkdir(db, { recursive: true });
  for (const f of ["fusidicacid.fsa", "rifampicin.fsa", "phenotypes.txt"]) {
    await Deno.copyFile(`${RESFINDER}/${f}`, `${db}/${f}`);
  }
  return db;
}

/** The first sequence of a FASTA file, upper-case. */
export async function firstSequence(path: string): Promise<{ name: string; seq: string }> {
  const text = await Deno.readTextFile(path);
  const rec = text.split(">")[1];
  const [header, ...lines] = rec.split("\n");
  return { name: header.trim().split(/\s+/)[0], seq: lines.join("").replace(/\s/g, "").toUpperCase() };
}

const COMP: Record<string, string> = { A: "T", C: "G", G: "C", T: "A" };
const revcomp = (s: string) => [...s].reverse().map((c) => COMP[c] ?? "N").join("");

/**
 * Writes `pairs` error-free read pairs (100 bp, 300 bp fragments, both strands) drawn deterministically from
 * `seq` to `{dir}/{name}_R1.fastq[.gz]` and `_R2`; returns both paths.
 */
export async function writeReads(
  dir: string,
  name: string,
  seq: string,
  o: { pairs: number; seed?: number; gzip?: boolean; readLength?: number; repeat?: number },
): Promise<{ r1: string; r2: string }> {
  const len = o.readLength ?? 100;
  const frag = Math.min(300, seq.length);
  let x = o.seed ?? 42;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  const q = "I".repeat(len);
  const chunks1: string[] = [];
  const chunks2: string[] = [];
  for (let i = 0; i < o.pairs; i++) {
    const start = next() % (seq.length - frag + 1);
    let f = seq.slice(start, start + frag);
    if (next() & 1) f = revcomp(f);
    chunks1.push(`@${name}.${i} 1:N:0:1\n${f.slice(0, len)}\n+\n${q}\n`);
    chunks2.push(`@${name}.${i} 2:N:0:1\n${revcomp(f).slice(0, len)}\n+\n${q}\n`);
  }
  const ext = o.gzip ? ".fastq.gz" : ".fastq";
  const out = { r1: `${dir}/${name}_R1${ext}`, r2: `${dir}/${name}_R2${ext}` };
  for (const [path, chunks] of [[out.r1, chunks1], [out.r2, chunks2]] as const) {
    const data = new TextEncoder().encode(chunks.join(""));
    if (o.gzip) {
      const stream = new Blob([data]).stream().pipeThrough(new CompressionStream("gzip"));
      const member = new Uint8Array(await new Response(stream).arrayBuffer());
      // Repeating the gzip member gives a valid multi-member file: a big input for the cost of a small one.
      const file = await Deno.open(path, { write: true, create: true, truncate: true });
      try {
        for (let i = 0; i < (o.repeat ?? 1); i++) {
          let off = 0;
          while (off < member.length) off += await file.write(member.subarray(off));
        }
      } finally {
        file.close();
      }
    } else {
      await Deno.writeFile(path, data);
    }
  }
  return out;
}

/** A workspace for one test: temp folder, tiny database, one sample's reads. */
export interface Workspace {
  dir: string;
  db: string;
  cacheDir: string;
  r1: string;
  r2: string;
  gene: string;
  cleanup(): Promise<void>;
}

/**
 * Creates a workspace with `pairs` read pairs from the first fusidic-acid allele (fusB); `repeat` (gzip only)
 * repeats them for a long-running job.
 */
export async function makeWorkspace(
  o: { pairs?: number; gzip?: boolean; repeat?: number } = {},
): Promise<Workspace> {
  const dir = await Deno.makeTempDir({ prefix: "biogpu-service-test-" });
  const db = await makeTinyDb(dir);
  const { name, seq } = await firstSequence(`${db}/fusidicacid.fsa`);
  const reads = await writeReads(dir, "S1", seq, {
    pairs: o.pairs ?? 300,
    gzip: o.gzip ?? true,
    repeat: o.repeat,
  });
  return {
    dir,
    db,
    cacheDir: `${dir}/cache`,
    ...reads,
    gene: name.split("_")[0],
    cleanup: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/** A job for the workspace's sample. */
export function jobFor(
  ws: Workspace,
  jobId: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    job_id: jobId,
    sample_id: "S1",
    path_to_r1: ws.r1,
    path_to_r2: ws.r2,
    output_path: `${ws.dir}/out/${jobId}`,
    owner: "alice",
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------------------
// The service

/** Settings of a test service: its topics, free ports, the tiny database, quick retries. */
export function serviceEnv(t: TestTopics, ws: Workspace, extra: Partial<Record<SettingKey, string>> = {}) {
  return {
    KAFKA_SERVERS,
    REDIS_URL,
    KAFKA_TOPIC_JOBS: t.jobs,
    KAFKA_TOPIC_RETRY: t.retry,
    KAFKA_TOPIC_DLQ: t.dlq,
    KAFKA_TOPIC_RESULTS: t.results,
    KAFKA_GROUP_ID: t.group,
    KAFKA_TOPIC_PARTITIONS: "1",
    KAFKA_SESSION_TIMEOUT_MS: "6000",
    KAFKA_HEARTBEAT_INTERVAL_MS: "1000",
    JWT_SECRET: TEST_JWT_SECRET,
    HOST: "127.0.0.1",
    HTTP_PORT: "0",
    WS_PORT: "0",
    REFERENCE_DB_PATH: ws.db,
    RESISTANCE_DB_PATH: "",
    DB_CACHE_DIR: ws.cacheDir,
    ENGINE_BACKEND: "cpu",
    ENGINE_THREADS: "1",
    MAX_RETRIES: "2",
    BASE_RETRY_DELAY: "1",
    MAX_RETRY_DELAY: "10",
    RETRY_JITTER: "0",
    SHUTDOWN_GRACE_MS: "1000",
    PROGRESS_INTERVAL_MS: "50",
    LOG_LEVEL: Deno.env.get("TEST_LOG_LEVEL") ?? "error",
    WORKER_ID: `test-worker-${randomSuffix()}`,
    ...extra,
  } satisfies Partial<Record<SettingKey, string>>;
}

/** Test config from {@link serviceEnv}. */
export function testConfig(env: Record<string, string>): Promise<Config> {
  return loadConfig({ env, readFile: () => Promise.reject(new Error("no config file in tests")) });
}

/** Starts the service in this process. */
export async function startTestService(env: Record<string, string>, log?: Logger): Promise<Service> {
  const config = await testConfig(env);
  return await startService(config, {
    log: log ?? createLogger({ level: config.LOG_LEVEL as LogLevel, base: { worker_id: config.WORKER_ID } }),
  });
}

/** The service as a child process (`src/service/cli.ts serve`), with its stderr kept for diagnosis. */
export function spawnService(env: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/src/service/cli.ts`, "serve"],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/** Runs `src/service/cli.ts` with `args` and `env`; returns its exit code and output. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/src/service/cli.ts`, ...args],
    cwd: ROOT,
    env,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
