/**
 * The standard fixture sets of the engine tests, simulated deterministically by `sim.ts` into
 * `tests/fixtures/generated/` (git-ignored) and cached under a content key (the simulator's and this file's
 * source plus the fixture's spec), so a test run only simulates what changed.
 *
 * Every fixture comes with its truth, computed from the simulation itself: which alleles were planted, how
 * deep and how broadly the reads cover them, which near-relative alleles the reads can tell apart, which
 * mutations were planted and at what read frequency, which catalogued sites are wild type.
 *
 * @module
 */

import { Database, type EngineResult, Run, type RunOptions } from "../ffi/mod.ts";
import * as sim from "./sim.ts";

/** Where fixtures are written. */
export const GENERATED_DIR = new URL("./fixtures/generated/", import.meta.url).pathname;

/** A planted ResFinder allele and what the simulated reads say about it. */
export interface GeneTruth {
  allele: string;
  gene: string;
  /** Planted depth. */
  depth: number;
  length: number;
  /** Pairs with at least one read inside the allele. */
  pairsTouching: number;
  /** Pairs with both reads entirely inside the allele. */
  pairsInside: number;
  /** Mean read depth over the allele in the simulated reads. */
  simDepth: number;
  /** Fraction of the allele covered by at least one simulated read (0..1). */
  simBreadth: number;
  /** Relatives whose differences from the allele no two reads cover: the reads cannot exclude them. */
  indistinguishable: string[];
  /** Relatives (sharing ≥ 50 % of 21-mers) the reads tell apart: must not be reported. */
  nearRelatives: string[];
}

/** A planted PointFinder mutation. */
export interface MutationTruth {
  species: string;
  /** PointFinder gene file stem (`gyrA`, `23S`, `ampC-promoter-size-53bp`). */
  gene: string;
  type: "AA" | "NUC";
  position: number;
  /** `S83L`, `n.2058A>G`, `n.-42C>T`. */
  mutation: string;
  ref: string;
  alt: string;
  /** Simulated reads covering the site (codon) entirely. */
  reads: number;
  /** Simulated pairs with a read covering the site entirely (overlapping mates count once). */
  pairs: number;
  /** Of the reads, those from mutant copies. */
  altReads: number;
  /** altReads / reads. */
  frequency: number;
}

/** A catalogued site that must be reported wild type. */
export interface SiteTruth {
  species: string;
  gene: string;
  type: "AA" | "NUC";
  position: number;
  ref: string;
  reads: number;
  pairs: number;
}

/** Truth of one fixture. */
export interface Truth {
  name: string;
  readPairs: number;
  genes: GeneTruth[];
  mutations: MutationTruth[];
  wildType: SiteTruth[];
  /** PointFinder genes (file stems) reads were planted from; sites elsewhere may be unreached. */
  pointfinderGenes: string[];
}

/** A generated fixture: paired files and their truth. */
export interface Fixture {
  name: string;
  dir: string;
  r1: string;
  r2: string;
  truth: Truth;
}

/** A planted PointFinder mutation in a spec: AA positions take the new codon. */
interface PlantedMutation {
  position: number;
  /** New codon (AA) or base (NUC). */
  alt: string;
}

interface GeneSpec {
  kind: "gene";
  allele: string;
  depth: number;
}

interface PointSpec {
  kind: "point";
  gene: string;
  mutations: PlantedMutation[];
  depth: number;
}

interface BackgroundSpec {
  kind: "background";
  pairs: number;
}

type SourceSpec = GeneSpec | PointSpec | BackgroundSpec;

/** Spec of a fixture: its sources and simulation options. */
export interface FixtureSpec {
  name: string;
  sources: SourceSpec[];
  sim: sim.SimOptions;
  format: sim.FastqFormat;
  /** Catalogued sites (gene, position) that must come out wild type. */
  wildType: { gene: string; position: number }[];
}

const SPECIES = "escherichia_coli";
const FLANK = 300;

