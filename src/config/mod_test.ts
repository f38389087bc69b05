import assert from "node:assert/strict";
import { assertAuthConfigured, ConfigError, exportEngineSettings, loadConfig, redacted } from "./mod.ts";

const noFile = () => Promise.reject(new Deno.errors.NotFound("no such file"));

Deno.test("defaults keep the seed's names and values", async () => {
  const c = await loadConfig({ env: {}, readFile: noFile });
  assert.equal(c.KAFKA_TOPIC_JOBS, "new_jobs");
  assert.equal(c.KAFKA_TOPIC_RETRY, "new_jobs.retry");
  assert.equal(c.KAFKA_TOPIC_DLQ, "failed_jobs_dlq");
  assert.equal(c.KAFKA_TOPIC_RESULTS, "job_results");
  assert.equal(c.KAFKA_GROUP_ID, "biogpu_workers");
  assert.equal(c.MAX_RETRIES, 3);
  assert.equal(c.BASE_RETRY_DELAY, 60);
  assert.equal(c.WS_PORT, 8765);
  assert.equal(c.HTTP_PORT, 8001);
  assert.equal(c.STATUS_TTL_SECONDS, 604800);
  assert.equal(c.REFERENCE_DB_PATH, "/usr/share/resfinder/db");
  assert.deepEqual(c.KAFKA_SERVERS, ["127.0.0.1:9092"]);
});

Deno.test("environment beats the config file, and --log-level beats both", async () => {
  const file = JSON.stringify({ MAX_RETRIES: 5, LOG_LEVEL: "warn", KAFKA_SERVERS: "a:1,b:2" });
  const c = await loadConfig({
    args: ["--config", "c.json", "--log-level", "debug"],
    env: { MAX_RETRIES: "7", SPECIES: "escherichia_coli, salmonella" },
    readFile: () => Promise.resolve(file),
  });
  assert.equal(c.MAX_RETRIES, 7);
  assert.equal(c.LOG_LEVEL, "debug");
  assert.deepEqual(c.KAFKA_SERVERS, ["a:1", "b:2"]);
  assert.deepEqual(c.SPECIES, ["escherichia_coli", "salmonella"]);
  assert.equal(c.configFile, "c.json");
});

Deno.test("config errors name the offending key and its source", async () => {
  await assert.rejects(
    () => loadConfig({ env: { MAX_RETRIES: "three" }, readFile: noFile }),
    (e: unknown) =>
      e instanceof ConfigError && e.key === "MAX_RETRIES" &&
      /Invalid MAX_RETRIES \(from environment\)/.test(e.message),
  );
  await assert.rejects(
    () => loadConfig({ args: ["--log-level", "loud"], env: {}, readFile: noFile }),
    (e: unknown) => e instanceof ConfigError && e.key === "LOG_LEVEL" && /from --log-level/.test(e.message),
  );
  await assert.rejects(
    () =>
      loadConfig({
        args: ["--config", "x.json"],
        env: {},
        readFile: () => Promise.resolve('{"MAX_RETRYS": 1}'),
      }),
    (e: unknown) => e instanceof ConfigError && e.key === "MAX_RETRYS",
  );
  await assert.rejects(
    () => loadConfig({ env: { TLS_CERT_FILE: "/c.pem" }, readFile: noFile }),
    (e: unknown) => e instanceof ConfigError && e.key === "TLS_KEY_FILE",
  );
  await assert.rejects(
    () => loadConfig({ args: ["--config", "x.json"], env: {}, readFile: noFile }),
    (e: unknown) =>
      e instanceof ConfigError && e.key === "--config" && /Cannot read config file/.test(e.message),
  );
});

Deno.test("serving refuses to start without a JWT secret or key source", async () => {
  const c = await loadConfig({ env: {}, readFile: noFile });
  assert.throws(
    () => assertAuthConfigured(c),
    (e: unknown) => e instanceof ConfigError && e.key === "JWT_SECRET",
  );
  assertAuthConfigured(await loadConfig({ env: { JWT_PUBLIC_KEY_FILE: "/k.pem" }, readFile: noFile }));
});

