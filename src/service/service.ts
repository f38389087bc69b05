/**
 * The job service: wires config, engine, database, progress bus, Kafka consumer, WebSocket and HTTP servers,
 * and shuts them down gracefully.
 *
 * @example
 * ```ts
 * const service = await startService(await loadConfig({ args: Deno.args }));
 * Deno.addSignalListener("SIGTERM", () => service.stop());
 * await service.stopped;
 * ```
 *
 * @module
 */

import { type EngineInfo, engineInfo } from "../../ffi/mod.ts";
import { type Config, exportEngineSettings, redacted } from "../config/mod.ts";
import { startHttpServer } from "../http/server.ts";
import { DbCache } from "../jobs/db_cache.ts";
import { JobWorker } from "../jobs/worker.ts";
import { createKafka } from "../kafka/client.ts";
import { JobConsumer } from "../kafka/consumer.ts";
import { createLogger, type Logger } from "../log.ts";
import { createMetrics, type Metrics } from "../metrics/mod.ts";
import { ProgressBus } from "../progress/bus.ts";
import { startWsServer } from "../ws/server.ts";

/** A running service. */
export interface Service {
  config: Config;
  log: Logger;
  metrics: Metrics;
  bus: ProgressBus;
  consumer: JobConsumer;
  engine: EngineInfo;
  /** Ports actually bound (useful when the config asked for 0). */
  ports: { http: number; ws: number };
  /** Readiness of each dependency, as /ready reports it. */
  readiness(): Promise<Record<string, { ok: boolean; detail?: string }>>;
  /** Graceful shutdown; idempotent, every step runs even if one fails. */
  stop(): Promise<void>;
  /** Settles once {@link stop} has finished. */
  stopped: Promise<void>;
}

/** Options of {@link startService}. */
export interface StartServiceOptions {
  log?: Logger;
}

/**
 * Starts the service. Fails (after releasing what it opened) when the engine cannot load, the database
 * cannot be built or loaded, a port cannot be bound or Kafka cannot be reached.
 */