/** The standard fixtures. */
export const SPECS = {
  /** (a) genes at several depths over a thin E. coli K-12 background. */
  genes: {
    name: "genes",
    sources: [
      { kind: "gene", allele: "blaTEM-1B_1_AY458016", depth: 30 },
      { kind: "gene", allele: "aac(6')-Ib-cr_1_DQ303918", depth: 10 },
      { kind: "gene", allele: "tet(A)_1_AJ313332", depth: 5 },
      { kind: "gene", allele: "sul1_2_U12338", depth: 2 },
      { kind: "background", pairs: 3000 },
    ],
    sim: { seed: 101, readLength: 150 },
    format: "plain",
    wildType: [],
  },
  /** (b) PointFinder: gyrA S83L, parC S80I at ~30 %, 23S A2058G, ampC promoter -42C>T; gyrA D87 wild type. */
  pointfinder: {
    name: "pointfinder",
    sources: [
      { kind: "point", gene: "gyrA", mutations: [{ position: 83, alt: "TTG" }], depth: 30 },
      { kind: "point", gene: "parC", mutations: [{ position: 80, alt: "ATC" }], depth: 15 },
      { kind: "point", gene: "parC", mutations: [], depth: 35 },
      { kind: "point", gene: "23S", mutations: [{ position: 2058, alt: "G" }], depth: 30 },
      { kind: "point", gene: "ampC-promoter-size-53bp", mutations: [{ position: -42, alt: "T" }], depth: 30 },
    ],
    sim: { seed: 202, readLength: [100, 150, 250] },
    format: "gz",
    wildType: [{ gene: "gyrA", position: 87 }, { gene: "gyrA", position: 81 }, {
      gene: "parC",
      position: 84,
    }],
  },
  /** (d) reads from the reverse strand only. */
  reverse: {
    name: "reverse",
    sources: [
      { kind: "gene", allele: "blaTEM-1B_1_AY458016", depth: 20 },
      { kind: "gene", allele: "tet(A)_1_AJ313332", depth: 10 },
      { kind: "point", gene: "gyrA", mutations: [{ position: 83, alt: "TTG" }], depth: 25 },
    ],
    sim: { seed: 303, readLength: 150, strand: "reverse" },
    format: "gz",
    wildType: [{ gene: "gyrA", position: 87 }],
  },
  /** (e) read lengths 75–300 in one sample, `/1` `/2` names, one member per 64 KB. */
  mixedlen: {
    name: "mixedlen",
    sources: [
      { kind: "gene", allele: "blaTEM-1B_1_AY458016", depth: 20 },
      { kind: "gene", allele: "aac(6')-Ib-cr_1_DQ303918", depth: 15 },
      { kind: "point", gene: "gyrA", mutations: [{ position: 83, alt: "TTG" }], depth: 25 },
      { kind: "point", gene: "parC", mutations: [], depth: 25 },
    ],
    sim: { seed: 404, readLength: { min: 75, max: 300 }, names: "slash" },
    format: "multigz",
    wildType: [{ gene: "gyrA", position: 87 }, { gene: "parC", position: 80 }],
  },
  /** (g) a NovaSeq-like library: inserts of 110 ± 35 bases in 2×150 reads, so most pairs read on into TruSeq's
   *  adapters and a poly-G tail, CASAVA names, bgzip; parC S80I on a third of the copies. */
  novaseq: {
    name: "novaseq",
    sources: [
      { kind: "gene", allele: "blaTEM-1B_1_AY458016", depth: 30 },
      { kind: "gene", allele: "blaCTX-M-15_1_AY044436", depth: 20 },
      { kind: "gene", allele: "tet(A)_1_AJ313332", depth: 10 },
      { kind: "point", gene: "gyrA", mutations: [{ position: 83, alt: "TTG" }], depth: 60 },
      { kind: "point", gene: "parC", mutations: [{ position: 80, alt: "ATC" }], depth: 25 },
      { kind: "point", gene: "parC", mutations: [], depth: 50 },
      { kind: "background", pairs: 3000 },
    ],
    sim: { seed: 707, readLength: 150, fragmentMean: 110, fragmentSd: 35, readThrough: true },
    format: "multigz",
    wildType: [{ gene: "gyrA", position: 87 }, { gene: "parC", position: 84 }],
  },
} as const satisfies Record<string, FixtureSpec>;

