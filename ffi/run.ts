/**
 * `Run`: one paired-sample analysis against a `Database` (`bg_run_t`), its options and progress structs,
 * and the typed result JSON (docs/CONTRACTS.md).
 *
 * @module
 */

import { type Database, databaseInternals } from "./database.ts";
import { CancelledError, checkPaths, EngineError, InputError, Status, unwrap } from "./errors.ts";
import { cString, lib, readCString, readUtf8 } from "./library.ts";

/** Stage of a run, as `bg_stage_t`. */
export type Stage = "idle" | "loading" | "screening" | "quantifying" | "mutations" | "reporting" | "done";

/** `bg_stage_t` values in order. */
export const STAGES: readonly Stage[] = [
  "idle",
  "loading",
  "screening",
  "quantifying",
  "mutations",
  "reporting",
  "done",
];

/** Progress of a run (`bg_progress_t`). */
export interface Progress {
  stage: Stage;
  /** Read pairs processed so far. */
  pairsDone: number;
  /** Input bytes (compressed, as on disk) consumed, R1 + R2. */
  bytesDone: number;
  /** Input file sizes, R1 + R2. */
  bytesTotal: number;
  /** 0..1, never decreasing within a run. */
  fraction: number;
}

/** Options of one analysis; unset fields keep the engine defaults (`bg_run_options_init`). */
export interface RunOptions {
  backend?: "auto" | "cpu" | "cuda";
  /** CPU worker threads; 0 = all cores. */
  threads?: number;
  /** CUDA device. */
  deviceId?: number;
  /** Gene call: consensus identity, percent (default 90). */
  minIdentity?: number;
  /** Gene call: breadth of coverage, percent (default 60). */
  minCoverage?: number;
  /** Mutation site call: minimum reads covering a site (default 3). */
  minDepth?: number;
  /** Mutation: minimum alt-read fraction (default 0.05). */
  minAlleleFreq?: number;
  /** Mutation: minimum alt reads (default 2). */
  minAltReads?: number;
  /** Read pairs per batch (default 4096). */
  batchPairs?: number;
  /** Mutation evidence: a read counts at a catalogued gene's sites only when its alignment to the gene
   *  agrees at this percent of its columns (default 95). */
  minPointIdentity?: number;
  /** PointFinder species to call (database names, e.g. `escherichia_coli`); unset or empty: every species in
   *  the database. A name the database lacks fails the run with INVALID_ARGUMENT. */
  species?: string[];
}

/** A ResFinder gene call. */
export interface GeneCall {
  allele: string;
  gene: string;
  accession: string;
  drug_class: string;
  phenotype: string;
  /** Mechanism of resistance (ResFinder's phenotypes.txt; "; "-joined when its rows differ; may be ""). */
  mechanism: string;
  length: number;
  reads: number;
  identity: number;
  coverage: number;
  depth: number;
  /** The EM's expected fragments for the allele (multi-mapping fragments shared by likelihood). */
  em_reads: number;
  rpkm: number;
  tpm: number;
}

/** A PointFinder mutation call. `type` AA: `S83L`; NUC: `n.2058A>G`; INS: `n.-13_-12insGT`. */
export interface MutationCall {
  species: string;
  gene: string;
  /** The PointFinder reference sequence's name, e.g. `gyrA_1_CP073768.1` (its accession tells species apart). */
  reference: string;
  mutation: string;
  type: "AA" | "NUC" | "INS" | "DEL" | "AA_INS";
  position: number;
  ref: string;
  alt: string;
  ref_codon?: string;
  alt_codon?: string;
  depth: number;
  alt_reads: number;
  frequency: number;
  drug_class: string;
  phenotype: string;
  pmid: string;
  /** Mechanism of resistance (PointFinder's phenotypes.txt; may be ""). */
  mechanism: string;
}

/** A catalogued position reached by reads. */
export interface SiteCall {
  species: string;
  gene: string;
  position: number;
  type: "AA" | "NUC" | "INS" | "DEL" | "AA_INS";
  ref: string;
  depth: number;
  counts: Record<string, number>;
  /** `uncatalogued`: an allele the catalogue does not list as resistant outnumbers the reference. */
  status: "wild_type" | "mutant" | "uncatalogued" | "low_depth";
}

