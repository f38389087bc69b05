/**
 * `biogpu analyze`: one paired sample against a database index, output files into a folder.
 *
 * @module
 */

import { CancelledError, Database, type RunOptions } from "../../ffi/mod.ts";
import { analyzeSample, defaultSampleId, type SampleResult } from "../engine/analyze.ts";
import { clearEarlierResults } from "../engine/writers.ts";
import { formatCount, ProgressBar } from "../engine/progress_bar.ts";
import { type FlagSpec, HelpRequested, parseFlags, reportError, usage, UsageError } from "./args.ts";

/** The engine's options are 32-bit integers. */
const INT32_MAX = 2 ** 31 - 1;

/** Flags of `analyze`. */
export const ANALYZE_FLAGS = {
  r1: { type: "string", required: true, placeholder: "FILE", help: "Forward reads (FASTQ, plain or gzip)" },
  r2: { type: "string", required: true, placeholder: "FILE", help: "Reverse reads (FASTQ, plain or gzip)" },
  db: { type: "string", required: true, placeholder: "FILE", help: "Database index file made by `db build`" },
  out: { type: "string", required: true, placeholder: "DIR", help: "Output folder" },
  "sample-id": {
    type: "string",
    placeholder: "ID",
    help: "Sample id (default: R1's name without _R1 and suffixes)",
  },
  backend: { type: "string", choices: ["auto", "cpu", "cuda"], help: "Engine backend (default auto)" },
  threads: {
    type: "integer",
    min: 0,
    max: 1024,
    placeholder: "N",
    help: "CPU threads; 0 = all cores (default)",
  },
  device: { type: "integer", min: 0, max: INT32_MAX, placeholder: "N", help: "CUDA device id (default 0)" },
  "min-identity": {
    type: "number",
    min: 0,
    max: 100,
    placeholder: "PCT",
    help: "Gene call identity (default 90)",
  },
  "min-coverage": {
    type: "number",
    min: 0,
    max: 100,
    placeholder: "PCT",
    help: "Gene call coverage (default 60)",
  },
  "min-depth": { type: "number", min: 0, placeholder: "N", help: "Mutation site minimum depth (default 3)" },
  "min-allele-freq": {
    type: "number",
    min: 0,
    max: 1,
    placeholder: "F",
    help: "Mutation minimum alt fraction (default 0.05)",
  },
  "min-alt-reads": {
    type: "integer",
    min: 0,
    max: INT32_MAX,
    placeholder: "N",
    help: "Mutation minimum alt reads (default 2)",
  },
  species: {
    type: "list",
    placeholder: "A,B",
    help: "PointFinder species to call (default: every species in the database)",
  },
  "min-point-identity": {
    type: "number",
    min: 0,
    max: 100,
    placeholder: "PCT",
    help: "Mutation evidence: a read's identity to the catalogued gene (default 95)",
  },
  "batch-pairs": {
    type: "integer",
    min: 64,
    max: 4_194_304,
    placeholder: "N",
    help: "Read pairs per batch (default 4096)",
  },
} as const satisfies Record<string, FlagSpec>;

/** The success summary printed on stdout. */
export function summary(result: SampleResult, outDir: string): string {
  const n = (k: number, word: string) => `${k} ${word}${k === 1 ? "" : "s"}`;
  const classes = result.drug_classes.length ? result.drug_classes.join(", ") : "none";
  return [
    `${result.sample_id}: ${n(result.genes.length, "gene")}, ${n(result.mutations.length, "mutation")} ` +
    `(${formatCount(result.input.read_pairs)} read pairs, ${result.timing.seconds.toFixed(1)} s, ` +
    `${result.engine.backend})`,
    `drug classes: ${classes}`,
    `results: ${outDir}`,
  ].join("\n");
}

/** Runs `analyze …`; returns the exit code. SIGINT cancels the run (exit 130); a second SIGINT exits at once. */
export async function analyzeCommand(args: readonly string[]): Promise<number> {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) Deno.exit(130);
    controller.abort(new CancelledError("Interrupted"));
  };
  let listening = false;
  const bar = Deno.stderr.isTerminal() ? new ProgressBar(Deno.stderr) : undefined;
  try {
    const flags = parseFlags(args, ANALYZE_FLAGS);
    const sampleId = flags["sample-id"];
    if (sampleId !== undefined && (!sampleId.trim() || /[\t\r\n]/.test(sampleId))) {
      throw new UsageError(
        `--sample-id must be non-empty without tabs or line breaks, found ${JSON.stringify(sampleId)}`,
      );
    }
    const options: RunOptions = {
      backend: flags.backend as RunOptions["backend"],
      threads: flags.threads,
      deviceId: flags.device,
      minIdentity: flags["min-identity"],
      minCoverage: flags["min-coverage"],
      minDepth: flags["min-depth"],
      minAlleleFreq: flags["min-allele-freq"],
      minAltReads: flags["min-alt-reads"],
      minPointIdentity: flags["min-point-identity"],
      species: flags.species,
      batchPairs: flags["batch-pairs"],
    };
    Deno.addSignalListener("SIGINT", onSigint);
    listening = true;
    // a database that cannot be loaded fails the run, which then leaves no earlier results in --out either
    using db = await Database.load(flags.db).catch(async (err) => {
      await clearEarlierResults(flags.out);
      throw err;
    });
    const { result } = await analyzeSample({
      db,
      r1: flags.r1,
      r2: flags.r2,
      outDir: flags.out,
      sampleId: sampleId ?? defaultSampleId(flags.r1),
      options,
      onProgress: bar ? (p) => bar.update(p) : undefined,
      signal: controller.signal,
    });
    bar?.clear();
    console.log(summary(result, flags.out));
    return 0;
  } catch (err) {
    bar?.clear();
    if (err instanceof HelpRequested) {
      console.log(usage("analyze", ANALYZE_FLAGS));
      return 0;
    }
    return reportError(err);
  } finally {
    if (listening) Deno.removeSignalListener("SIGINT", onSigint);
  }
}