/** Names of the standard fixtures. */
export type FixtureName = keyof typeof SPECS;

// ---------------------------------------------------------------------------------------------------------

interface BuiltSource {
  source: sim.Source;
  spec: SourceSpec;
  /** Offset of the allele / PointFinder reference in the source. */
  offset: number;
  /** Length of the allele / reference. */
  length: number;
}

let resfinder: Map<string, sim.ResFinderAllele> | undefined;

async function alleles(): Promise<Map<string, sim.ResFinderAllele>> {
  return resfinder ??= await sim.loadResFinder();
}

let catalogue: sim.PointFinderRow[] | undefined;

/** The E. coli PointFinder catalogue (cached). */
export async function ecoliCatalogue(): Promise<sim.PointFinderRow[]> {
  return catalogue ??= await sim.loadPointFinderCatalogue(SPECIES);
}

/** Promoter size of a PointFinder promoter file stem (`ampC-promoter-size-53bp` → 53), else undefined. */
export function promoterSize(gene: string): number | undefined {
  const m = /-size-(\d+)bp/.exec(gene);
  return m ? Number(m[1]) : undefined;
}

/** Index in a PointFinder reference of a catalogued NUC position (promoters count back from their end). */
export function refIndex(gene: string, position: number): number {
  const p = promoterSize(gene);
  return p !== undefined && position < 0 ? p + position : position - 1;
}

async function buildSource(
  spec: SourceSpec,
  rng: sim.Rng,
  k12: Uint8Array,
  index: number,
): Promise<BuiltSource> {
  if (spec.kind === "background") {
    return { source: { name: "K-12", seq: k12, pairs: spec.pairs }, spec, offset: 0, length: k12.length };
  }
  if (spec.kind === "gene") {
    const a = (await alleles()).get(spec.allele);
    if (!a) throw new Error(`Allele not in ResFinder: ${spec.allele}`);
    // Random flanks stand in for the plasmid around the gene.
    const seq = sim.concat([sim.randomDna(rng, FLANK), a.seq, sim.randomDna(rng, FLANK)]);
    return {
      source: { name: `${a.name}#${index}`, seq, depth: spec.depth },
      spec,
      offset: FLANK,
      length: a.seq.length,
    };
  }
  // PointFinder reference, mutated, inside its K-12 neighbourhood.
  const ref = await sim.loadPointFinderGene(spec.gene, SPECIES);
  const loci = sim.locate(k12, ref.seq);
  if (loci.length === 0) throw new Error(`PointFinder gene ${spec.gene} not found in K-12`);
  const region = sim.extractRegion(k12, loci[0], ref.seq.length, FLANK);
  const rows = await ecoliCatalogue();
  let gene = ref.seq;
  for (const m of spec.mutations) {
    const row = rows.find((r) => r.gene === spec.gene && r.position === m.position && r.ref !== "ins");
    if (!row) throw new Error(`No catalogue row for ${spec.gene} ${m.position}`);
    if (row.type === "AA") {
      gene = sim.mutateCodon(gene, 0, m.position, m.alt, row.ref);
      if (!row.alts.includes(sim.translateCodon(m.alt))) {
        throw new Error(`${m.alt} is not resistant at ${m.position}`);
      }
    } else {
      gene = sim.mutateBase(gene, refIndex(spec.gene, m.position), m.alt, row.ref);
    }
  }
  const seq = sim.concat([
    region.seq.subarray(0, region.offset),
    gene,
    region.seq.subarray(region.offset + ref.seq.length),
  ]);
  return {
    source: { name: `${spec.gene}#${index}`, seq, depth: spec.depth },
    spec,
    offset: region.offset,
    length: ref.seq.length,
  };
}

/** Reads (both mates) and pairs (either mate) of source `src` covering source span [from, to) entirely. */
function readsCoveringSpan(
  p: sim.Plan,
  src: number,
  from: number,
  to: number,
): { reads: number; pairs: number } {
  let reads = 0, pairs = 0;
  for (let i = 0; i < p.count; i++) {
    if (p.source[i] !== src) continue;
    let n = 0;
    for (const [a, b] of sim.readSpans(p, i)) if (a <= from && b >= to) n++;
    reads += n;
    if (n) pairs++;
  }
  return { reads, pairs };
}