/** The engine's result JSON (`bg_run_result_json`), as documented in docs/CONTRACTS.md. */
export interface EngineResult {
  /** fallback: null, or why `auto` screened on the CPU after a CUDA device failed (docs/CONTRACTS.md). */
  engine: { version: string; backend: string; device: string; fallback: string | null; threads: number };
  input: { read_pairs: number; bases: number; bytes: number };
  timing: { seconds: number };
  options: {
    min_identity: number;
    min_coverage: number;
    min_depth: number;
    min_allele_freq: number;
    min_alt_reads: number;
    min_point_identity: number;
    /** The PointFinder species called (every species of the database unless the run chose some). */
    species: string[];
  };
  genes: GeneCall[];
  mutations: MutationCall[];
  sites: SiteCall[];
  drug_classes: string[];
}

// ---------------------------------------------------------------------------------------------------------
// Struct layouts (x86-64 / aarch64 LP64; checked against a compiled C program in run_test.ts)

/** `bg_run_options_t` byte offsets and size. */
export const RUN_OPTIONS_LAYOUT = {
  size: 0, // uint32_t
  backend: 4, // int32_t
  threads: 8, // int32_t
  device_id: 12, // int32_t
  min_identity: 16, // double (8-aligned; no padding needed after three int32)
  min_coverage: 24, // double
  min_depth: 32, // double
  min_allele_freq: 40, // double
  min_alt_reads: 48, // int32_t
  batch_pairs: 52, // int32_t
  min_point_identity: 56, // double
  species: 64, // char[512], comma-separated, NUL-terminated
  sizeof: 576,
} as const;

/** `bg_progress_t` byte offsets and size. */
export const PROGRESS_LAYOUT = {
  size: 0, // uint32_t
  stage: 4, // int32_t
  pairs_done: 8, // uint64_t
  bytes_done: 16, // uint64_t
  bytes_total: 24, // uint64_t
  fraction: 32, // double
  sizeof: 40,
} as const;

const BACKENDS = { auto: 0, cpu: 1, cuda: 2 } as const;

function checkInt(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31)) {
    throw new InputError(Status.INVALID_ARGUMENT, `Option ${name} must be a 32-bit integer, found ${v}`);
  }
}

function checkNumber(name: string, v: number | undefined): void {
  if (v !== undefined && (typeof v !== "number" || Number.isNaN(v))) {
    throw new InputError(Status.INVALID_ARGUMENT, `Option ${name} must be a number, found ${v}`);
  }
}

/**
 * Encodes options as `bg_run_options_t` over the defaults already in `buf` (from `bg_run_options_init`).
 * Only fields set in `o` are written.
 */
export function encodeRunOptions(o: RunOptions, buf: Uint8Array): void {
  if (buf.byteLength < RUN_OPTIONS_LAYOUT.sizeof) throw new RangeError("bg_run_options_t buffer too small");
  const L = RUN_OPTIONS_LAYOUT;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (o.backend !== undefined) {
    if (!(o.backend in BACKENDS)) {
      throw new InputError(
        Status.INVALID_ARGUMENT,
        `Option backend must be auto, cpu or cuda, found ${String(o.backend)}`,
      );
    }
    v.setInt32(L.backend, BACKENDS[o.backend], true);
  }
  const ints = [["threads", o.threads, L.threads], ["deviceId", o.deviceId, L.device_id], [
    "minAltReads",
    o.minAltReads,
    L.min_alt_reads,
  ], ["batchPairs", o.batchPairs, L.batch_pairs]] as const;
  for (const [name, value, off] of ints) {
    checkInt(name, value);
    if (value !== undefined) v.setInt32(off, value, true);
  }
  const doubles = [
    ["minIdentity", o.minIdentity, L.min_identity],
    ["minCoverage", o.minCoverage, L.min_coverage],
    ["minDepth", o.minDepth, L.min_depth],
    ["minAlleleFreq", o.minAlleleFreq, L.min_allele_freq],
    ["minPointIdentity", o.minPointIdentity, L.min_point_identity],
  ] as const;
  for (const [name, value, off] of doubles) {
    checkNumber(name, value);
    if (value !== undefined) v.setFloat64(off, value, true);
  }
  if (o.species !== undefined) encodeSpecies(o.species, buf, L.species);
}

/** Size of `bg_run_options_t.species` (BG_SPECIES_LIST_MAX), its NUL included. */
const SPECIES_LIST_MAX = 512;

