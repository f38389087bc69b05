/**
 * Service configuration: defaults, then an optional JSON file (`--config config.json`), then environment
 * variables, then command-line flags (`--log-level`). Every key of the JSON file is the name of its
 * environment variable, so one table documents both (see config.example.json). Values are validated with
 * zod; an error names the offending key and where it came from. Secrets are never logged: log
 * {@link redacted} instead of the config.
 *
 * @example
 * ```ts
 * const config = await loadConfig({ args: Deno.args });
 * log.info("Configuration", redacted(config));
 * ```
 *
 * @module
 */

import { z } from "zod";
import { LOG_LEVELS } from "../log.ts";

/** A configuration value was missing or invalid; `key` is the environment variable / JSON key. */
export class ConfigError extends Error {
  /** The offending key, e.g. `"MAX_RETRIES"`. */
  readonly key: string;
  constructor(key: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
    this.key = key;
  }
}

const str = z.string().trim();
/** An empty or null value counts as unset. */
const unsetIfEmpty = (v: unknown) => (v === "" || v === null ? undefined : v);
const optStr = z.preprocess(unsetIfEmpty, str.min(1).optional());
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const num = (min: number) => z.coerce.number().finite().min(min);
/** The longest delay a timer can wait (setTimeout fires at once past 2^31-1 ms), in seconds and in ms. */
export const MAX_DELAY_SECONDS = 2147483;
const MAX_DELAY_MS = 2 ** 31 - 1;
/** A delay in seconds (or ms) that a timer can wait: larger ones would fire at once. */
const delay = (unit: "seconds" | "ms") =>
  (unit === "seconds" ? num(0) : int(0)).superRefine((v, ctx) => {
    const max = unit === "seconds" ? MAX_DELAY_SECONDS : MAX_DELAY_MS;
    if (v > max) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `expected at most ${max} ${unit} (about 24.8 days, the longest timer delay), found ${v}`,
      });
    }
  });
const optInt = (min: number, max: number) => z.preprocess(unsetIfEmpty, int(min, max).optional());
const csv = z.preprocess(
  (v) => (typeof v === "string" ? v.split(",").map((s) => s.trim()).filter(Boolean) : v),
  z.array(str.min(1)),
);

function defaultCacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  const home = Deno.env.get("HOME");
  if (xdg) return `${xdg}/biogpu`;
  if (home) return `${home}/.cache/biogpu`;
  return "/tmp/biogpu-cache";
}

function defaultWorkerId(): string {
  let host = "localhost";
  try {
    host = Deno.hostname();
  } catch {
    // No --allow-sys: keep the fallback.
  }
  return `${host}-${Deno.pid}`;
}

/**
 * The table of settings: key (environment variable and JSON key), schema, default, whether it is a secret,
 * and a one-line description (used by the README table).
 */