/** Per-base read depth of source `src` over [from, to). */
function depthProfile(p: sim.Plan, src: number, from: number, to: number): Uint32Array {
  const d = new Uint32Array(to - from);
  for (let i = 0; i < p.count; i++) {
    if (p.source[i] !== src) continue;
    for (const [a, b] of sim.readSpans(p, i)) {
      for (let x = Math.max(a, from); x < Math.min(b, to); x++) d[x - from]++;
    }
  }
  return d;
}

function geneTruth(p: sim.Plan, built: BuiltSource[], si: number): Promise<GeneTruth> {
  const b = built[si];
  const spec = b.spec as GeneSpec;
  return alleleTruth(p, si, spec.allele, b.offset, spec.depth);
}

/**
 * Truth of ResFinder allele `allele` planted at `offset` of source `si`: read depth, breadth, pairs, and which
 * relatives the simulated reads can tell apart from it.
 */
export async function alleleTruth(
  p: sim.Plan,
  si: number,
  allele: string,
  offset: number,
  depth: number,
): Promise<GeneTruth> {
  const db = await alleles();
  const a = db.get(allele);
  if (!a) throw new Error(`Allele not in ResFinder: ${allele}`);
  const from = offset, to = offset + a.seq.length;
  const prof = depthProfile(p, si, from, to);
  const length = a.seq.length;
  let sum = 0, covered = 0;
  for (const d of prof) {
    sum += d;
    if (d > 0) covered++;
  }
  let touching = 0, inside = 0;
  for (let i = 0; i < p.count; i++) {
    if (p.source[i] !== si) continue;
    const [r1, r2] = sim.readSpans(p, i);
    const in1 = r1[0] >= from && r1[1] <= to, in2 = r2[0] >= from && r2[1] <= to;
    if (in1 && in2) inside++;
    if ((r1[0] < to && r1[1] > from) || (r2[0] < to && r2[1] > from)) touching++;
  }
  // A relative shares most 21-mers with the allele. The reads tell them apart when at least two reads
  // cover a whole 21-mer of the allele that the relative lacks; or when the relative only adds sequence
  // to a well-covered allele (it would then be partly uncovered).
  const K = 21;
  const aText = sim.ascii(a.seq);
  const aKmers: string[] = [];
  for (let i = 0; i + K <= aText.length; i++) aKmers.push(aText.slice(i, i + K));
  const aSet = new Set(aKmers);
  const spanReads = new Int32Array(aKmers.length + 1);
  for (let i = 0; i < p.count; i++) {
    if (p.source[i] !== si) continue;
    for (const [s0, e0] of sim.readSpans(p, i)) {
      const lo = Math.max(s0 - from, 0), hi = Math.min(e0 - from, length) - K; // k-mer starts lo..hi
      if (hi >= lo) {
        spanReads[lo]++;
        spanReads[hi + 1]--;
      }
    }
  }
  for (let i = 1; i < spanReads.length; i++) spanReads[i] += spanReads[i - 1];
  const indistinguishable: string[] = [];
  const nearRelatives: string[] = [];
  for (const o of db.values()) {
    if (o.name === a.name || Math.abs(o.seq.length - length) > length / 2) continue;
    const oText = sim.ascii(o.seq);
    const oSet = new Set<string>();
    for (let i = 0; i + K <= oText.length; i++) oSet.add(oText.slice(i, i + K));
    let shared = 0;
    for (const k of aSet) if (oSet.has(k)) shared++;
    if (shared < 0.5 * aSet.size) continue;
    let seen = false, aOnly = 0;
    for (let i = 0; i < aKmers.length; i++) {
      if (oSet.has(aKmers[i])) continue;
      aOnly++;
      if (spanReads[i] >= 2) seen = true;
    }
    let oOnly = 0;
    for (const k of oSet) if (!aSet.has(k)) oOnly++;
    if (aOnly === 0 && oOnly > 0 && covered / length >= 0.95) seen = true;
    (seen ? nearRelatives : indistinguishable).push(o.name);
  }
  return {
    allele: a.name,
    gene: a.gene,
    depth,
    length: a.seq.length,
    pairsTouching: touching,
    pairsInside: inside,
    simDepth: sum / length,
    simBreadth: covered / length,
    indistinguishable,
    nearRelatives,
  };
}