function encodeSpecies(species: readonly string[], buf: Uint8Array, off: number): void {
  if (!Array.isArray(species)) {
    throw new InputError(Status.INVALID_ARGUMENT, `Option species must be a list of species names`);
  }
  for (const name of species) {
    if (typeof name !== "string" || !/^[A-Za-z0-9_.-]+$/.test(name)) {
      throw new InputError(
        Status.INVALID_ARGUMENT,
        `Option species: ${JSON.stringify(name)} is not a species name (letters, digits, _ . -)`,
      );
    }
  }
  const bytes = new TextEncoder().encode(species.join(","));
  if (bytes.length >= SPECIES_LIST_MAX) {
    throw new InputError(
      Status.INVALID_ARGUMENT,
      `Option species: the list takes ${bytes.length} bytes, at most ${SPECIES_LIST_MAX - 1} fit`,
    );
  }
  buf.fill(0, off, off + SPECIES_LIST_MAX);
  buf.set(bytes, off);
}

function decodeSpecies(buf: Uint8Array, off: number): string[] {
  const field = buf.subarray(off, off + SPECIES_LIST_MAX);
  const end = field.indexOf(0);
  const text = new TextDecoder().decode(field.subarray(0, end < 0 ? field.length : end));
  return text ? text.split(",") : [];
}

/** Decodes a `bg_run_options_t` (for tests and diagnostics). */
export function decodeRunOptions(buf: Uint8Array): Required<RunOptions> & { size: number } {
  const L = RUN_OPTIONS_LAYOUT;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const backend = v.getInt32(L.backend, true);
  return {
    size: v.getUint32(L.size, true),
    backend: (["auto", "cpu", "cuda"] as const)[backend] ?? "auto",
    threads: v.getInt32(L.threads, true),
    deviceId: v.getInt32(L.device_id, true),
    minIdentity: v.getFloat64(L.min_identity, true),
    minCoverage: v.getFloat64(L.min_coverage, true),
    minDepth: v.getFloat64(L.min_depth, true),
    minAlleleFreq: v.getFloat64(L.min_allele_freq, true),
    minAltReads: v.getInt32(L.min_alt_reads, true),
    batchPairs: v.getInt32(L.batch_pairs, true),
    minPointIdentity: v.getFloat64(L.min_point_identity, true),
    species: decodeSpecies(buf, L.species),
  };
}

/** Decodes a `bg_progress_t`. */
export function decodeProgress(buf: Uint8Array): Progress {
  const L = PROGRESS_LAYOUT;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    stage: STAGES[v.getInt32(L.stage, true)] ?? "idle",
    pairsDone: Number(v.getBigUint64(L.pairs_done, true)),
    bytesDone: Number(v.getBigUint64(L.bytes_done, true)),
    bytesTotal: Number(v.getBigUint64(L.bytes_total, true)),
    fraction: v.getFloat64(L.fraction, true),
  };
}

/**
 * Builds a checked `bg_run_options_t`: engine defaults, then the caller's fields, then `bg_run_options_check`
 * (its message is raised as `InputError` `BG_ERR_INVALID_ARGUMENT`).
 */
export function runOptionsStruct(o: RunOptions = {}): Uint8Array<ArrayBuffer> {
  const buf = new Uint8Array(RUN_OPTIONS_LAYOUT.sizeof);
  const symbols = lib();
  symbols.bg_run_options_init(buf);
  encodeRunOptions(o, buf);
  const msg = new Uint8Array(512);
  const status = symbols.bg_run_options_check(buf, msg, BigInt(msg.length));
  unwrap(status, () => {
    const end = msg.indexOf(0);
    return new TextDecoder().decode(msg.subarray(0, end < 0 ? msg.length : end));
  });
  return buf;
}

function parseResult(text: string): EngineResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new EngineError(Status.INTERNAL, "Engine result is not valid JSON", { cause: err });
  }
  const r = parsed as Partial<EngineResult> | null;
  if (r === null || typeof r !== "object" || !Array.isArray(r.genes) || !Array.isArray(r.mutations)) {
    throw new EngineError(Status.INTERNAL, "Engine result lacks the genes and mutations arrays");
  }
  r.sites ??= [];
  r.drug_classes ??= [];
  return r as EngineResult;
}