export async function startService(config: Config, o: StartServiceOptions = {}): Promise<Service> {
  const log = o.log ?? createLogger({ level: config.LOG_LEVEL, base: { worker_id: config.WORKER_ID } });
  log.info("Starting BioGPU Stream", { config: redacted(config) });
  exportEngineSettings(config);
  const engine = engineInfo();
  log.info("Engine loaded", { ...engine });
  if (config.ENGINE_BACKEND === "cuda" && engine.cudaDevices === 0) {
    log.warn(
      "ENGINE_BACKEND is cuda but no CUDA device is usable; jobs will be retried as DEVICE_UNAVAILABLE",
    );
  }

  const cleanups: { what: string; fn: () => unknown }[] = [];
  const runCleanups = async () => {
    for (const { what, fn } of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log.warn(`Shutdown step failed: ${what}`, { error: err });
      }
    }
    cleanups.length = 0;
  };

  try {
    const metrics = createMetrics();
    const bus = new ProgressBus({
      redisUrl: config.REDIS_URL,
      statusTtlSeconds: config.STATUS_TTL_SECONDS,
      streamMaxLen: config.STREAM_MAXLEN,
      metrics,
      log: (level, msg, fields) => log.log(level, msg, fields as Record<string, unknown>),
    });
    cleanups.push({ what: "close progress bus", fn: () => bus.close() });
    await bus.start();

    const dbCache = new DbCache({
      reference: config.REFERENCE_DB_PATH,
      resistance: config.RESISTANCE_DB_PATH,
      species: config.SPECIES,
      cacheDir: config.DB_CACHE_DIR,
      log,
    });
    cleanups.push({ what: "close database", fn: () => dbCache.close() });
    const db = await dbCache.get();
    log.info("Database ready", { index: dbCache.indexPath, info: db.info() });

    const worker = new JobWorker({
      dbCache,
      bus,
      backend: config.ENGINE_BACKEND,
      threads: config.ENGINE_THREADS,
      deviceId: config.GPU_DEVICE_ID,
      workerId: config.WORKER_ID,
      progressIntervalMs: config.PROGRESS_INTERVAL_MS,
      jobTimeoutSeconds: config.JOB_TIMEOUT_SECONDS,
      metrics,
      log,
    });
    const kafka = createKafka({
      brokers: config.KAFKA_SERVERS,
      clientId: config.KAFKA_CLIENT_ID,
      log,
      verbose: config.LOG_LEVEL === "debug",
    });
    const consumer = new JobConsumer({ kafka, settings: config, worker, bus, metrics, log });
    const offCancel = bus.onCancel((jobId) => {
      if (consumer.cancel(jobId)) log.info("Cancel requested for a running job", { job_id: jobId });
    });
    cleanups.push({ what: "remove cancel listener", fn: offCancel });

    const readiness = () =>
      Promise.resolve({
        kafka: consumer.ready(),
        redis: bus.ready(),
        engine: { ok: true, detail: `libbiogpu ${engine.version} (ABI ${engine.abi})` },
        database: dbCache.loaded
          ? { ok: true, detail: dbCache.indexPath ?? "" }
          : { ok: false, detail: "not loaded" },
        devices: config.ENGINE_BACKEND === "cuda" && engine.cudaDevices === 0
          ? { ok: false, detail: "ENGINE_BACKEND is cuda but no CUDA device is usable" }
          : {
            ok: true,
            detail: engine.cudaDevices > 0
              ? `${engine.cudaDevices} CUDA device(s)`
              : "CPU backend (no CUDA device)",
          },
      });

    const tls = config.TLS_CERT_FILE && config.TLS_KEY_FILE
      ? { cert: config.TLS_CERT_FILE, key: config.TLS_KEY_FILE }
      : undefined;
    const auth = {
      secret: config.JWT_SECRET,
      jwksUrl: config.JWT_JWKS_URL,
      publicKeyFile: config.JWT_PUBLIC_KEY_FILE,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      tenantClaim: config.JWT_TENANT_CLAIM,
      rolesClaim: config.JWT_ROLES_CLAIM,
      adminRole: config.JWT_ADMIN_ROLE,
    };
    const logFn = (level: string, msg: string, fields?: object) =>
      log.log(level, msg, fields as Record<string, unknown>);
    const ws = await startWsServer({
      port: config.WS_PORT,
      hostname: config.HOST,
      tls,
      auth,
      bus,
      metrics,
      log: logFn,
    });
    cleanups.push({ what: "close WebSocket server", fn: () => ws.close() });
    const http = startHttpServer({
      port: config.HTTP_PORT,
      hostname: config.HOST,
      tls,
      metrics,
      readiness,
      auth,
      bus,
      dashboard: { wsPort: ws.port },
      log: logFn,
    });
    cleanups.push({ what: "close HTTP server", fn: () => http.close() });

    // Stopping the consumer comes first at shutdown (cleanups run in reverse order).
    cleanups.push({
      what: "stop Kafka consumer",
      fn: () => consumer.stop({ graceMs: config.SHUTDOWN_GRACE_MS }),
    });
    await consumer.start();
    log.info("Service ready", { http_port: http.port, ws_port: ws.port });

    let resolveStopped!: () => void;
    const stopped = new Promise<void>((r) => resolveStopped = r);
    let stopping: Promise<void> | null = null;
    const stop = () => {
      stopping ??= (async () => {
        log.info("Shutting down");
        await runCleanups();
        log.info("Shut down");
        resolveStopped();
      })();
      return stopping;
    };
    return {
      config,
      log,
      metrics,
      bus,
      consumer,
      engine,
      ports: { http: http.port, ws: ws.port },
      readiness,
      stop,
      stopped,
    };
  } catch (err) {
    await runCleanups();
    throw err;
  }
}
