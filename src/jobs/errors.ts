/**
 * Classifies a job failure: `permanent` (dead-letter at once), `transient` (retry), `unknown` (retry and
 * log), `cancelled` (a user asked; neither retried nor dead-lettered). The engine's status code decides
 * first; then connection and timeout errors of Kafka, Redis and the network; anything else is unknown.
 *
 * @module
 */

import { EngineError, Status, statusCode } from "../../ffi/errors.ts";

/** What happens after a failure. */
export type ErrorClass = "permanent" | "transient" | "unknown" | "cancelled";

/** A classified failure, as it goes into retry and DLQ headers. */
export interface Classified {
  errorClass: ErrorClass;
  /** `BG_ERR_…` for engine errors, else a short upper-case code (`TIMEOUT`, `CONNECTION`, `INTERNAL`). */
  code: string;
  message: string;
}

/** Class of each engine status. Statuses not listed are `unknown`. */
export const STATUS_CLASSES: Readonly<Record<number, ErrorClass>> = {
  [Status.INVALID_ARGUMENT]: "permanent",
  [Status.FILE_NOT_FOUND]: "permanent",
  [Status.PERMISSION_DENIED]: "permanent",
  [Status.CORRUPT_GZIP]: "permanent",
  [Status.MALFORMED_FASTQ]: "permanent",
  [Status.PAIR_MISMATCH]: "permanent",
  [Status.EMPTY_INPUT]: "permanent",
  [Status.BAD_DATABASE]: "permanent",
  [Status.BAD_INDEX]: "permanent",
  [Status.DEVICE_UNAVAILABLE]: "transient",
  [Status.DEVICE_OOM]: "transient",
  [Status.CANCELLED]: "cancelled",
};

/** The job's time limit (JOB_TIMEOUT_SECONDS) passed; retried as transient. */
export class JobTimeoutError extends Error {
  constructor(seconds: number, options?: ErrorOptions) {
    super(`Job exceeded its time limit of ${seconds} s`, options);
    this.name = "JobTimeoutError";
  }
}

/** A job record that can never run (bad JSON, schema); dead-lettered at once. */
export class InvalidJobError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidJobError";
  }
}

/** Error names (KafkaJS, ioredis, Deno) that mean a lost connection or a timeout. */
const TRANSIENT_NAMES: Readonly<Record<string, string>> = {
  KafkaJSConnectionError: "BROKER_CONNECTION",
  KafkaJSConnectionClosedError: "BROKER_CONNECTION",
  KafkaJSBrokerNotFound: "BROKER_CONNECTION",
  KafkaJSNoBrokerAvailableError: "BROKER_CONNECTION",
  KafkaJSNumberOfRetriesExceeded: "BROKER_CONNECTION",
  KafkaJSRequestTimeoutError: "TIMEOUT",
  KafkaJSTimeout: "TIMEOUT",
  MaxRetriesPerRequestError: "REDIS_CONNECTION",
  ConnectionRefused: "CONNECTION",
  ConnectionReset: "CONNECTION",
  ConnectionAborted: "CONNECTION",
  NotConnected: "CONNECTION",
  BrokenPipe: "CONNECTION",
  TimedOut: "TIMEOUT",
  TimeoutError: "TIMEOUT",
  JobTimeoutError: "TIMEOUT",
  OutputBusyError: "OUTPUT_BUSY",
};

/** Node-style `code`s of socket errors that mean a lost connection. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** Classifies any thrown value. */
export function classify(err: unknown): Classified {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof EngineError) {
    return {
      errorClass: STATUS_CLASSES[err.status] ?? "unknown",
      code: err.code || statusCode(err.status),
      message,
    };
  }
  if (err instanceof InvalidJobError) return { errorClass: "permanent", code: "INVALID_JOB", message };
  if (err instanceof Error) {
    const byName = TRANSIENT_NAMES[err.name] ?? TRANSIENT_NAMES[err.constructor?.name ?? ""];
    if (byName) return { errorClass: "transient", code: byName, message };
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && TRANSIENT_CODES.has(code)) {
      return { errorClass: "transient", code: "CONNECTION", message };
    }
    if (/connection is closed|connection refused|socket closed|ECONNREFUSED|ECONNRESET/i.test(message)) {
      return { errorClass: "transient", code: "CONNECTION", message };
    }
    return {
      errorClass: "unknown",
      code: typeof code === "string" && code ? code : err.name.toUpperCase(),
      message,
    };
  }
  return { errorClass: "unknown", code: "INTERNAL", message };
}
