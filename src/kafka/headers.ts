/**
 * Headers of retry (`new_jobs.retry`) and dead-letter (`failed_jobs_dlq`) records. Values are strings;
 * times are ISO 8601 UTC. Keeping them in headers leaves the record value the original job, byte for byte,
 * so a replay re-produces exactly what the producer sent.
 *
 * @module
 */

import type { IHeaders } from "kafkajs";

/** Header names, in one place. */
export const H = {
  attempt: "attempt",
  attempts: "attempts",
  dueAt: "due_at",
  errorClass: "error_class",
  errorCode: "error_code",
  errorMessage: "error_message",
  firstFailureAt: "first_failure_at",
  lastFailureAt: "last_failure_at",
  originalTopic: "original_topic",
  originalPartition: "original_partition",
  originalOffset: "original_offset",
  workerId: "worker_id",
  deadLetteredAt: "dead_lettered_at",
  replayedFrom: "replayed_from",
} as const;

/** Longest error message kept in a header. */
export const MAX_MESSAGE_LENGTH = 2000;

/** Decodes kafkajs headers (Buffers, strings or arrays of them) into a plain string map; the last value wins. */
export function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  const dec = new TextDecoder();
  const one = (v: unknown): string | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v === "string") return v;
    if (v instanceof Uint8Array) return dec.decode(v);
    return String(v);
  };
  for (const [k, v] of Object.entries(headers)) {
    const s = Array.isArray(v) ? one(v[v.length - 1]) : one(v);
    if (s !== undefined) out[k] = s;
  }
  return out;
}

/** Where a job first entered the system. */
export interface Origin {
  topic: string;
  partition: number;
  offset: string;
}

/** Failure history carried from attempt to attempt. */
export interface FailureInfo {
  /** Failed runs so far (0 on the intake topic). */
  failures: number;
  firstFailureAt?: string;
  origin: Origin;
}

/** Reads the failure history of a record: from its headers on the retry topic, else a fresh one. */
export function failureInfo(
  topic: string,
  partition: number,
  offset: string,
  headers: Record<string, string>,
  retryTopic: string,
): FailureInfo {
  if (topic !== retryTopic) return { failures: 0, origin: { topic, partition, offset } };
  const attempt = Number.parseInt(headers[H.attempt] ?? "", 10);
  const origPartition = Number.parseInt(headers[H.originalPartition] ?? "", 10);
  return {
    failures: Number.isFinite(attempt) && attempt > 0 ? attempt : 1,
    firstFailureAt: headers[H.firstFailureAt],
    origin: {
      topic: headers[H.originalTopic] ?? topic,
      partition: Number.isFinite(origPartition) ? origPartition : partition,
      offset: headers[H.originalOffset] ?? offset,
    },
  };
}

/** Due time (ms since the epoch) of a retry record; 0 when absent or unreadable (run at once). */
export function dueTime(headers: Record<string, string>): number {
  const t = Date.parse(headers[H.dueAt] ?? "");
  return Number.isFinite(t) ? t : 0;
}

function clip(s: string): string {
  return s.length > MAX_MESSAGE_LENGTH ? s.slice(0, MAX_MESSAGE_LENGTH - 1) + "…" : s;
}

/** Headers of a retry record. */
export function retryHeaders(o: {
  attempt: number;
  dueAt: number;
  errorClass: string;
  code: string;
  message: string;
  firstFailureAt: string;
  lastFailureAt: string;
  origin: Origin;
  workerId: string;
}): Record<string, string> {
  return {
    [H.attempt]: String(o.attempt),
    [H.dueAt]: new Date(o.dueAt).toISOString(),
    [H.errorClass]: o.errorClass,
    [H.errorCode]: o.code,
    [H.errorMessage]: clip(o.message),
    [H.firstFailureAt]: o.firstFailureAt,
    [H.lastFailureAt]: o.lastFailureAt,
    [H.originalTopic]: o.origin.topic,
    [H.originalPartition]: String(o.origin.partition),
    [H.originalOffset]: o.origin.offset,
    [H.workerId]: o.workerId,
  };
}

/** Headers of a dead-letter record. */
export function deadLetterHeaders(o: {
  attempts: number;
  errorClass: string;
  code: string;
  message: string;
  firstFailureAt: string;
  lastFailureAt: string;
  origin: Origin;
  workerId: string;
  now: number;
}): Record<string, string> {
  return {
    [H.originalTopic]: o.origin.topic,
    [H.originalPartition]: String(o.origin.partition),
    [H.originalOffset]: o.origin.offset,
    [H.errorClass]: o.errorClass,
    [H.errorCode]: o.code,
    [H.errorMessage]: clip(o.message),
    [H.attempts]: String(o.attempts),
    [H.firstFailureAt]: o.firstFailureAt,
    [H.lastFailureAt]: o.lastFailureAt,
    [H.workerId]: o.workerId,
    [H.deadLetteredAt]: new Date(o.now).toISOString(),
  };
}
