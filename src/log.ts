/**
 * Structured JSON logs, one object per line on stderr, filtered by level.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: "info", base: { worker_id: "w1" } });
 * log.info("Job completed", { job_id: "j1", duration_ms: 1200 });
 * const jobLog = log.child({ job_id: "j1" });
 * jobLog.warn("Retry scheduled", { attempt: 1 });
 * ```
 *
 * @module
 */

/** Log levels, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Extra fields of a log line. */
export type LogFields = Record<string, unknown>;

/** Where finished lines go; the default writes them to stderr. */
export type LogSink = (line: string) => void;

/** A logger bound to a level and a set of base fields. */
export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Logs at a level given as a string; unknown levels log as `info`. */
  log(level: string, msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** Returns true when `value` names a log level. */
export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

const encoder = new TextEncoder();

function stderrSink(line: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // stderr closed: nothing sensible left to do with a log line.
  }
}

/** Turns values JSON cannot hold (errors, bigints) into plain data. */
function toJsonValue(value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (value.cause !== undefined) out.cause = toJsonValue(value.cause);
    return out;
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** Creates a logger writing JSON lines (`time`, `level`, `msg`, then the fields) at or above `level`. */
export function createLogger(
  o: { level?: LogLevel; base?: LogFields; sink?: LogSink } = {},
): Logger {
  const level = o.level ?? "info";
  const min = LOG_LEVELS.indexOf(level);
  const base = o.base ?? {};
  const sink = o.sink ?? stderrSink;
  const write = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (LOG_LEVELS.indexOf(lvl) < min) return;
    const record: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, msg, ...base };
    if (fields) { for (const [k, v] of Object.entries(fields)) record[k] = toJsonValue(v); }
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch {
      line = JSON.stringify({ time: record.time, level: lvl, msg, note: "fields were not serialisable" });
    }
    sink(line);
  };
  return {
    level,
    debug: (msg, fields) => write("debug", msg, fields),
    info: (msg, fields) => write("info", msg, fields),
    warn: (msg, fields) => write("warn", msg, fields),
    error: (msg, fields) => write("error", msg, fields),
    log: (lvl, msg, fields) => write(isLogLevel(lvl) ? lvl : "info", msg, fields),
    child: (fields) => createLogger({ level, base: { ...base, ...fields }, sink }),
  };
}

/** A logger that drops everything (tests, library defaults). */
export const silentLogger: Logger = createLogger({ level: "error", sink: () => {} });