export const SETTINGS = {
  REDIS_URL: { schema: str.min(1), default: "redis://127.0.0.1:6379", secret: true, doc: "Redis URL" },
  KAFKA_SERVERS: { schema: csv.pipe(z.array(str).min(1)), default: "127.0.0.1:9092", doc: "Kafka brokers" },
  KAFKA_CLIENT_ID: { schema: str.min(1), default: "biogpu-stream", doc: "Kafka client id" },
  KAFKA_GROUP_ID: { schema: str.min(1), default: "biogpu_workers", doc: "Consumer group" },
  KAFKA_TOPIC_JOBS: { schema: str.min(1), default: "new_jobs", doc: "Job intake topic" },
  KAFKA_TOPIC_RETRY: { schema: str.min(1), default: "new_jobs.retry", doc: "Retry topic" },
  KAFKA_TOPIC_DLQ: { schema: str.min(1), default: "failed_jobs_dlq", doc: "Dead-letter topic" },
  KAFKA_TOPIC_RESULTS: { schema: str.min(1), default: "job_results", doc: "Completion records" },
  KAFKA_TOPIC_PARTITIONS: {
    schema: int(1, 1000),
    default: 3,
    doc: "Partitions of topics the service creates",
  },
  KAFKA_SESSION_TIMEOUT_MS: { schema: int(6000), default: 30000, doc: "Consumer session timeout" },
  KAFKA_HEARTBEAT_INTERVAL_MS: { schema: int(100), default: 3000, doc: "Consumer heartbeat interval" },
  JWT_SECRET: { schema: optStr, default: undefined, secret: true, doc: "HS256 secret" },
  JWT_JWKS_URL: {
    schema: optStr.pipe(z.string().url().optional()),
    default: undefined,
    doc: "JWKS URL (RS256/ES256)",
  },
  JWT_PUBLIC_KEY_FILE: { schema: optStr, default: undefined, doc: "PEM public key file (RS256/ES256)" },
  JWT_ISSUER: { schema: optStr, default: undefined, doc: "Required `iss`" },
  JWT_AUDIENCE: { schema: optStr, default: undefined, doc: "Required `aud`" },
  JWT_TENANT_CLAIM: { schema: str.min(1), default: "tenant", doc: "Claim holding the tenant" },
  JWT_ROLES_CLAIM: { schema: str.min(1), default: "roles", doc: "Claim holding the roles" },
  JWT_ADMIN_ROLE: { schema: str.min(1), default: "admin", doc: "Role that sees every job" },
  GPU_DEVICE_ID: { schema: int(0, 1023), default: 0, doc: "CUDA device of the engine" },
  ENGINE_BACKEND: { schema: z.enum(["auto", "cpu", "cuda"]), default: "auto", doc: "Engine backend" },
  ENGINE_THREADS: { schema: int(0, 4096), default: 0, doc: "CPU threads per job (0 = all cores)" },
  WORKERS: { schema: int(1, 256), default: 1, doc: "Jobs run at once (engine workers)" },
  BIOGPU_LIB: { schema: optStr, default: undefined, doc: "Path of libbiogpu.so" },
  BIOGPU_INFLATE_THREADS: {
    schema: optInt(0, 16),
    default: undefined,
    doc: "Engine: helper threads inflating each bgzip file (unset: a quarter of the threads from 8 on)",
  },
  BIOGPU_WORKER_NICE: {
    schema: optInt(0, 19),
    default: undefined,
    doc: "Engine: nice value added to the screening/mapping threads (unset: 5)",
  },
  REFERENCE_DB_PATH: {
    schema: str.min(1),
    default: "/usr/share/resfinder/db",
    doc: "ResFinder folder, or an index file from `db build`",
  },
  RESISTANCE_DB_PATH: {
    schema: optStr,
    default: "/usr/share/doc/resfinder/examples/db_pointfinder",
    doc: "PointFinder folder (empty: none)",
  },
  SPECIES: { schema: csv, default: "", doc: "PointFinder species, comma-separated (empty: all)" },
  DB_CACHE_DIR: { schema: str.min(1), default: defaultCacheDir, doc: "Where built indexes are cached" },
  MAX_RETRIES: { schema: int(0, 100), default: 3, doc: "Retries before the DLQ" },
  BASE_RETRY_DELAY: { schema: delay("seconds"), default: 60, doc: "First retry delay, seconds (doubles)" },
  MAX_RETRY_DELAY: { schema: delay("seconds"), default: 3600, doc: "Retry delay cap, seconds" },
  RETRY_JITTER: { schema: num(0).pipe(z.number().max(1)), default: 0.2, doc: "Jitter fraction (0..1)" },
  JOB_TIMEOUT_SECONDS: { schema: delay("seconds"), default: 0, doc: "Per-job time limit, seconds (0: none)" },
  PROGRESS_INTERVAL_MS: { schema: int(10, 60000), default: 250, doc: "Engine progress polling interval" },
  LOG_LEVEL: { schema: z.enum(LOG_LEVELS), default: "info", doc: "debug, info, warn or error" },
  HOST: { schema: str.min(1), default: "0.0.0.0", doc: "Bind address of both ports" },
  WS_PORT: { schema: int(0, 65535), default: 8765, doc: "WebSocket port" },
  HTTP_PORT: { schema: int(0, 65535), default: 8001, doc: "Health, metrics and REST port" },
  TLS_CERT_FILE: { schema: optStr, default: undefined, doc: "PEM certificate (with TLS_KEY_FILE: TLS)" },
  TLS_KEY_FILE: { schema: optStr, default: undefined, doc: "PEM private key" },
  STATUS_TTL_SECONDS: { schema: int(1), default: 604800, doc: "TTL of job_status:{id} and streams" },
  STREAM_MAXLEN: { schema: int(1), default: 1000, doc: "Events kept per job stream" },
  SHUTDOWN_GRACE_MS: {
    schema: delay("ms"),
    default: 10000,
    doc: "Time a running job may finish at shutdown",
  },
  WORKER_ID: { schema: str.min(1), default: defaultWorkerId, doc: "Worker id in DLQ headers and logs" },
} as const satisfies Record<
  string,
  { schema: z.ZodTypeAny; default: unknown; secret?: boolean; doc: string }