Deno.test("redaction hides secrets and URL passwords", async () => {
  const c = await loadConfig({
    env: { JWT_SECRET: "s3cret-value", REDIS_URL: "redis://user:hunter2@redis:6379/0" },
    readFile: noFile,
  });
  const r = redacted(c);
  assert.equal(r.JWT_SECRET, "***");
  assert.equal(r.REDIS_URL, "redis://user:***@redis:6379/0");
  const text = JSON.stringify(r);
  assert.ok(!text.includes("s3cret-value"));
  assert.ok(!text.includes("hunter2"));
  assert.equal(c.JWT_SECRET, "s3cret-value");
});

Deno.test("the engine's settings are checked at start and handed to the engine in the form it parses", async () => {
  for (
    const [key, bad] of [["BIOGPU_WORKER_NICE", "20"], ["BIOGPU_WORKER_NICE", "low"], [
      "BIOGPU_INFLATE_THREADS",
      "-1",
    ]]
  ) {
    await assert.rejects(
      () => loadConfig({ env: { [key]: bad }, readFile: noFile }),
      (e: unknown) =>
        e instanceof ConfigError && e.key === key &&
        new RegExp(`Invalid ${key} \\(from environment\\)`).test(e.message),
      `${key}=${bad}`,
    );
  }
  const unset = await loadConfig({ env: { BIOGPU_WORKER_NICE: "" }, readFile: noFile });
  assert.equal(unset.BIOGPU_WORKER_NICE, undefined);
  const c = await loadConfig({
    args: ["--config", "c.json"],
    env: { BIOGPU_WORKER_NICE: "3.0" },
    readFile: () => Promise.resolve(JSON.stringify({ BIOGPU_INFLATE_THREADS: 2, BIOGPU_LIB: "/opt/lib.so" })),
  });
  const set = new Map<string, string>();
  exportEngineSettings(c, { set: (k, v) => set.set(k, v) });
  assert.deepEqual(Object.fromEntries(set), {
    BIOGPU_LIB: "/opt/lib.so",
    BIOGPU_INFLATE_THREADS: "2",
    BIOGPU_WORKER_NICE: "3",
  });
  set.clear();
  exportEngineSettings(await loadConfig({ env: {}, readFile: noFile }), { set: (k, v) => set.set(k, v) });
  assert.equal(set.size, 0, "nothing set: the engine keeps its defaults");
});

Deno.test("delays a timer cannot wait are refused, naming the key and the limit", async () => {
  for (const key of ["JOB_TIMEOUT_SECONDS", "BASE_RETRY_DELAY", "MAX_RETRY_DELAY"]) {
    const env: Record<string, string> = { [key]: "2147484" };
    if (key === "BASE_RETRY_DELAY") env.MAX_RETRY_DELAY = "2147483";
    await assert.rejects(
      () => loadConfig({ env, readFile: noFile }),
      (e: unknown) =>
        e instanceof ConfigError && e.key === key &&
        e.message ===
          `Invalid ${key} (from environment): expected at most 2147483 seconds (about 24.8 days, the longest timer delay), found 2147484`,
      key,
    );
  }
  await assert.rejects(
    () => loadConfig({ env: { SHUTDOWN_GRACE_MS: "2147483648" }, readFile: noFile }),
    (e: unknown) =>
      e instanceof ConfigError && e.key === "SHUTDOWN_GRACE_MS" && /at most 2147483647 ms/.test(e.message),
  );
  const c = await loadConfig({
    env: {
      JOB_TIMEOUT_SECONDS: "2147483",
      BASE_RETRY_DELAY: "2147483",
      MAX_RETRY_DELAY: "2147483",
      SHUTDOWN_GRACE_MS: "2147483647",
    },
    readFile: noFile,
  });
  assert.equal(c.JOB_TIMEOUT_SECONDS, 2147483);
  assert.equal(c.MAX_RETRY_DELAY, 2147483);
  assert.equal(c.SHUTDOWN_GRACE_MS, 2 ** 31 - 1);
});
