/**
 * The KafkaJS client of the service: brokers from config, KafkaJS logs routed into the service's JSON
 * logs, and topic creation.
 *
 * @module
 */

import { type Admin, Kafka, logLevel as KafkaLogLevel } from "kafkajs";
import type { Logger } from "../log.ts";

const LEVELS: Record<number, "error" | "warn" | "info" | "debug"> = {
  [KafkaLogLevel.ERROR]: "error",
  [KafkaLogLevel.WARN]: "warn",
  [KafkaLogLevel.INFO]: "info",
  [KafkaLogLevel.DEBUG]: "debug",
};

/** Creates the KafkaJS client. KafkaJS logs at WARN and above go to `log` (INFO with `verbose`). */
export function createKafka(
  o: { brokers: string[]; clientId: string; log: Logger; verbose?: boolean },
): Kafka {
  return new Kafka({
    clientId: o.clientId,
    brokers: o.brokers,
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 10000 },
    logLevel: o.verbose ? KafkaLogLevel.INFO : KafkaLogLevel.WARN,
    logCreator: () => ({ namespace, level, log }) => {
      const { message, timestamp: _t, logger: _l, ...rest } = log as Record<string, unknown>;
      o.log.log(LEVELS[level] ?? "info", `kafkajs: ${String(message)}`, { namespace, ...rest });
    },
  });
}

/** Creates the topics that do not exist yet (`partitions` each, replication factor of the broker default). */
export async function ensureTopics(admin: Admin, topics: string[], partitions: number): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = [...new Set(topics)].filter((t) => !existing.has(t));
  if (missing.length === 0) return [];
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({ topic, numPartitions: partitions })),
    });
  } catch (err) {
    // Another worker may have created them in between: only fail when they are still missing.
    const now = new Set(await admin.listTopics());
    if (missing.some((t) => !now.has(t))) throw err;
  }
  return missing;
}
