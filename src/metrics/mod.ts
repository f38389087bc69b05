/**
 * Prometheus metrics of the service, on a registry of their own (never prom-client's global one), so that
 * tests and several services in one process do not collide. Every name starts with `biogpu_`.
 *
 * @example
 * ```ts
 * const metrics = createMetrics();
 * metrics.jobsTotal.inc({ outcome: "completed" });
 * const text = await metrics.registry.metrics();
 * ```
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The service's metrics; each field is a prom-client collector registered on `registry`. */
export interface Metrics {
  /** The registry that holds every collector below; serve `registry.metrics()` on /metrics. */
  registry: Registry;
  /** `biogpu_jobs_total{outcome}`: finished jobs by outcome (completed, failed, cancelled, dead_lettered…). */
  jobsTotal: Counter<"outcome">;
  /** `biogpu_job_duration_seconds`: wall time of a job attempt, from engine start to its outcome. */
  jobDuration: Histogram<string>;
  /** `biogpu_retries_total{error_class}`: retries scheduled, by error class (transient, unknown). */
  retriesTotal: Counter<"error_class">;
  /** `biogpu_dead_letters_total{error_class}`: jobs sent to the dead-letter topic, by error class. */
  deadLettersTotal: Counter<"error_class">;
  /** `biogpu_jobs_in_progress`: jobs running now. */
  jobsInProgress: Gauge<string>;
  /** `biogpu_engine_read_pairs_total{backend}`: read pairs processed by the engine, by backend (cpu, cuda). */
  engineReadPairs: Counter<"backend">;
  /** `biogpu_engine_throughput_read_pairs_per_second{backend}`: throughput of the latest run, by backend. */
  engineThroughput: Gauge<"backend">;
  /** `biogpu_engine_cuda_fallbacks_total`: `auto` runs whose CUDA device failed and the CPU screened instead. */
  engineCudaFallbacks: Counter<string>;
  /** `biogpu_consumer_lag{topic,partition}`: Kafka records not yet consumed. */
  consumerLag: Gauge<"topic" | "partition">;
  /** `biogpu_redis_publish_failures_total`: progress publishes that Redis refused or could not take. */
  redisPublishFailures: Counter<string>;
  /** `biogpu_progress_updates_dropped_total`: buffered intermediate updates dropped while Redis was down. */
  progressUpdatesDropped: Counter<string>;
  /** `biogpu_ws_connections`: open WebSocket connections. */
  wsConnections: Gauge<string>;
  /** `biogpu_ws_messages_sent_total{type}`: WebSocket messages sent, by message type. */
  wsMessagesSent: Counter<"type">;
  /** `biogpu_ws_updates_coalesced_total`: job updates replaced by a newer one for a slow (backpressured) client. */
  wsUpdatesCoalesced: Counter<string>;
}

/**
 * Creates the metrics on a new registry. Besides the fields of {@link Metrics} it registers
 * `biogpu_process_resident_memory_bytes`, sampled on each scrape (no timer runs in the background).
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: "biogpu_process_resident_memory_bytes",
    help: "Resident memory of the service process in bytes",
    registers,
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
  return {
    registry,
    jobsTotal: new Counter({
      name: "biogpu_jobs_total",
      help: "Finished jobs by outcome",
      labelNames: ["outcome"] as const,
      registers,
    }),
    jobDuration: new Histogram({
      name: "biogpu_job_duration_seconds",
      help: "Wall time of a job attempt in seconds",
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400],
      registers,
    }),
    retriesTotal: new Counter({
      name: "biogpu_retries_total",
      help: "Retries scheduled by error class",
      labelNames: ["error_class"] as const,
      registers,
    }),
    deadLettersTotal: new Counter({
      name: "biogpu_dead_letters_total",
      help: "Jobs sent to the dead-letter topic by error class",
      labelNames: ["error_class"] as const,
      registers,
    }),
    jobsInProgress: new Gauge({
      name: "biogpu_jobs_in_progress",
      help: "Jobs running now",
      registers,
    }),
    engineReadPairs: new Counter({
      name: "biogpu_engine_read_pairs_total",
      help: "Read pairs processed by the engine by backend",
      labelNames: ["backend"] as const,
      registers,
    }),
    engineThroughput: new Gauge({
      name: "biogpu_engine_throughput_read_pairs_per_second",
      help: "Engine throughput of the latest run in read pairs per second by backend",
      labelNames: ["backend"] as const,
      registers,
    }),
    engineCudaFallbacks: new Counter({
      name: "biogpu_engine_cuda_fallbacks_total",
      help: "Runs with the auto backend whose CUDA device failed, so that the CPU screened instead",
      registers,
    }),
    consumerLag: new Gauge({
      name: "biogpu_consumer_lag",
      help: "Kafka records not yet consumed by topic and partition",
      labelNames: ["topic", "partition"] as const,
      registers,
    }),
    redisPublishFailures: new Counter({
      name: "biogpu_redis_publish_failures_total",
      help: "Progress publishes that failed because Redis refused them or was unreachable",
      registers,
    }),
    progressUpdatesDropped: new Counter({
      name: "biogpu_progress_updates_dropped_total",
      help: "Intermediate progress updates dropped from the full buffer while Redis was unreachable",
      registers,
    }),
    wsConnections: new Gauge({
      name: "biogpu_ws_connections",
      help: "Open WebSocket connections",
      registers,
    }),
    wsMessagesSent: new Counter({
      name: "biogpu_ws_messages_sent_total",
      help: "WebSocket messages sent by type",
      labelNames: ["type"] as const,
      registers,
    }),
    wsUpdatesCoalesced: new Counter({
      name: "biogpu_ws_updates_coalesced_total",
      help: "Job updates replaced by a newer one for a client whose send buffer was over its bound",
      registers,
    }),
  };
}
