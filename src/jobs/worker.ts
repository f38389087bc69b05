/**
 * Runs one job on the engine: checks the inputs, gets the database, calls `analyzeSample`, maps the engine's
 * stages to the service's, publishes progress, and writes a completion marker (`biogpu_job.json`) beside the
 * results so a redelivered job is recognised as done. Kafka is not this module's business: it returns an
 * outcome and the consumer decides what to commit, retry or dead-letter.
 *
 * @module
 */

import { CancelledError, checkPaths, type Progress, type Stage } from "../../ffi/mod.ts";
import { analyzeSample } from "../engine/analyze.ts";
import { ensureOutputDir, prepareOutputDir } from "../engine/writers.ts";
import type { Metrics } from "../metrics/mod.ts";
import type { ProgressBus, ServiceStage } from "../progress/bus.ts";
import { type Logger, silentLogger } from "../log.ts";
import type { DbCache } from "./db_cache.ts";
import { type Classified, classify, JobTimeoutError } from "./errors.ts";
import { type LockOptions, lockOutput, OutputBusyError } from "./output_lock.ts";
import type { Job } from "./schema.ts";

/** The part of the progress bus a worker uses. */
export type ProgressSink = Pick<ProgressBus, "publish" | "resetAttempt">;

/** Name of the completion marker written into `output_path` after the results. */
export const MARKER_FILE = "biogpu_job.json";

/** The completion marker; also the body of the `job_results` record. */
export interface CompletionRecord {
  job_id: string;
  sample_id: string;
  status: "completed" | "cancelled" | "failed";
  output_path: string;
  output_files: string[];
  gene_count: number;
  mutation_count: number;
  genes: string[];
  drug_classes: string[];
  read_pairs: number;
  backend: string;
  duration_ms: number;
  attempts: number;
  worker_id: string;
  finished_at: string;
  /** Set once the `job_results` record was produced (the marker is rewritten then). */
  published_at?: string;
  error?: { error_class: string; code: string; message: string };
}

/** What became of one run. */
export type JobOutcome =
  | { status: "completed"; record: CompletionRecord; duplicate: boolean }
  | { status: "cancelled"; durationMs: number }
  | { status: "interrupted"; durationMs: number }
  | { status: "failed"; error: Classified; durationMs: number; cause: unknown };

/** Why a run's AbortSignal fired. */
export type AbortReason = "user" | "shutdown" | "timeout";

/** Options of {@link JobWorker}. */
export interface JobWorkerOptions {
  dbCache: Pick<DbCache, "get">;
  bus: ProgressSink;
  backend: "auto" | "cpu" | "cuda";
  threads: number;
  deviceId: number;
  workerId: string;
  progressIntervalMs?: number;
  /** Per-job time limit in seconds; 0 for none. */
  jobTimeoutSeconds?: number;
  /** Waiting for, and staleness of, another run's lock on a job's output folder (see `output_lock.ts`). */
  outputLock?: Omit<LockOptions, "signal" | "onLost">;
  metrics?: Metrics;
  log?: Logger;
}

/** Service stage of each engine stage. */
export const STAGE_MAP: Readonly<Record<Stage, ServiceStage>> = {
  idle: "loading_database",
  loading: "loading_database",
  screening: "screening",
  quantifying: "quantifying",
  mutations: "calling_mutations",
  reporting: "writing_results",
  done: "writing_results",
};

/** Messages of each service stage. */
const STAGE_MESSAGES: Readonly<Partial<Record<ServiceStage, string>>> = {
  validating_input: "Checking input files",
  loading_database: "Loading the AMR database",
  screening: "Screening reads against ResFinder",
  quantifying: "Quantifying gene abundance",
  calling_mutations: "Calling PointFinder mutations",
  writing_results: "Writing results",
  completed: "Analysis complete",
  cancelled: "Job cancelled",
};

/** Overall progress: 0–0.05 before the engine, the engine's fraction mapped to 0.05–0.95, then 0.95–1. */
const ENGINE_FROM = 0.05;
const ENGINE_SPAN = 0.9;