function mutationName(row: sim.PointFinderRow, gene: string, alt: string): string {
  if (row.type === "AA") return `${row.ref}${row.position}${alt}`;
  void gene;
  return `n.${row.position}${row.ref}>${alt}`;
}

/** Source span [from, to) of a catalogued site in a PointFinder source. */
function siteSpan(b: BuiltSource, gene: string, row: sim.PointFinderRow): [number, number] {
  if (row.type === "AA") {
    const s = b.offset + (row.position - 1) * 3;
    return [s, s + 3];
  }
  const s = b.offset + refIndex(gene, row.position);
  return [s, s + 1];
}

async function truthOf(spec: FixtureSpec, p: sim.Plan, built: BuiltSource[]): Promise<Truth> {
  const genes: GeneTruth[] = [];
  for (let si = 0; si < built.length; si++) {
    if (built[si].spec.kind === "gene") genes.push(await geneTruth(p, built, si));
  }
  const rows = await ecoliCatalogue();
  const mutations: MutationTruth[] = [];
  const pointSources = built.map((b, i) => ({ b, i })).filter((x) => x.b.spec.kind === "point");
  for (const { b } of pointSources) {
    const ps = b.spec as PointSpec;
    for (const m of ps.mutations) {
      const row = rows.find((r) => r.gene === ps.gene && r.position === m.position && r.ref !== "ins")!;
      const alt = row.type === "AA" ? sim.translateCodon(m.alt) : m.alt;
      let reads = 0, pairs = 0, altReads = 0;
      for (const { b: o, i } of pointSources) {
        const os = o.spec as PointSpec;
        if (os.gene !== ps.gene) continue;
        const [from, to] = siteSpan(o, ps.gene, row);
        const n = readsCoveringSpan(p, i, from, to);
        reads += n.reads;
        pairs += n.pairs;
        if (os.mutations.some((x) => x.position === m.position && x.alt === m.alt)) altReads += n.reads;
      }
      if (mutations.some((x) => x.gene === ps.gene && x.position === m.position)) continue;
      mutations.push({
        species: SPECIES,
        gene: ps.gene,
        type: row.type,
        position: row.position,
        mutation: mutationName(row, ps.gene, alt),
        ref: row.ref,
        alt,
        reads,
        pairs,
        altReads,
        frequency: reads ? altReads / reads : 0,
      });
    }
  }
  const wildType: SiteTruth[] = [];
  for (const w of spec.wildType) {
    const row = rows.find((r) => r.gene === w.gene && r.position === w.position && r.ref !== "ins");
    if (!row) throw new Error(`No catalogue row for ${w.gene} ${w.position}`);
    let reads = 0, pairs = 0;
    for (const { b, i } of pointSources) {
      const os = b.spec as PointSpec;
      if (os.gene !== w.gene) continue;
      if (os.mutations.some((x) => x.position === w.position)) {
        throw new Error(`${w.gene} ${w.position} is mutated`);
      }
      const [from, to] = siteSpan(b, w.gene, row);
      const n = readsCoveringSpan(p, i, from, to);
      reads += n.reads;
      pairs += n.pairs;
    }
    wildType.push({
      species: SPECIES,
      gene: w.gene,
      type: row.type,
      position: w.position,
      ref: row.ref,
      reads,
      pairs,
    });
  }
  return {
    name: spec.name,
    readPairs: p.count,
    genes,
    mutations,
    wildType,
    pointfinderGenes: [...new Set(pointSources.map(({ b }) => (b.spec as PointSpec).gene))],
  };
}

