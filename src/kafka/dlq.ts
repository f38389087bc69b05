/**
 * Reading and replaying the dead-letter topic. Records are read from the beginning up to the current high
 * watermark with a throw-away consumer group (deleted afterwards), so listing never moves anyone's offsets.
 *
 * @module
 */

import type { Kafka } from "kafkajs";
import { decodeHeaders, H } from "./headers.ts";

/** One dead-letter record. */
export interface DlqRecord {
  partition: number;
  offset: string;
  timestamp: string;
  key: string | null;
  /** job_id from the value, else from the key; null when neither holds one. */
  jobId: string | null;
  headers: Record<string, string>;
  /** The record value as text (the original job JSON, or whatever invalid bytes arrived). */
  value: string | null;
}

function jobIdOf(value: string | null, key: string | null): string | null {
  try {
    const v = JSON.parse(value ?? "");
    if (v && typeof v.job_id === "string" && v.job_id) return v.job_id;
  } catch {
    // Not JSON: fall back to the key.
  }
  return key || null;
}

/** Reads every record of `topic` present now, in partition then offset order. */
export async function readTopic(kafka: Kafka, topic: string, timeoutMs = 30000): Promise<DlqRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `biogpu-dlq-reader-${crypto.randomUUID()}`;
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) return [];
    const offsets = await admin.fetchTopicOffsets(topic);
    const pending = new Map<number, bigint>();
    for (const o of offsets) {
      if (BigInt(o.high) > BigInt(o.low)) pending.set(o.partition, BigInt(o.high));
    }
    if (pending.size === 0) return [];
    const out: DlqRecord[] = [];
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    const dec = new TextDecoder();
    let finish!: () => void;
    const finished = new Promise<void>((r) => finish = r);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: ({ partition, message }) => {
          const high = pending.get(partition);
          if (high === undefined) return Promise.resolve();
          if (BigInt(message.offset) < high) {
            const key = message.key ? dec.decode(message.key) : null;
            const value = message.value ? dec.decode(message.value) : null;
            out.push({
              partition,
              offset: message.offset,
              timestamp: new Date(Number(message.timestamp)).toISOString(),
              key,
              jobId: jobIdOf(value, key),
              headers: decodeHeaders(message.headers),
              value,
            });
          }
          if (BigInt(message.offset) + 1n >= high) {
            pending.delete(partition);
            if (pending.size === 0) finish();
          }
          return Promise.resolve();
        },
      });
      const timedOut = await Promise.race([
        finished.then(() => false),
        new Promise<boolean>((r) => timer = setTimeout(() => r(true), timeoutMs)),
      ]);
      if (timedOut) throw new Error(`Cannot read ${topic}: timed out after ${timeoutMs} ms`);
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => {});
    }
    out.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
    return out;
  } finally {
    await admin.deleteGroups([groupId]).catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

/** Result of {@link replayDlq}. */
export interface ReplayResult {
  replayed: DlqRecord[];
  /** Records left alone: older duplicates of a replayed job, or records with no job id. */
  skipped: DlqRecord[];
}

/**
 * Re-produces dead-lettered jobs to `jobsTopic` (value unchanged, key = job_id, header `replayed_from`).
 * Only the latest record of each job is replayed; `jobId` restricts it to one job.
 */
export async function replayDlq(
  kafka: Kafka,
  o: { dlqTopic: string; jobsTopic: string; jobId?: string },
): Promise<ReplayResult> {
  const records = await readTopic(kafka, o.dlqTopic);
  const latest = new Map<string, DlqRecord>();
  const skipped: DlqRecord[] = [];
  for (const r of records) {
    if (!r.jobId || r.value === null) {
      if (!o.jobId) skipped.push(r);
      continue;
    }
    if (o.jobId && r.jobId !== o.jobId) continue;
    const prev = latest.get(r.jobId);
    if (prev && prev.timestamp > r.timestamp) {
      skipped.push(r);
      continue;
    }
    if (prev) skipped.push(prev);
    latest.set(r.jobId, r);
  }
  const replayed = [...latest.values()];
  if (replayed.length === 0) return { replayed, skipped };
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({
      topic: o.jobsTopic,
      acks: -1,
      messages: replayed.map((r) => ({
        key: r.jobId,
        value: r.value,
        headers: { [H.replayedFrom]: `${o.dlqTopic}:${r.partition}:${r.offset}` },
      })),
    });
  } finally {
    await producer.disconnect();
  }
  return { replayed, skipped };
}