/** Reads the completion marker of `job`, if its results are complete and belong to this job and sample. */
export async function readCompletion(job: Job): Promise<CompletionRecord | null> {
  let marker: CompletionRecord;
  try {
    marker = JSON.parse(await Deno.readTextFile(`${job.output_path}/${MARKER_FILE}`));
  } catch {
    return null;
  }
  if (marker?.job_id !== job.job_id || marker.sample_id !== job.sample_id || marker.status !== "completed") {
    return null;
  }
  try {
    const results = JSON.parse(await Deno.readTextFile(`${job.output_path}/results.json`));
    if (results?.sample_id !== job.sample_id) return null;
  } catch {
    return null;
  }
  return marker;
}

/** Writes `data` as JSON to `path` atomically (temp file, then rename). */
export async function writeJsonAtomic(path: string, data: unknown): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(data, null, 2) + "\n");
  try {
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** Runs jobs on the engine. Stateless between jobs apart from the shared database. */
export class JobWorker {
  readonly #o: JobWorkerOptions;
  readonly #log: Logger;

  constructor(o: JobWorkerOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
  }

  /**
   * Runs `job` (attempt number `attempt`, 0 for the first run). Never throws: every failure becomes an
   * outcome. Aborting `signal` with reason `"user"` ends it `cancelled`, with `"shutdown"` `interrupted`.
   */
  async run(job: Job, o: { attempt: number; signal?: AbortSignal }): Promise<JobOutcome> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const log = this.#log.child({ job_id: job.job_id, sample_id: job.sample_id, attempt: o.attempt });
    const ac = new AbortController();
    const forward = () => ac.abort(o.signal?.reason);
    if (o.signal?.aborted) forward();
    o.signal?.addEventListener("abort", forward);
    const limit = this.#o.jobTimeoutSeconds ?? 0;
    const timer = limit > 0
      ? setTimeout(() => ac.abort("timeout" satisfies AbortReason), limit * 1000)
      : undefined;
    this.#o.metrics?.jobsInProgress.inc();
    try {
      const done = await readCompletion(job);
      if (done) {
        log.info("Results already complete; not running the job again");
        return { status: "completed", record: done, duplicate: true };
      }
      const { record, duplicate } = await this.#analyze(job, o.attempt, ac.signal, log);
      if (!duplicate) record.duration_ms = elapsed();
      return { status: "completed", record, duplicate };
    } catch (err) {
      const reason = ac.signal.aborted ? ac.signal.reason as AbortReason : undefined;
      if (err instanceof CancelledError || reason) {
        if (reason === "shutdown") {
          log.info("Job interrupted by shutdown; it will be redelivered");
          return { status: "interrupted", durationMs: elapsed() };
        }
        if (reason === "timeout") {
          const error = classify(new JobTimeoutError(limit, { cause: err }));
          return { status: "failed", error, durationMs: elapsed(), cause: err };
        }
        if (err instanceof CancelledError || reason === "user") {
          this.#publish(job, "cancelled", 1, STAGE_MESSAGES.cancelled!, { attempt: o.attempt });
          log.info("Job cancelled");
          return { status: "cancelled", durationMs: elapsed() };
        }
      }
      const error = classify(err);
      return { status: "failed", error, durationMs: elapsed(), cause: err };
    } finally {
      clearTimeout(timer);
      o.signal?.removeEventListener("abort", forward);
      this.#o.metrics?.jobsInProgress.dec();
    }
  }

  #publish(
    job: Job,
    stage: ServiceStage,
    progress: number,
    message: string,
    data?: Record<string, unknown>,
  ): void {
    this.#o.bus.publish({ job_id: job.job_id, sample_id: job.sample_id, stage, progress, message, data });
  }

  async #analyze(
    job: Job,
    attempt: number,
    signal: AbortSignal,
    log: Logger,
  ): Promise<{ record: CompletionRecord; duplicate: boolean }> {
    this.#publish(job, "validating_input", 0.01, STAGE_MESSAGES.validating_input!, { attempt });
    await checkPaths([[job.path_to_r1, "regular file", "R1"], [job.path_to_r2, "regular file", "R2"]]);
    await ensureOutputDir(job.output_path);
    const lost = new AbortController(); // the lock was taken over while held: stop writing the folder
    const lock = await lockOutput(job.output_path, { job_id: job.job_id, worker_id: this.#o.workerId }, {
      ...this.#o.outputLock,
      signal,
      onLost: () => lost.abort("lock lost"),
    }).catch((err) => {
      if (signal.aborted) throw new CancelledError("Run cancelled", { cause: signal.reason });
      throw err;
    });
    try {
      // the run that held the folder may have been this job's, and finished it
      const done = await readCompletion(job);
      if (done) {
        log.info("Results completed by another run meanwhile; not running the job again");
        return { record: done, duplicate: true };
      }
      return {
        record: await this.#analyzeLocked(job, attempt, AbortSignal.any([signal, lost.signal]), log),
        duplicate: false,
      };
    } catch (err) {
      if (lost.signal.aborted && !signal.aborted) {
        throw new OutputBusyError(
          `Output folder was taken over by another run while this one wrote it (${job.output_path})`,
          { cause: err },
        );
      }
      throw err;
    } finally {
      await lock.release().catch((err) =>
        log.warn("Cannot release the output folder's lock", { error: err })
      );
    }
  }

  async #analyzeLocked(
    job: Job,
    attempt: number,
    signal: AbortSignal,
    log: Logger,
  ): Promise<CompletionRecord> {
    await prepareOutputDir(job.output_path);
    // not this job's completion (readCompletion said so): another job's, or this one's from a failed write
    await Deno.remove(`${job.output_path}/${MARKER_FILE}`).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
    if (signal.aborted) throw new CancelledError("Run cancelled", { cause: signal.reason });

    this.#publish(job, "loading_database", 0.03, STAGE_MESSAGES.loading_database!);
    const db = await this.#o.dbCache.get();
    if (signal.aborted) throw new CancelledError("Run cancelled", { cause: signal.reason });

    let lastStage: ServiceStage | undefined;
    const onProgress = (p: Progress) => {
      const stage = STAGE_MAP[p.stage] ?? "screening";
      if (stage !== lastStage) log.debug("Stage", { stage, engine_stage: p.stage });
      lastStage = stage;
      this.#publish(
        job,
        stage,
        ENGINE_FROM + ENGINE_SPAN * Math.min(1, Math.max(0, p.fraction)),
        STAGE_MESSAGES[stage]!,
        {
          engine_stage: p.stage,
          pairs_done: p.pairsDone,
          bytes_done: p.bytesDone,
          bytes_total: p.bytesTotal,
        },
      );
    };
    const engineStarted = performance.now();
    log.info("Engine run started", { backend: this.#o.backend });
    const { result, files } = await analyzeSample({
      db,
      r1: job.path_to_r1,
      r2: job.path_to_r2,
      outDir: job.output_path,
      sampleId: job.sample_id,
      options: {
        backend: this.#o.backend,
        threads: this.#o.threads,
        deviceId: this.#o.deviceId,
        species: job.species,
      },
      onProgress,
      progressIntervalMs: this.#o.progressIntervalMs ?? 250,
      signal,
    });
    const engineSeconds = (performance.now() - engineStarted) / 1000;
    const backend = result.engine?.backend ?? this.#o.backend;
    if (result.engine?.fallback) { // `auto`: the GPU failed and the CPU finished the screen (same results)
      log.warn("CUDA device failed; the CPU screened instead", { reason: result.engine.fallback });
      this.#o.metrics?.engineCudaFallbacks.inc();
    }
    const pairs = result.input?.read_pairs ?? 0;
    this.#o.metrics?.engineReadPairs.inc({ backend }, pairs);
    if (engineSeconds > 0) this.#o.metrics?.engineThroughput.set({ backend }, pairs / engineSeconds);

    this.#publish(job, "writing_results", 0.97, STAGE_MESSAGES.writing_results!);
    const record: CompletionRecord = {
      job_id: job.job_id,
      sample_id: job.sample_id,
      status: "completed",
      output_path: job.output_path,
      output_files: files,
      gene_count: result.genes.length,
      mutation_count: result.mutations.length,
      genes: [...new Set(result.genes.map((g) => g.gene))],
      drug_classes: result.drug_classes ?? [],
      read_pairs: pairs,
      backend,
      duration_ms: 0,
      attempts: attempt + 1,
      worker_id: this.#o.workerId,
      finished_at: new Date().toISOString(),
    };
    await writeJsonAtomic(`${job.output_path}/${MARKER_FILE}`, record);
    log.info("Engine run finished", {
      backend,
      read_pairs: pairs,
      genes: record.gene_count,
      mutations: record.mutation_count,
      engine_seconds: Math.round(engineSeconds * 1000) / 1000,
    });
    return record;
  }
}
