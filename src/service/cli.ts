/**
 * `biogpu serve` and `biogpu dlq list|replay`.
 *
 * @module
 */

import { type FlagSpec, HelpRequested, parseFlags, reportError } from "../cli/args.ts";
import { assertAuthConfigured, type Config, ConfigError, loadConfig } from "../config/mod.ts";
import { createKafka } from "../kafka/client.ts";
import { readTopic, replayDlq } from "../kafka/dlq.ts";
import { createLogger, LOG_LEVELS } from "../log.ts";
import { startService } from "./service.ts";

const SERVE_USAGE = `Usage: biogpu serve [--config config.json] [--log-level debug|info|warn|error]

Consumes jobs from Kafka and runs them on the engine; progress over WebSocket (WS_PORT), /health, /ready and
/metrics over HTTP (HTTP_PORT). Settings come from environment variables or the JSON file (same names; see
config.example.json). JWT_SECRET (or JWT_JWKS_URL / JWT_PUBLIC_KEY_FILE) is required.`;

const DLQ_USAGE = `Usage: biogpu dlq list [--job-id ID] [--config config.json]
       biogpu dlq replay [--job-id ID] [--config config.json]

list     prints each dead-lettered record (one JSON object a line): partition, offset, job_id, headers, job
replay   re-produces the latest dead-lettered record of each job (or of --job-id) to the jobs topic`;

const COMMON_FLAGS = {
  config: { type: "string", placeholder: "FILE", help: "JSON settings file (same keys as the environment)" },
  "log-level": { type: "string", choices: LOG_LEVELS, help: "Log level" },
} as const satisfies Record<string, FlagSpec>;

const DLQ_FLAGS = {
  ...COMMON_FLAGS,
  "job-id": { type: "string", placeholder: "ID", help: "Only this job's records" },
} as const satisfies Record<string, FlagSpec>;

/**
 * Checks a command's flags before anything runs: an unknown or mistyped flag, or one without its value, is a
 * usage error (exit 2) instead of being ignored (`dlq replay --jobid X` would replay every job). Returns the
 * exit code to stop with (help printed: 0), or null to go on.
 */
function checkFlags(args: readonly string[], spec: Record<string, FlagSpec>, usage: string): number | null {
  try {
    parseFlags(args, spec);
    return null;
  } catch (err) {
    if (err instanceof HelpRequested) {
      console.log(usage);
      return 0;
    }
    return reportError(err);
  }
}

function fail(err: unknown): number {
  const log = createLogger();
  if (err instanceof ConfigError) {
    log.error(err.message, { key: err.key });
    return 2;
  }
  log.error((err as Error)?.message ?? String(err), { error: err });
  return 1;
}

/** `serve`: runs the service until SIGTERM or SIGINT; returns the exit code. */
export async function serveCommand(args: readonly string[]): Promise<number> {
  const stop = checkFlags(args, COMMON_FLAGS, SERVE_USAGE);
  if (stop !== null) return stop;
  let config: Config;
  try {
    config = await loadConfig({ args: [...args] });
    assertAuthConfigured(config);
  } catch (err) {
    return fail(err);
  }
  let service;
  try {
    service = await startService(config);
  } catch (err) {
    return fail(err);
  }
  const onSignal = () => {
    service.log.info("Signal received; stopping");
    void service.stop();
  };
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    await service.stopped;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
  return 0;
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** `dlq list|replay [--job-id ID]`; returns the exit code. */
export async function dlqCommand(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === "--help" || sub === "-h" || rest.includes("--help")) {
    console.log(DLQ_USAGE);
    return sub ? 0 : 2;
  }
  if (sub !== "list" && sub !== "replay") {
    console.error(`error: Unknown dlq command "${sub}" (expected list or replay)`);
    return 2;
  }
  const stop = checkFlags(rest, DLQ_FLAGS, DLQ_USAGE);
  if (stop !== null) return stop;
  const jobId = parseFlags(rest, DLQ_FLAGS)["job-id"];
  let config: Config;
  try {
    config = await loadConfig({ args: [...rest] });
  } catch (err) {
    return fail(err);
  }
  const log = createLogger({ level: config.LOG_LEVEL === "debug" ? "debug" : "warn" });
  const kafka = createKafka({
    brokers: config.KAFKA_SERVERS,
    clientId: `${config.KAFKA_CLIENT_ID}-dlq`,
    log,
  });
  try {
    if (sub === "list") {
      const records = await readTopic(kafka, config.KAFKA_TOPIC_DLQ);
      for (const r of records) {
        if (jobId && r.jobId !== jobId) continue;
        console.log(JSON.stringify({
          partition: r.partition,
          offset: r.offset,
          timestamp: r.timestamp,
          job_id: r.jobId,
          headers: r.headers,
          job: parseJson(r.value),
        }));
      }
      return 0;
    }
    const { replayed, skipped } = await replayDlq(kafka, {
      dlqTopic: config.KAFKA_TOPIC_DLQ,
      jobsTopic: config.KAFKA_TOPIC_JOBS,
      jobId,
    });
    for (const r of replayed) {
      console.log(JSON.stringify({ replayed: r.jobId, from: { partition: r.partition, offset: r.offset } }));
    }
    console.error(
      `Replayed ${replayed.length} job(s) to ${config.KAFKA_TOPIC_JOBS}` +
        (skipped.length ? `; skipped ${skipped.length} older or unreadable record(s)` : ""),
    );
    if (jobId && replayed.length === 0) {
      console.error(`error: No dead-lettered record for job ${jobId}`);
      return 1;
    }
    return 0;
  } catch (err) {
    return fail(err);
  }
}

if (import.meta.main) {
  const [name, ...rest] = Deno.args;
  const command = name === "dlq" ? dlqCommand : name === "serve" ? serveCommand : undefined;
  if (!command) {
    console.error('error: Expected "serve" or "dlq"');
    Deno.exit(2);
  }
  Deno.exit(await command(rest));
}
