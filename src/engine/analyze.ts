/**
 * `analyzeSample()`: runs one paired sample through the engine, reports progress, honours cancellation and
 * writes the output files atomically.
 *
 * @module
 */

import {
  CancelledError,
  checkPaths,
  type Database,
  InputError,
  type Progress,
  Run,
  type RunOptions,
  Status,
} from "../../ffi/mod.ts";
import {
  clearEarlierResults,
  type HamronizationMeta,
  prepareOutputDir,
  type SampleResult,
  writeOutputs,
} from "./writers.ts";

export type { SampleResult } from "./writers.ts";

/** Options of `analyzeSample`. */
export interface AnalyzeSampleOptions {
  db: Database;
  r1: string;
  r2: string;
  /** Folder receiving results.json, genes.tsv, mutations.tsv, hamronization.tsv (created if needed; an earlier
   * run's files there are removed before the run starts). */
  outDir: string;
  sampleId: string;
  options?: RunOptions;
  /** Called with the run's progress every `progressIntervalMs` while it changes, and once at the end. */
  onProgress?: (p: Progress) => void;
  /** Progress polling period; default 200 ms. */
  progressIntervalMs?: number;
  /** Aborting cancels the run; the promise then rejects with `CancelledError` and writes nothing. */
  signal?: AbortSignal;
}

/** What `analyzeSample` produced. */
export interface AnalyzeSampleResult {
  result: SampleResult;
  /** Paths written, results.json last. */
  files: string[];
}

/**
 * The default sample id: R1's file name without its folder, `.fastq`/`.fq` (+ `.gz`) and `_R1`/`_1`
 * (also with a trailing Illumina `_001`): `/data/S1_R1.fastq.gz` → `S1`.
 */
export function defaultSampleId(r1: string): string {
  const base = r1.slice(r1.lastIndexOf("/") + 1);
  const noExt = base.replace(/\.(fastq|fq)(\.gz)?$/i, "");
  const id = noExt.replace(/_R?1(_001)?$/, "");
  return id || noExt || base;
}

function databaseMeta(db: Database): HamronizationMeta {
  let info: Record<string, unknown> = {};
  try {
    info = db.info();
  } catch {
    // The versions are informative only.
  }
  const str = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : undefined);
  return {
    resfinderVersion: str(info.resfinder_version) ?? str(info.version),
    pointfinderVersion: str(info.pointfinder_version) ?? str(info.version),
  };
}

function sameProgress(a: Progress | undefined, b: Progress): boolean {
  return a !== undefined && a.stage === b.stage && a.pairsDone === b.pairsDone &&
    a.bytesDone === b.bytesDone &&
    a.fraction === b.fraction;
}

/**
 * Analyses one paired sample and writes its output files into `outDir`. The result gets `sample_id` and the
 * wall time in `timing.seconds`. Errors from `onProgress` are ignored (they never stop the run).
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * const { result, files } = await analyzeSample({
 *   db, r1: "S1_R1.fastq.gz", r2: "S1_R2.fastq.gz", outDir: "out/S1", sampleId: "S1",
 *   onProgress: (p) => console.log(p.stage, p.fraction), signal: ac.signal,
 * });
 * ```
 */
export async function analyzeSample(o: AnalyzeSampleOptions): Promise<AnalyzeSampleResult> {
  if (!o.sampleId.trim() || /[\t\r\n]/.test(o.sampleId)) {
    throw new InputError(
      Status.INVALID_ARGUMENT,
      `Sample id must be non-empty without tabs or line breaks, found ${JSON.stringify(o.sampleId)}`,
    );
  }
  const cancelled = () => new CancelledError("Run cancelled", { cause: o.signal?.reason });
  if (o.signal?.aborted) throw cancelled();
  const started = performance.now();
  // before the engine: missing inputs leave no folder behind, an unwritable folder fails now, and an earlier
  // run's results are gone if this one fails
  try {
    await checkPaths([[o.r1, "file", "R1"], [o.r2, "file", "R2"]]);
  } catch (err) {
    await clearEarlierResults(o.outDir);
    throw err;
  }
  await prepareOutputDir(o.outDir);
  const run = new Run(o.db);
  let last: Progress | undefined;
  const report = (p: Progress) => {
    if (sameProgress(last, p)) return;
    last = p;
    try {
      o.onProgress?.(p);
    } catch {
      // A failing observer must not stop the run.
    }
  };
  const tick = () => {
    // Re-issue a cancel that may have reached the engine before the analysis started.
    if (o.signal?.aborted) run.cancel();
    if (!o.onProgress) return;
    try {
      report(run.progress());
    } catch {
      // Progress is informative only.
    }
  };
  const onAbort = () => run.cancel();
  o.signal?.addEventListener("abort", onAbort);
  // The timer is set once the engine runs: a process's first timer costs Deno ~12 ms of this thread (its timer
  // machinery starts), which then overlaps the analysis instead of delaying it.
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    let engine;
    try {
      engine = await run.analyze(o.r1, o.r2, o.options, () => {
        timer = setInterval(tick, o.progressIntervalMs ?? 200);
      });
    } catch (err) {
      if (err instanceof CancelledError && o.signal?.aborted) throw cancelled();
      throw err;
    } finally {
      clearInterval(timer);
      o.signal?.removeEventListener("abort", onAbort);
    }
    if (o.signal?.aborted) throw cancelled();
    if (o.onProgress) {
      try {
        report(run.progress());
      } catch {
        // Informative only.
      }
    }
    const seconds = Math.round(performance.now() - started) / 1000;
    const result: SampleResult = {
      sample_id: o.sampleId,
      ...engine,
      timing: { ...engine.timing, seconds },
    };
    const files = await writeOutputs(o.outDir, result, {
      softwareVersion: engine.engine?.version,
      ...databaseMeta(o.db),
    });
    return { result, files };
  } finally {
    run.close();
  }
}