/**
 * One analysis at a time of paired FASTQ files against a database. The database must stay open while the
 * run exists (the run holds a reference, so `db.close()` only frees it after `run.close()`).
 *
 * @example
 * ```ts
 * using run = new Run(db);
 * const timer = setInterval(() => console.log(run.progress().fraction), 500);
 * try {
 *   const result = await run.analyze("x_R1.fastq.gz", "x_R2.fastq.gz", { backend: "cpu" });
 * } finally {
 *   clearInterval(timer);
 * }
 * ```
 */
export class Run {
  #handle: Deno.PointerObject | null;
  #db: Database;
  #busy = false;
  #closed = false;
  #cancelRequested = false;
  /** Buffers handed to the in-flight nonblocking call; kept referenced until it settles. */
  #inflight: Uint8Array[] = [];
  readonly #progressBuf = new Uint8Array(PROGRESS_LAYOUT.sizeof);

  constructor(db: Database) {
    const dbHandle = databaseInternals.acquire(db);
    const h = lib().bg_run_new(dbHandle);
    if (h === null) {
      databaseInternals.release(db);
      throw new EngineError(Status.HOST_OOM, "Cannot create run: out of memory");
    }
    this.#handle = h;
    this.#db = db;
  }

  /**
   * Analyses one paired sample (plain or gzip FASTQ). Rejects with `InputError`, `DatabaseError`,
   * `DeviceError`, `CancelledError` or `EngineError`. `onStart` is called once the engine has been handed the
   * run (it goes on on the engine's threads); an exception it throws is ignored.
   */
  async analyze(
    r1: string,
    r2: string,
    o: RunOptions = {},
    onStart?: () => void,
  ): Promise<EngineResult> {
    const h = this.#live();
    if (this.#busy) throw new TypeError("Run is busy: one analysis per run at a time");
    this.#busy = true;
    this.#cancelRequested = false;
    try {
      const opts = runOptionsStruct(o);
      await checkPaths([[r1, "file", "R1"], [r2, "file", "R2"]]);
      const c1 = cString(r1, "R1 path");
      const c2 = cString(r2, "R2 path");
      if (this.#cancelRequested || this.#closed) throw new CancelledError("Run cancelled before it started");
      this.#inflight = [opts, c1, c2];
      const running = lib().bg_run_analyze(h, opts, c1, c2);
      try {
        onStart?.();
      } catch {
        // The caller's hook must not orphan the running analysis.
      }
      const status = await running;
      unwrap(status, () => readCString(lib().bg_run_errmsg(h)));
      const len = new BigUint64Array(1);
      const ptr = lib().bg_run_result_json(h, new Uint8Array(len.buffer));
      if (ptr === null) throw new EngineError(Status.INTERNAL, "Engine returned no result after success");
      return parseResult(readUtf8(ptr, Number(len[0])));
    } finally {
      this.#inflight = [];
      this.#busy = false;
      this.#maybeFree();
    }
  }

  /** Current progress; safe to call while `analyze` runs. */
  progress(): Progress {
    const h = this.#live();
    const buf = this.#progressBuf;
    buf.fill(0);
    new DataView(buf.buffer).setUint32(PROGRESS_LAYOUT.size, PROGRESS_LAYOUT.sizeof, true);
    unwrap(lib().bg_run_progress(h, buf), () => readCString(lib().bg_run_errmsg(h)));
    return decodeProgress(buf);
  }

  /** Asks a running analysis to stop; it rejects with `CancelledError` within about a second. */
  cancel(): void {
    this.#cancelRequested = true;
    if (this.#handle !== null) lib().bg_run_cancel(this.#handle);
  }

  /** True while `analyze` is in progress. */
  get busy(): boolean {
    return this.#busy;
  }

  /** Releases the run. Idempotent; during an analysis it cancels it and frees the handle once it settles. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#busy) this.cancel();
    this.#maybeFree();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #live(): Deno.PointerObject {
    if (this.#closed || this.#handle === null) throw new TypeError("Run is closed");
    return this.#handle;
  }

  #maybeFree(): void {
    if (this.#closed && !this.#busy && this.#handle !== null) {
      const h = this.#handle;
      this.#handle = null;
      lib().bg_run_free(h);
      databaseInternals.release(this.#db);
    }
  }
}