async function contentKey(spec: FixtureSpec, format: sim.FastqFormat): Promise<string> {
  const parts = [
    await Deno.readTextFile(new URL("./sim.ts", import.meta.url)),
    await Deno.readTextFile(new URL("./fixtures.ts", import.meta.url)),
    JSON.stringify(spec),
    format,
  ];
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\0")));
  return [...new Uint8Array(digest)].slice(0, 6).map((b) => b.toString(16).padStart(2, "0")).join("");
}

function extension(format: sim.FastqFormat): string {
  return format === "plain" ? "fastq" : "fastq.gz";
}

/** Builds the plan and the truth of a spec (no files). */
export async function planFixture(spec: FixtureSpec): Promise<{ plan: sim.Plan; truth: Truth }> {
  const k12 = await sim.loadK12();
  const rng = new sim.Rng(spec.sim.seed ^ 0xf1a4);
  const built: BuiltSource[] = [];
  for (const s of spec.sources) built.push(await buildSource(s, rng, k12, built.length));
  const plan = sim.planFragments(built.map((b) => b.source), spec.sim);
  return { plan, truth: await truthOf(spec, plan, built) };
}

/**
 * Returns a fixture, simulating it into `tests/fixtures/generated/<name>-<format>-<key>/` when not cached.
 * `format` overrides the spec's (the same reads in another format).
 */
export async function fixture(name: FixtureName, format?: sim.FastqFormat): Promise<Fixture> {
  const spec: FixtureSpec = SPECS[name];
  const fmt = format ?? spec.format;
  const key = await contentKey(spec, fmt);
  const dir = `${GENERATED_DIR}${name}-${fmt}-${key}`;
  const ext = extension(fmt);
  const r1 = `${dir}/${name}_R1.${ext}`, r2 = `${dir}/${name}_R2.${ext}`;
  try {
    const truth = JSON.parse(await Deno.readTextFile(`${dir}/truth.json`)) as Truth;
    return { name, dir, r1, r2, truth };
  } catch {
    // Not cached yet.
  }
  const { plan, truth } = await planFixture(spec);
  await Deno.mkdir(GENERATED_DIR, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: GENERATED_DIR, prefix: `.${name}-` });
  await sim.writePairs(plan, `${tmp}/${name}_R1.${ext}`, `${tmp}/${name}_R2.${ext}`, { format: fmt });
  await Deno.writeTextFile(`${tmp}/truth.json`, JSON.stringify(truth, null, 1));
  try {
    await Deno.rename(tmp, dir);
  } catch {
    // Another process made it first: keep theirs.
    await Deno.remove(tmp, { recursive: true });
  }
  return { name, dir, r1, r2, truth };
}

/** For `artFixture`: genes with near relatives in ResFinder, PointFinder genes with fixed and minority mutations. */
export const ART_SPEC: FixtureSpec = {
  name: "art",
  sources: [
    { kind: "gene", allele: "blaTEM-1B_1_AY458016", depth: 30 },
    { kind: "gene", allele: "blaCTX-M-15_1_AY044436", depth: 20 },
    { kind: "gene", allele: "aac(6')-Ib-cr_1_DQ303918", depth: 15 },
    { kind: "gene", allele: "tet(A)_1_AJ313332", depth: 15 },
    { kind: "gene", allele: "qnrS1_1_AB187515", depth: 15 },
    { kind: "point", gene: "gyrA", mutations: [{ position: 83, alt: "TTG" }], depth: 30 },
    { kind: "point", gene: "parC", mutations: [{ position: 80, alt: "ATC" }], depth: 15 },
    { kind: "point", gene: "parC", mutations: [], depth: 35 },
    { kind: "point", gene: "ampC-promoter-size-53bp", mutations: [{ position: -42, alt: "T" }], depth: 30 },
    { kind: "background", pairs: 3000 },
  ],
  sim: { seed: 505, readLength: 150 },
  format: "gz",
  wildType: [{ gene: "gyrA", position: 87 }, { gene: "parC", position: 84 }],
};

/**
 * A spec's sources simulated by ART (`art_illumina`, Debian `art-nextgen-simulation-tools`) instead of our
 * simulator: an independent read simulator with Illumina's quality-dependent errors and indels, three read
 * lengths in one sample, `/1` `/2` names, one gzip member per file. Cached like `fixture`. Its truth is the
 * spec's own plan (the same planted alleles, mutations and depths; `readPairs` counted from ART's reads):
 * per-read figures (reads, pairs over a site) are the own simulation's, not ART's.
 */
