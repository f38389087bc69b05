/**
 * Deterministic paired-end read simulator for the engine's fixtures and benchmark.
 *
 * Everything here is seeded (mulberry32): the same sources, options and seed give byte-identical FASTQ. Reads
 * carry substitution errors (more toward the 3' end), rare small indels, occasional `N` bases and lowercase
 * stretches, and CASAVA 1.8 or `/1` `/2` names. Output is plain FASTQ, one gzip member, or bgzip's format
 * (BGZF: gzip members of at most 64 KiB whose BC extra field holds their size, then bgzip's empty EOF member).
 *
 * Helpers load the reference data installed by Debian (ResFinder, PointFinder, E. coli K-12), locate a
 * PointFinder gene in the K-12 genome and plant catalogued mutations in it.
 *
 * @example
 * ```ts
 * const plan = planFragments([{ name: "blaTEM", seq, depth: 30 }], { seed: 7, readLength: 150 });
 * await writePairs(plan, "x_R1.fastq.gz", "x_R2.fastq.gz", { format: "gz" });
 * ```
 *
 * @module
 */

import { crc32, deflateRawSync, gunzipSync, gzipSync } from "node:zlib";

/** ResFinder database folder (Debian `resfinder-db`). */
export const RESFINDER_DIR = "/usr/share/resfinder/db";
/** PointFinder catalogue root (Debian `resfinder-example`). */
export const POINTFINDER_DIR = "/usr/share/doc/resfinder/examples/db_pointfinder";
/** E. coli K-12 MG1655 genome (Debian `ragout-examples`). */
export const K12_FASTA = "/usr/share/doc/ragout/examples/E.Coli/references/MG1655-K12.fasta.gz";

// ---------------------------------------------------------------------------------------------------------
// Random numbers