>;

/** A key of {@link SETTINGS}. */
export type SettingKey = keyof typeof SETTINGS;

/** Parsed settings, one property per key. */
export type Settings = { [K in SettingKey]: z.output<typeof SETTINGS[K]["schema"]> };

/** The service configuration: the validated settings plus where the file came from. */
export interface Config extends Settings {
  /** Path of the JSON file read, if any. */
  configFile?: string;
}

/** Options of {@link loadConfig}; every source is injectable for tests. */
export interface LoadConfigOptions {
  /** Command-line arguments (`--config FILE`, `--log-level LEVEL`, `--key=value` forms accepted). */
  args?: string[];
  /** Environment (default: `Deno.env.toObject()`). */
  env?: Record<string, string | undefined>;
  /** Reads the config file (default: `Deno.readTextFile`). */
  readFile?: (path: string) => Promise<string>;
  /** Values that win over everything (tests). */
  overrides?: Partial<Record<SettingKey, unknown>>;
}

/** Reads `--name value` or `--name=value` from `args`. */
export function flagValue(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === `--${name}`) {
      const v = args[i + 1];
      if (v === undefined || v.startsWith("--")) {
        throw new ConfigError(`--${name}`, `Missing value after --${name}`);
      }
      return v;
    }
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

function describeIssue(key: string, source: string, issue: z.ZodIssue): string {
  return `Invalid ${key} (from ${source}): ${issue.message}`;
}

/**
 * Loads and validates the configuration. Throws {@link ConfigError} naming the key on the first invalid
 * value; unknown keys in the JSON file are errors too (a typo would otherwise be silently ignored).
 */
