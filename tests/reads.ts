/**
 * Small helpers for engine tests that build their reads from reference sequences: whether the engine (and the
 * Debian AMR folders) are there, FASTA records, reverse complements, and error-free read pairs tiled over a
 * sequence. No Kafka or Redis here, so engine tests stay light.
 *
 * @module
 */
import { type Database, engineInfo, type EngineResult, Run } from "../ffi/mod.ts";

/** ResFinder's folder (Debian `resfinder-db`). */
export const RF = "/usr/share/resfinder/db";
/** PointFinder's catalogue (Debian `resfinder-example`). */
export const PF = "/usr/share/doc/resfinder/examples/db_pointfinder";

/**
 * Why the engine tests of file `test` cannot run here ("" when they can): the library does not load, or one
 * of `paths` is missing. The reason is printed once, on stderr.
 */
export function engineUnavailable(test: string, ...paths: string[]): string {
  let why = "";
  try {
    engineInfo();
    for (const p of paths) Deno.statSync(p);
  } catch (err) {
    why = (err as Error).message;
  }
  if (why) console.error(`${test}: ignored: ${why}`);
  return why;
}

const COMP: Record<string, string> = { A: "T", C: "G", G: "C", T: "A" };

/** Reverse complement (anything but ACGT becomes N). */
export function revcomp(s: string): string {
  return [...s].reverse().map((c) => COMP[c] ?? "N").join("");
}

/** The sequence of the FASTA record whose header is `name` exactly (upper case, lines joined). */
export async function fastaRecord(path: string, name: string): Promise<string> {
  const text = await Deno.readTextFile(path);
  const rec = text.split(">").find((r) => r.split("\n")[0].trim() === name);
  if (!rec) throw new Error(`No record ${name} in ${path}`);
  return rec.split("\n").slice(1).join("").toUpperCase();
}

/** How {@link tilePairs} cuts a sequence. */
export interface Tiling {
  /** Fragment length (default 300); with `spread`, fragments are `fragment` to `fragment + spread - 1` long. */
  fragment?: number;
  spread?: number;
  /** Mate length (default 150). */
  read?: number;
  /** Bases between fragment starts (default 4). */
  step?: number;
}

/**
 * Error-free pairs over `seq`, FASTQ text for R1 and R2: a fragment at every `step`th base, mates from its two
 * ends, every other fragment from the reverse strand. Names are `<name><n>/1` and `/2`.
 */
export function tilePairs(seq: string, name: string, o: Tiling = {}): { r1: string; r2: string } {
  const fragment = o.fragment ?? 300, read = o.read ?? 150, step = o.step ?? 4, spread = o.spread ?? 1;
  const q = "I".repeat(read);
  let r1 = "", r2 = "";
  for (let i = 0, n = 0; i + fragment <= seq.length; i += step, n++) {
    const frag = seq.slice(i, Math.min(seq.length, i + fragment + (n % spread)));
    const [a, b] = n % 2 ? [revcomp(frag), frag] : [frag, revcomp(frag)];
    r1 += `@${name}${n}/1\n${a.slice(0, read)}\n+\n${q.slice(0, Math.min(read, a.length))}\n`;
    r2 += `@${name}${n}/2\n${b.slice(0, read)}\n+\n${q.slice(0, Math.min(read, b.length))}\n`;
  }
  return { r1, r2 };
}

/** Writes FASTQ text pairs to R1.fq and R2.fq in `dir` and analyzes them on the CPU backend with 2 threads. */
export async function analyzeReads(
  db: Database,
  dir: string,
  reads: { r1: string; r2: string },
): Promise<EngineResult> {
  await Deno.writeTextFile(`${dir}/R1.fq`, reads.r1);
  await Deno.writeTextFile(`${dir}/R2.fq`, reads.r2);
  using run = new Run(db);
  return await run.analyze(`${dir}/R1.fq`, `${dir}/R2.fq`, { backend: "cpu", threads: 2 });
}