export async function artFixture(spec: FixtureSpec): Promise<Fixture> {
  const dir = `${GENERATED_DIR}${spec.name}-art-${await contentKey(spec, "gz")}`;
  const r1 = `${dir}/${spec.name}_R1.fastq.gz`, r2 = `${dir}/${spec.name}_R2.fastq.gz`;
  try {
    const truth = JSON.parse(await Deno.readTextFile(`${dir}/truth.json`)) as Truth;
    return { name: spec.name, dir, r1, r2, truth };
  } catch {
    // Not cached yet.
  }
  const { plan, truth } = await planFixture(spec);
  await Deno.mkdir(GENERATED_DIR, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: GENERATED_DIR, prefix: `.${spec.name}-art-` });
  // a source given in pairs (the background) at the depth those pairs of 150 bases would give
  const sources = plan.sources.map((src) => ({
    seq: src.seq,
    depth: src.depth ?? (src.pairs ?? 0) * 300 / src.seq.length,
  }));
  const pairs = await sim.artPairs(
    sources,
    spec.sim.seed * 100,
    `${tmp}/${spec.name}_R1.fastq.gz`,
    `${tmp}/${spec.name}_R2.fastq.gz`,
    tmp,
  );
  const artTruth: Truth = { ...truth, readPairs: pairs };
  await Deno.writeTextFile(`${tmp}/truth.json`, JSON.stringify(artTruth, null, 1));
  try {
    await Deno.rename(tmp, dir);
  } catch {
    await Deno.remove(tmp, { recursive: true });
  }
  return { name: spec.name, dir, r1, r2, truth: artTruth };
}

/** True when an engine gene name denotes PointFinder gene file stem `pf` (`ampC` for `ampC-promoter-…`). */
export function sameGene(engineGene: string, pf: string): boolean {
  return engineGene === pf || pf.startsWith(`${engineGene}-`) || engineGene.startsWith(`${pf}_`);
}

if (import.meta.main) {
  for (const name of Object.keys(SPECS) as FixtureName[]) {
    const t0 = performance.now();
    const f = await fixture(name);
    console.log(`${name}: ${f.truth.readPairs} pairs, ${(performance.now() - t0).toFixed(0)} ms, ${f.dir}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Engine helpers shared by the engine, conformance and bad-input tests

let sharedDb: Promise<Database> | undefined;

/** The ResFinder + E. coli PointFinder database, built once per process from the Debian folders. */
export function testDatabase(): Promise<Database> {
  return sharedDb ??= Database.build({
    resfinder: sim.RESFINDER_DIR,
    pointfinder: sim.POINTFINDER_DIR,
    species: [SPECIES],
  });
}

/** Runs a fixture through the engine (one fresh `Run`). */
export async function analyzeFixture(f: Fixture, o: RunOptions = { backend: "cpu" }): Promise<EngineResult> {
  const db = await testDatabase();
  using run = new Run(db);
  return await run.analyze(f.r1, f.r2, o);
}

/** A result without what legitimately differs between runs and backends (timing, engine, input bytes). */
export function comparable(r: EngineResult): Omit<EngineResult, "timing" | "engine"> {
  const { timing: _t, engine: _e, ...rest } = r;
  const { bytes: _b, ...input } = rest.input;
  return { ...rest, input: input as EngineResult["input"] };
}

/** Read pairs and bases of a FASTQ file pair as counted here (plain or gzip). */
export async function countFastq(r1: string, r2: string): Promise<{ pairs: number; bases: number }> {
  let pairs = 0, bases = 0;
  for (const path of [r1, r2]) {
    const text = new TextDecoder().decode(await sim.readMaybeGz(path));
    const lines = text.split("\n");
    let n = 0;
    for (let i = 1; i < lines.length; i += 4) {
      if (lines[i - 1].startsWith("@")) {
        bases += lines[i].length;
        n++;
      }
    }
    pairs = n;
  }
  return { pairs, bases };
}