export async function loadConfig(o: LoadConfigOptions = {}): Promise<Config> {
  const args = o.args ?? [];
  const env = o.env ?? Deno.env.toObject();
  const readFile = o.readFile ?? ((p: string) => Deno.readTextFile(p));

  const raw = new Map<SettingKey, { value: unknown; source: string }>();
  const configFile = flagValue(args, "config") ?? (env.BIOGPU_CONFIG || undefined);
  if (configFile) {
    let text: string;
    try {
      text = await readFile(configFile);
    } catch (err) {
      throw new ConfigError(
        "--config",
        `Cannot read config file: ${(err as Error).message} (${configFile})`,
        {
          cause: err,
        },
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ConfigError("--config", `Cannot parse config file as JSON: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError("--config", `Expected a JSON object in ${configFile}, found ${typeof parsed}`);
    }
    for (const [key, value] of Object.entries(parsed)) {
      if (key.startsWith("$") || key.startsWith("//")) continue; // $schema, comments
      if (!(key in SETTINGS)) {
        throw new ConfigError(key, `Unknown key ${key} in ${configFile}`);
      }
      raw.set(key as SettingKey, { value, source: configFile });
    }
  }
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const v = env[key];
    if (v !== undefined) raw.set(key, { value: v, source: "environment" });
  }
  const logLevel = flagValue(args, "log-level");
  if (logLevel !== undefined) raw.set("LOG_LEVEL", { value: logLevel, source: "--log-level" });
  for (const [key, value] of Object.entries(o.overrides ?? {})) {
    raw.set(key as SettingKey, { value, source: "overrides" });
  }

  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(SETTINGS) as [SettingKey, typeof SETTINGS[SettingKey]][]) {
    const given = raw.get(key);
    const fallback = typeof spec.default === "function" ? (spec.default as () => unknown)() : spec.default;
    const value = given?.value ?? fallback;
    const result = (spec.schema as z.ZodTypeAny).safeParse(value);
    if (!result.success) {
      throw new ConfigError(key, describeIssue(key, given?.source ?? "default", result.error.issues[0]));
    }
    out[key] = result.data;
  }
  const config = out as unknown as Config;
  if (configFile) config.configFile = configFile;
  if ((config.TLS_CERT_FILE === undefined) !== (config.TLS_KEY_FILE === undefined)) {
    const missing = config.TLS_CERT_FILE === undefined ? "TLS_CERT_FILE" : "TLS_KEY_FILE";
    throw new ConfigError(missing, `Invalid ${missing}: TLS needs both TLS_CERT_FILE and TLS_KEY_FILE`);
  }
  if (config.MAX_RETRY_DELAY < config.BASE_RETRY_DELAY) {
    throw new ConfigError(
      "MAX_RETRY_DELAY",
      `Invalid MAX_RETRY_DELAY: expected at least BASE_RETRY_DELAY (${config.BASE_RETRY_DELAY}), found ${config.MAX_RETRY_DELAY}`,
    );
  }
  return config;
}

/** The settings the engine reads from the process environment when each analysis starts. */
export const ENGINE_ENV_KEYS = ["BIOGPU_LIB", "BIOGPU_INFLATE_THREADS", "BIOGPU_WORKER_NICE"] as const;

/**
 * Puts the engine's settings, validated by {@link loadConfig} (so a bad value stops the service at start
 * instead of failing every job), into the environment the engine reads, in the form it parses (`5`, not
 * `5.0`). A value from the config file reaches the engine this way too.
 */
export function exportEngineSettings(
  config: Config,
  env: { set(key: string, value: string): void } = Deno.env,
): void {
  for (const key of ENGINE_ENV_KEYS) {
    const value = config[key];
    if (value !== undefined) env.set(key, String(value));
  }
}

/**
 * Refuses to serve without a way to verify tokens: there is no default secret.
 * Throws {@link ConfigError} with key `JWT_SECRET`.
 */
export function assertAuthConfigured(config: Config): void {
  if (!config.JWT_SECRET && !config.JWT_JWKS_URL && !config.JWT_PUBLIC_KEY_FILE) {
    throw new ConfigError(
      "JWT_SECRET",
      "Missing JWT_SECRET: set JWT_SECRET, JWT_JWKS_URL or JWT_PUBLIC_KEY_FILE so WebSocket tokens can be verified",
    );
  }
}

/** Hides the password part of a URL (`redis://user:pw@host` → `redis://user:***@host`). */
function redactUrl(value: string): string {
  try {
    const u = new URL(value);
    if (!u.password && !u.username) return value;
    if (u.password) u.password = "***";
    else u.username = "***";
    return u.toString();
  } catch {
    return "***";
  }
}

/** A copy of the configuration that is safe to log: secrets replaced by `"***"`, URL passwords hidden. */
export function redacted(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    const spec = (SETTINGS as Record<string, { secret?: boolean }>)[key];
    if (spec?.secret && value !== undefined) {
      out[key] = typeof value === "string" && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)
        ? redactUrl(value)
        : "***";
    } else {
      out[key] = value;
    }
  }
  return out;
}