/** Seeded PRNG (mulberry32) with the few draws the simulator needs. */
export class Rng {
  #s: number;
  #spare: number | null = null;

  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller, caching the second value). */
  normal(): number {
    if (this.#spare !== null) {
      const v = this.#spare;
      this.#spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Sequences

const A = 65, C = 67, G = 71, T = 84, N = 78;
const BASES = new Uint8Array([A, C, G, T]);
/** Illumina TruSeq's adapters as read through by R1 and R2. */
const TRUSEQ_R1 = new TextEncoder().encode("AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC");
const TRUSEQ_R2 = new TextEncoder().encode("AGATCGGAAGAGCGTCGTGTAGGGAAAGAGTGT");
const COMP = new Uint8Array(256).fill(N);
for (const [x, y] of [["A", "T"], ["C", "G"], ["G", "C"], ["T", "A"], ["N", "N"]]) {
  COMP[x.charCodeAt(0)] = y.charCodeAt(0);
  COMP[x.toLowerCase().charCodeAt(0)] = y.toLowerCase().charCodeAt(0);
}

/** ASCII bytes of a string (sequences are ASCII). */
export function bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** String of ASCII bytes. */
export function ascii(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

/** Reverse complement (IUPAC codes other than ACGT become N). */
export function revcomp(seq: Uint8Array): Uint8Array {
  const n = seq.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = COMP[seq[n - 1 - i]];
  return out;
}

/** Uniform random DNA of length `n`. */
export function randomDna(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = BASES[rng.int(4)];
  return out;
}

/** Concatenation of byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const CODONS: Record<string, string> = {};
{
  const aa = "KNKNTTTTRSRSIIMIQHQHPPPPRRRRLLLLEDEDAAAAGGGGVVVV*Y*YSSSS*CWCLFLF";
  const b = "ACGT";
  let i = 0;
  for (const x of b) for (const y of b) for (const z of b) CODONS[x + y + z] = aa[i++];
}

/** Amino acid of a codon (`"X"` when it holds a base other than ACGT). */
export function translateCodon(codon: string): string {
  return CODONS[codon.toUpperCase()] ?? "X";
}

// ---------------------------------------------------------------------------------------------------------
// Reference data

/** Reads `path`, or `path.gz` when only that exists; gzip content is inflated. */
export async function readMaybeGz(path: string): Promise<Uint8Array> {
  let p = path;
  try {
    await Deno.stat(p);
  } catch {
    if (p.endsWith(".gz")) p = p.slice(0, -3);
    else p = `${p}.gz`;
  }
  const raw = await Deno.readFile(p);
  return raw.length > 2 && raw[0] === 0x1f && raw[1] === 0x8b ? new Uint8Array(gunzipSync(raw)) : raw;
}

/** One FASTA record: `name` is the header without `>` and without surrounding spaces. */
export interface FastaRecord {
  name: string;
  seq: Uint8Array;
}

/** Parses FASTA text (uppercases the sequence, drops whitespace). */
export function parseFasta(data: Uint8Array): FastaRecord[] {
  const text = new TextDecoder().decode(data);
  const out: FastaRecord[] = [];
  for (const block of text.split(">").slice(1)) {
    const nl = block.indexOf("\n");
    const header = (nl < 0 ? block : block.slice(0, nl)).trim(); // as the engine names it: `> erm(N)_2_…`
    const body = nl < 0 ? "" : block.slice(nl + 1).replace(/\s+/g, "").toUpperCase();
    out.push({ name: header, seq: bytes(body) });
  }
  return out;
}

/** Reads a FASTA file (plain or `.gz`, either name). */
export async function readFasta(path: string): Promise<FastaRecord[]> {
  return parseFasta(await readMaybeGz(path));
}

/** A ResFinder allele with the class files it appears in. */
export interface ResFinderAllele extends FastaRecord {
  /** Gene name part of the header: `blaTEM-1B` for `blaTEM-1B_1_AY458016`. */
  gene: string;
  classes: string[];
}

/** Gene name of a ResFinder header (`^(.+?)_\d+_`). */
export function geneOfAllele(allele: string): string {
  const m = /^(.+?)_\d+_/.exec(allele);
  return m ? m[1] : allele;
}

/** Every ResFinder allele by its header (an allele in several class files appears once). */
export async function loadResFinder(dir = RESFINDER_DIR): Promise<Map<string, ResFinderAllele>> {
  const out = new Map<string, ResFinderAllele>();
  const files: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && /\.fsa(\.gz)?$/.test(e.name)) files.push(e.name);
  }
  files.sort();
  for (const f of files) {
    const cls = f.replace(/\.fsa(\.gz)?$/, "");
    for (const r of await readFasta(`${dir}/${f}`)) {
      const prev = out.get(r.name);
      if (prev) prev.classes.push(cls);
      else out.set(r.name, { ...r, gene: geneOfAllele(r.name), classes: [cls] });
    }
  }
  return out;
}

/** One row of a PointFinder species `phenotypes.txt`. */
export interface PointFinderRow {
  /** Gene file stem: `gyrA`, `23S`, `ampC-promoter-size-53bp`. */
  gene: string;
  /** Header of the reference (`gyrA_1_CP073768.1`). */
  accession: string;
  type: "AA" | "NUC";
  /** Codon number (AA) or nucleotide position (NUC; negative for promoters). */
  position: number;
  /** Reference codon (AA) or base (NUC; `-` for insertions). */
  refNuc: string;
  /** Reference amino acid (AA) or base. */
  ref: string;
  /** Resistant amino acids or bases. */
  alts: string[];
  drugClass: string;
  phenotype: string;
}

/** The PointFinder mutation catalogue of one species (rows deduplicated by gene, position and alts). */
export async function loadPointFinderCatalogue(
  species = "escherichia_coli",
  dir = POINTFINDER_DIR,
): Promise<PointFinderRow[]> {
  const text = new TextDecoder().decode(await readMaybeGz(`${dir}/${species}/phenotypes.txt`));
  const rows: PointFinderRow[] = [];
  const seen = new Set<string>();
  for (const line of text.split("\n").slice(1)) {
    const f = line.replace(/\r$/, "").split("\t");
    if (f.length < 7 || !f[0]) continue;
    const accession = f[0].trim();
    const gene = accession.replace(/_\d+_[^_]+$/, "");
    const key = `${accession}|${f[3]}|${f[4]}|${f[6]}`;
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push({
      gene,
      accession,
      type: f[1].trim() === "AA" ? "AA" : "NUC",
      position: Number(f[3]),
      refNuc: f[4].trim(),
      ref: f[5].trim(),
      alts: f[6].split(",").map((s) => s.trim()).filter(Boolean),
      drugClass: (f[7] ?? "").trim(),
      phenotype: (f[8] ?? "").trim(),
    });
  }
  return rows;
}

/** Gene file stems listed in a species' `genes.txt`. */
export async function pointFinderGenes(
  species = "escherichia_coli",
  dir = POINTFINDER_DIR,
): Promise<string[]> {
  const text = new TextDecoder().decode(await readMaybeGz(`${dir}/${species}/genes.txt`));
  return text.split("\n").map((s) => s.trim()).filter(Boolean);
}

/** The reference sequence of one PointFinder gene (`gyrA.fsa` or `rpoB.fsa.gz`). */
export async function loadPointFinderGene(
  gene: string,
  species = "escherichia_coli",
  dir = POINTFINDER_DIR,
): Promise<FastaRecord> {
  const recs = await readFasta(`${dir}/${species}/${gene}.fsa`);
  if (recs.length === 0) {
    throw new Error(`No sequence in PointFinder gene file (${dir}/${species}/${gene}.fsa)`);
  }
  return recs[0];
}

let k12Cache: Uint8Array | undefined;

/** The E. coli K-12 MG1655 chromosome (uppercase ASCII). */
export async function loadK12(path = K12_FASTA): Promise<Uint8Array> {
  if (path === K12_FASTA && k12Cache) return k12Cache;
  const recs = await readFasta(path);
  const seq = recs.length === 1 ? recs[0].seq : concat(recs.map((r) => r.seq));
  if (path === K12_FASTA) k12Cache = seq;
  return seq;
}

/** Where a query lies in a genome: `start` of the query's first base on the forward strand, `strand`. */
export interface Locus {
  start: number;
  strand: 1 | -1;
}

/**
 * Finds the copies of `query` in `genome` by exact 24-mer seeds taken along the query (so a few differing
 * bases do not hide a copy). Returns each copy once, ordered by position. The query must be ≥ 24 bases.
 */
export function locate(genome: Uint8Array, query: Uint8Array): Locus[] {
  const g = ascii(genome);
  const k = 24;
  const found = new Map<string, Locus>();
  const steps = Math.max(1, Math.floor((query.length - k) / 8));
  for (let off = 0; off + k <= query.length; off += steps) {
    const fwd = ascii(query.subarray(off, off + k));
    const rev = ascii(revcomp(query.subarray(off, off + k)));
    for (let i = g.indexOf(fwd); i >= 0; i = g.indexOf(fwd, i + 1)) {
      const start = i - off;
      found.set(`${start}+`, { start, strand: 1 });
    }
    for (let i = g.indexOf(rev); i >= 0; i = g.indexOf(rev, i + 1)) {
      // On the minus strand, query base `off` maps to genome i + k - 1; query start maps to i + k - 1 + off.
      const start = i + k - 1 + off;
      found.set(`${start}-`, { start, strand: -1 });
    }
  }
  return [...found.values()].sort((a, b) => a.start - b.start);
}

/**
 * The genome around a located query, oriented like the query: `flank` bases, the `length` bases of the copy,
 * `flank` bases. Returns the region and the offset of the copy's first base in it.
 */
export function extractRegion(
  genome: Uint8Array,
  locus: Locus,
  length: number,
  flank: number,
): { seq: Uint8Array; offset: number } {
  if (locus.strand === 1) {
    const from = Math.max(0, locus.start - flank);
    const to = Math.min(genome.length, locus.start + length + flank);
    return { seq: genome.slice(from, to), offset: locus.start - from };
  }
  // Minus strand: the copy covers genome [start - length + 1, start], read backwards.
  const lo = Math.max(0, locus.start - length + 1 - flank);
  const hi = Math.min(genome.length, locus.start + 1 + flank);
  return { seq: revcomp(genome.subarray(lo, hi)), offset: hi - 1 - locus.start };
}

/**
 * Replaces codon `codon` (1-based) of the gene starting at `geneOffset` in `seq` with `newCodon`, checking
 * that the current codon translates to `expectRef` when given. Returns a copy.
 */
export function mutateCodon(
  seq: Uint8Array,
  geneOffset: number,
  codon: number,
  newCodon: string,
  expectRef?: string,
): Uint8Array {
  const i = geneOffset + (codon - 1) * 3;
  const cur = ascii(seq.subarray(i, i + 3));
  if (expectRef !== undefined && translateCodon(cur) !== expectRef) {
    throw new Error(`Codon ${codon} is ${cur} (${translateCodon(cur)}), expected amino acid ${expectRef}`);
  }
  const out = seq.slice();
  out.set(bytes(newCodon.toUpperCase()), i);
  return out;
}

/**
 * Index in a gene-oriented sequence of PointFinder nucleotide position `pos` of the gene starting at
 * `geneOffset` with length `geneLength`: 1-based for genes; negative positions count back from the end of
 * a promoter (`-1` is its last base; there is no position 0).
 */
export function nucIndex(geneOffset: number, geneLength: number, pos: number): number {
  return pos > 0 ? geneOffset + pos - 1 : geneOffset + geneLength + pos;
}

/** Replaces the base at index `i` with `alt`, checking the current base when `expectRef` is given. */
export function mutateBase(seq: Uint8Array, i: number, alt: string, expectRef?: string): Uint8Array {
  const cur = String.fromCharCode(seq[i]);
  if (expectRef !== undefined && cur !== expectRef) {
    throw new Error(`Base at index ${i} is ${cur}, expected ${expectRef}`);
  }
  const out = seq.slice();
  out[i] = alt.charCodeAt(0);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Simulation plan

/** A sequence reads are drawn from: either `depth` (mean coverage) or an explicit number of `pairs`. */
export interface Source {
  name: string;
  seq: Uint8Array;
  depth?: number;
  pairs?: number;
}

/** Read length: fixed, one of a list (per pair), or uniform in a range (per pair). */
export type ReadLength = number | number[] | { min: number; max: number };

/** Simulation settings; every field but `seed` has a default. */
export interface SimOptions {
  seed: number;
  readLength?: ReadLength;
  fragmentMean?: number;
  fragmentSd?: number;
  /** Which strand fragments come from. Default both. */
  strand?: "both" | "forward" | "reverse";
  /** Mean substitution rate per base (rising toward the read end). Default 0.005. */
  errorRate?: number;
  /** Probability per base of a 1-base insertion or deletion. Default 0.0002. */
  indelRate?: number;
  /** Probability per base of an `N`. Default 0.0005. */
  nRate?: number;
  /** Probability per read of a lowercase stretch. Default 0.01. */
  lowercaseRate?: number;
  /** Read names: CASAVA 1.8 (`@SIM:1:FC:1:1:x:y 1:N:0:ACGT`) or `/1` `/2`. Default casava. */
  names?: "casava" | "slash";
  /** Shuffle pair order (default true); false keeps the sources' order. */
  shuffle?: boolean;
  /** Fragments may be shorter than their reads, which then read on into Illumina TruSeq's adapter and, past
   * it, a two-colour sequencer's poly-G tail (NovaSeq). Default false: fragments are at least a read long. */
  readThrough?: boolean;
}

/** Where every pair comes from, in output order (the truth of the simulation). */
export interface Plan {
  sources: Source[];
  options: Required<SimOptions>;
  count: number;
  source: Uint32Array;
  /** Fragment start on the source's forward strand. */
  start: Uint32Array;
  fragLen: Uint32Array;
  /** 1 when the fragment is the reverse complement of the source. */
  reverse: Uint8Array;
  /** Template bases each read holds (`readThrough`: the rest of the read is adapter and poly-G). */
  len1: Uint16Array;
  len2: Uint16Array;
  /** Bases each read holds past its fragment (`readThrough`), else 0. */
  tail1: Uint16Array;
  tail2: Uint16Array;
}

function withDefaults(o: SimOptions): Required<SimOptions> {
  return {
    seed: o.seed,
    readLength: o.readLength ?? 150,
    fragmentMean: o.fragmentMean ?? 350,
    fragmentSd: o.fragmentSd ?? 50,
    strand: o.strand ?? "both",
    errorRate: o.errorRate ?? 0.005,
    indelRate: o.indelRate ?? 0.0002,
    nRate: o.nRate ?? 0.0005,
    lowercaseRate: o.lowercaseRate ?? 0.01,
    names: o.names ?? "casava",
    shuffle: o.shuffle ?? true,
    readThrough: o.readThrough ?? false,
  };
}

function meanReadLength(r: ReadLength): number {
  if (typeof r === "number") return r;
  if (Array.isArray(r)) return r.reduce((a, b) => a + b, 0) / r.length;
  return (r.min + r.max) / 2;
}

function drawReadLength(rng: Rng, r: ReadLength): number {
  if (typeof r === "number") return r;
  if (Array.isArray(r)) return r[rng.int(r.length)];
  return r.min + rng.int(r.max - r.min + 1);
}

/** Number of pairs a source gets: `pairs`, or depth × length / (2 × mean read length). */
export function pairsFor(s: Source, readLength: ReadLength): number {
  if (s.pairs !== undefined) return s.pairs;
  return Math.round(((s.depth ?? 0) * s.seq.length) / (2 * meanReadLength(readLength)));
}

/** Draws fragments for every source (deterministic in the seed) and shuffles them. */
export function planFragments(sources: Source[], options: SimOptions): Plan {
  const o = withDefaults(options);
  const rng = new Rng(o.seed ^ 0x5eed);
  const counts = sources.map((s) => pairsFor(s, o.readLength));
  const count = counts.reduce((a, b) => a + b, 0);
  const p: Plan = {
    sources,
    options: o,
    count,
    source: new Uint32Array(count),
    start: new Uint32Array(count),
    fragLen: new Uint32Array(count),
    reverse: new Uint8Array(count),
    len1: new Uint16Array(count),
    len2: new Uint16Array(count),
    tail1: new Uint16Array(count),
    tail2: new Uint16Array(count),
  };
  let k = 0;
  for (let si = 0; si < sources.length; si++) {
    const L = sources[si].seq.length;
    for (let j = 0; j < counts[si]; j++, k++) {
      let l1 = drawReadLength(rng, o.readLength);
      let l2 = typeof o.readLength === "number" || Array.isArray(o.readLength)
        ? l1
        : drawReadLength(rng, o.readLength);
      let frag = Math.round(o.fragmentMean + o.fragmentSd * rng.normal());
      frag = o.readThrough ? Math.max(frag, 50) : Math.max(frag, l1, l2, 50);
      frag = Math.min(frag, L);
      const read1 = l1, read2 = l2;
      l1 = Math.min(l1, frag);
      l2 = Math.min(l2, frag);
      if (o.readThrough) {
        p.tail1[k] = read1 - l1;
        p.tail2[k] = read2 - l2;
      }
      p.source[k] = si;
      p.start[k] = rng.int(L - frag + 1);
      p.fragLen[k] = frag;
      p.reverse[k] = o.strand === "reverse" ? 1 : o.strand === "forward" ? 0 : rng.next() < 0.5 ? 1 : 0;
      p.len1[k] = l1;
      p.len2[k] = l2;
    }
  }
  if (o.shuffle) {
    const fields = [p.source, p.start, p.fragLen, p.reverse, p.len1, p.len2, p.tail1, p.tail2];
    for (let i = count - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      for (const f of fields) {
        const t = f[i];
        f[i] = f[j];
        f[j] = t;
      }
    }
  }
  return p;
}

/** Source-strand spans `[from, to)` covered by the two reads of pair `i` (indels ignored). */
export function readSpans(p: Plan, i: number): [[number, number], [number, number]] {
  const s = p.start[i], f = p.fragLen[i], l1 = p.len1[i], l2 = p.len2[i];
  // R1 reads the fragment's first bases; R2 the reverse complement of its last ones.
  return p.reverse[i] ? [[s + f - l1, s + f], [s, s + l2]] : [[s, s + l1], [s + f - l2, s + f]];
}

/** Reads of source `src` covering its base `pos` (0-based), both mates counted. */
export function readsCovering(p: Plan, src: number, pos: number): number {
  let n = 0;
  for (let i = 0; i < p.count; i++) {
    if (p.source[i] !== src) continue;
    for (const [a, b] of readSpans(p, i)) if (pos >= a && pos < b) n++;
  }
  return n;
}

/** Pairs of source `src` with at least one read covering `[from, to)` entirely. */
export function pairsCoveringSpan(p: Plan, src: number, from: number, to: number): number {
  let n = 0;
  for (let i = 0; i < p.count; i++) {
    if (p.source[i] !== src) continue;
    const [r1, r2] = readSpans(p, i);
    if ((r1[0] <= from && r1[1] >= to) || (r2[0] <= from && r2[1] >= to)) n++;
  }
  return n;
}

/** Fraction of source `src` bases `[from, to)` covered by at least one read. */
export function breadth(p: Plan, src: number, from: number, to: number): number {
  const cov = new Uint8Array(to - from);
  for (let i = 0; i < p.count; i++) {
    if (p.source[i] !== src) continue;
    for (const [a, b] of readSpans(p, i)) {
      for (let x = Math.max(a, from); x < Math.min(b, to); x++) cov[x - from] = 1;
    }
  }
  let n = 0;
  for (const c of cov) n += c;
  return n / (to - from);
}

/** Pairs drawn from source `src`. */
export function pairsOf(p: Plan, src: number): number {
  let n = 0;
  for (let i = 0; i < p.count; i++) if (p.source[i] === src) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// Rendering FASTQ

class ByteBuf {
  buf = new Uint8Array(1 << 20);
  len = 0;

  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
  }

  push(b: number): void {
    if (this.len === this.buf.length) this.reserve(1);
    this.buf[this.len++] = b;
  }

  str(s: string): void {
    this.reserve(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i);
  }

  take(): Uint8Array {
    const out = this.buf.slice(0, this.len);
    this.len = 0;
    return out;
  }
}

/** Renders reads of a plan into FASTQ bytes, in order, from one seeded stream. */
export class Renderer {
  readonly plan: Plan;
  #rng: Rng;
  #next = 0;
  #seq = new Uint8Array(2048);
  #qual = new Uint8Array(2048);
  #frag = new Uint8Array(0);

  constructor(plan: Plan) {
    this.plan = plan;
    this.#rng = new Rng(plan.options.seed ^ 0xfa57);
  }

  /** True when every pair was rendered. */
  get done(): boolean {
    return this.#next >= this.plan.count;
  }

  /** Renders up to `maxPairs` more pairs: R1 and R2 FASTQ bytes. */
  chunk(maxPairs: number): { r1: Uint8Array; r2: Uint8Array; pairs: number } {
    const p = this.plan;
    const o = p.options;
    const b1 = new ByteBuf(), b2 = new ByteBuf();
    const end = Math.min(p.count, this.#next + maxPairs);
    const pairs = end - this.#next;
    for (let i = this.#next; i < end; i++) {
      const src = p.sources[p.source[i]].seq;
      const s = p.start[i], f = p.fragLen[i];
      // Oriented fragment, plus up to 8 following template bases for reads that lose bases to deletions.
      let frag: Uint8Array;
      if (p.reverse[i]) {
        const lo = Math.max(0, s - 8);
        frag = revcomp(src.subarray(lo, s + f));
      } else {
        frag = src.subarray(s, Math.min(src.length, s + f + 8));
      }
      // R2 reads the other end inwards: the reverse complement of the oriented fragment.
      const other = p.reverse[i]
        ? src.subarray(s, Math.min(src.length, s + f + 8))
        : revcomp(src.subarray(Math.max(0, s - 8), s + f));
      const name = this.#name(i);
      this.#read(b1, name, 1, frag, f, p.len1[i], o, p.tail1[i]);
      this.#read(b2, name, 2, other, f, p.len2[i], o, p.tail2[i]);
    }
    this.#next = end;
    return { r1: b1.take(), r2: b2.take(), pairs };
  }

  #name(i: number): string {
    const o = this.plan.options;
    if (o.names === "slash") return `@SIM_${i + 1}`;
    const x = (i % 50000) + 1, y = Math.floor(i / 50000) + 1;
    return `@SIM:1:FC:1:1:${x}:${y}`;
  }

  #read(
    out: ByteBuf,
    name: string,
    mate: number,
    tpl: Uint8Array,
    fragLen: number,
    len: number,
    o: Plan["options"],
    tail: number,
  ) {
    const rng = this.#rng;
    if (this.#seq.length < len + tail + 16) {
      this.#seq = new Uint8Array(len + tail + 16);
      this.#qual = new Uint8Array(len + tail + 16);
    }
    const seq = this.#seq, qual = this.#qual;
    // Template bases past the fragment are only used after deletions.
    const limit = Math.min(tpl.length, fragLen + 8);
    let t = 0, n = 0;
    while (n < len && t < limit) {
      if (o.indelRate > 0 && rng.next() < o.indelRate) {
        if (rng.next() < 0.5) {
          seq[n] = BASES[rng.int(4)];
          qual[n++] = 33 + 12 + rng.int(10);
          continue;
        }
        t++;
        continue;
      }
      let base = tpl[t++];
      const x = n / len;
      const pErr = o.errorRate * (0.4 + 1.8 * x * x);
      let q = 33 + 38 - Math.floor(8 * x) - rng.int(4);
      if (rng.next() < pErr) {
        base = BASES[(BASES.indexOf(base) + 1 + rng.int(3)) & 3];
        q = 33 + 8 + rng.int(12);
      }
      if (rng.next() < o.nRate) {
        base = N;
        q = 33 + 2;
      }
      seq[n] = base;
      qual[n++] = q;
    }
    // read-through: the adapter, then G's (no signal), with the read end's error rate
    const adapter = mate === 1 ? TRUSEQ_R1 : TRUSEQ_R2;
    for (let a = 0; a < tail; a++) {
      let base = a < adapter.length ? adapter[a] : G;
      let q = 33 + 30 - rng.int(4);
      if (rng.next() < o.errorRate * 2.2) {
        base = BASES[(BASES.indexOf(base) + 1 + rng.int(3)) & 3];
        q = 33 + 8 + rng.int(12);
      }
      seq[n] = base;
      qual[n++] = q;
    }
    if (rng.next() < o.lowercaseRate) {
      const a = rng.int(n), b = a + 1 + rng.int(n - a);
      for (let k = a; k < b; k++) seq[k] |= 0x20;
    }
    out.str(name);
    out.str(o.names === "slash" ? `/${mate}\n` : ` ${mate}:N:0:ACGT\n`);
    out.reserve(2 * n + 4);
    out.buf.set(seq.subarray(0, n), out.len);
    out.len += n;
    out.str("\n+\n");
    out.buf.set(qual.subarray(0, n), out.len);
    out.len += n;
    out.push(10);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Writing

/** Output format: plain FASTQ, one gzip member, or bgzip's BGZF members (`multigz`). */
export type FastqFormat = "plain" | "gz" | "multigz";

/** Writes FASTQ bytes to a file in one format, in chunks. */
export class FastqWriter {
  #file: Deno.FsFile;
  #format: FastqFormat;
  #level: number;
  #blockSize: number;
  #gz?: WritableStreamDefaultWriter<BufferSource>;
  #piped?: Promise<void>;

  private constructor(file: Deno.FsFile, format: FastqFormat, level: number, blockSize: number) {
    this.#file = file;
    this.#format = format;
    this.#level = level;
    this.#blockSize = blockSize;
    if (format === "gz") {
      const cs = new CompressionStream("gzip");
      this.#gz = cs.writable.getWriter();
      this.#piped = cs.readable.pipeTo(file.writable);
    }
  }

  /** Opens `path` for writing (truncating). `blockSize` is the uncompressed size of one multigz member (at most). */
  static async open(
    path: string,
    format: FastqFormat,
    o: { level?: number; blockSize?: number } = {},
  ): Promise<FastqWriter> {
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    return new FastqWriter(file, format, o.level ?? 6, o.blockSize ?? 65280);
  }

  /** Appends FASTQ bytes. */
  async write(data: Uint8Array): Promise<void> {
    if (this.#format === "plain") {
      await writeAll(this.#file, data);
    } else if (this.#format === "gz") {
      await this.#gz!.write(data as Uint8Array<ArrayBuffer>);
    } else {
      await writeAll(this.#file, bgzf(data, this.#blockSize, this.#level, false));
    }
  }

  /** Finishes the stream and closes the file. */
  async close(): Promise<void> {
    if (this.#format === "multigz") await writeAll(this.#file, BGZF_EOF);
    if (this.#gz) {
      await this.#gz.close();
      await this.#piped; // closes the file
    } else {
      this.#file.close();
    }
  }
}

async function writeAll(file: Deno.FsFile, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await file.write(data.subarray(off));
}

/** Renders a whole plan into R1/R2 files. Formats may differ between R1 and R2. */
export async function writePairs(
  plan: Plan,
  r1: string,
  r2: string,
  o: { format?: FastqFormat; format2?: FastqFormat; chunkPairs?: number; level?: number } = {},
): Promise<void> {
  const f1 = o.format ?? "plain";
  const w1 = await FastqWriter.open(r1, f1, { level: o.level });
  const w2 = await FastqWriter.open(r2, o.format2 ?? f1, { level: o.level });
  try {
    const r = new Renderer(plan);
    while (!r.done) {
      const c = r.chunk(o.chunkPairs ?? 20000);
      await w1.write(c.r1);
      await w2.write(c.r2);
    }
  } finally {
    await w1.close();
    await w2.close();
  }
}

/** Renders a whole plan to in-memory FASTQ (small plans only). */
export function renderAll(plan: Plan): { r1: Uint8Array; r2: Uint8Array } {
  const r = new Renderer(plan);
  const c = r.chunk(plan.count);
  return { r1: c.r1, r2: c.r2 };
}

/** Compresses bytes as one gzip member. */
export function gzip(data: Uint8Array, level = 6): Uint8Array {
  const z = gzipSync(data, { level });
  return new Uint8Array(z.buffer, z.byteOffset, z.byteLength);
}

/** bgzip's end-of-file marker: an empty BGZF member. */
export const BGZF_EOF: Uint8Array = new Uint8Array([
  0x1f,
  0x8b,
  8,
  4,
  0,
  0,
  0,
  0,
  0,
  0xff,
  6,
  0,
  0x42,
  0x43,
  2,
  0,
  0x1b,
  0,
  3,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
  0,
]);

/** One BGZF member of `data`, or null when it would exceed BGZF's 64 KiB member limit. */
function bgzfMember(data: Uint8Array, level: number): Uint8Array | null {
  const body = deflateRawSync(data, { level });
  const size = 18 + body.length + 8;
  if (size > 65536) return null;
  const m = new Uint8Array(size);
  m.set([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 0x42, 0x43, 2, 0, (size - 1) & 0xff, (size - 1) >> 8]);
  m.set(body, 18);
  const v = new DataView(m.buffer);
  v.setUint32(18 + body.length, crc32(data) >>> 0, true);
  v.setUint32(22 + body.length, data.length, true);
  return m;
}

/** BGZF members of at most `blockSize` uncompressed bytes each (smaller where a block will not fit); with the
 * EOF marker when `eof`. */
export function bgzf(data: Uint8Array, blockSize = 65280, level = 6, eof = true): Uint8Array {
  const parts: Uint8Array[] = [];
  const put = (d: Uint8Array): void => {
    const m = bgzfMember(d, level);
    if (m) parts.push(m);
    else {
      put(d.subarray(0, d.length >> 1));
      put(d.subarray(d.length >> 1));
    }
  };
  for (let i = 0; i < data.length; i += blockSize) put(data.subarray(i, i + blockSize));
  if (eof) parts.push(BGZF_EOF);
  return concat(parts);
}

/** Compresses bytes as bgzip does (BGZF members of `blockSize` uncompressed bytes, then the EOF marker). */
export function multiGzip(data: Uint8Array, blockSize = 65280, level = 6): Uint8Array {
  return bgzf(data, blockSize, level);
}

// ---------------------------------------------------------------------------------------------------------
// ART (`art_illumina`, Debian `art-nextgen-simulation-tools`): an independent read simulator

/** ART's Illumina profiles: each simulates a third of every source's depth. */
export const ART_PROFILES = [
  { profile: "NS50", length: 75, fragment: 200, sd: 20 }, // NextSeq 500
  { profile: "HS25", length: 150, fragment: 300, sd: 30 }, // HiSeq 2500
  { profile: "MSv3", length: 250, fragment: 500, sd: 50 }, // MiSeq v3
] as const;

/**
 * Simulates paired reads of each source at its depth with ART, a third of the depth at each of ART_PROFILES
 * (seeds seed, seed + 1, … in order), and writes them, source after source, to r1 and r2 as one gzip member
 * each (`igzip`). `work` is a folder for ART's files, left without them. Returns the read pairs written.
 */
export async function artPairs(
  sources: { seq: Uint8Array; depth: number }[],
  seed: number,
  r1: string,
  r2: string,
  work: string,
): Promise<number> {
  const plain = [`${work}/art_R1.fastq`, `${work}/art_R2.fastq`];
  const outs = await Promise.all(
    plain.map((p) => Deno.open(p, { write: true, create: true, truncate: true })),
  );
  try {
    for (const [i, src] of sources.entries()) {
      await Deno.writeTextFile(`${work}/src.fa`, `>src${i}\n${ascii(src.seq)}\n`);
      for (const p of ART_PROFILES) {
        // deno-fmt-ignore
        const args = [
          "-ss", p.profile, "-i", `${work}/src.fa`, "-p", "-l", String(p.length), "-m", String(p.fragment),
          "-s", String(p.sd), "-f", String(src.depth / ART_PROFILES.length), "-o", `${work}/art`,
          "-na", "-q", "-rs", String(seed++),
        ];
        const out = await new Deno.Command("art_illumina", { args, stdout: "null", stderr: "piped" })
          .output();
        if (!out.success) {
          throw new Error(`art_illumina failed: ${new TextDecoder().decode(out.stderr).slice(-500)}`);
        }
        for (const m of [0, 1]) {
          using f = await Deno.open(`${work}/art${m + 1}.fq`);
          await f.readable.pipeTo(outs[m].writable, { preventClose: true });
        }
      }
    }
  } finally {
    for (const o of outs) o.close();
  }
  for (const [m, path] of [r1, r2].entries()) {
    const gz = await new Deno.Command("igzip", { args: ["-f", "-o", path, plain[m]], stderr: "piped" })
      .output();
    if (!gz.success) throw new Error(`igzip failed on ${plain[m]}: ${new TextDecoder().decode(gz.stderr)}`);
  }
  let lines = 0;
  using f = await Deno.open(plain[0]);
  for await (const chunk of f.readable) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  }
  for (const p of [...plain, `${work}/src.fa`, `${work}/art1.fq`, `${work}/art2.fq`]) await Deno.remove(p);
  return lines / 4;
}
