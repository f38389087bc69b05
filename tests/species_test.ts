/**
 * Point mutations with every PointFinder species in the database (the service's default): reads of one
 * species must not become calls, sites or evidence of another. Two traps, both seen on the benchmark's
 * E. coli sample before the engine handled them:
 * - homologues outside the species' catalogue: E. coli ompC reads align to K. pneumoniae ompK36 at 82-89 %
 *   identity (and gave `klebsiella ompK36 A93S`);
 * - reads identical to two species' genes (gyrA's conserved stretches): counted for both species.
 * The sample is simulated here: E. coli K-12 gyrA carrying S83L, K-12's homologues of K. pneumoniae ompK36
 * (ompC) and of Salmonella acrB (acrB), and K. pneumoniae gyrA, wild type, from its PointFinder reference.
 */

import assert from "node:assert/strict";
import { Database, type EngineResult, InputError, Run, type RunOptions } from "../ffi/mod.ts";
import * as sim from "./sim.ts";

const FLANK = 300;

interface Sample {
  r1: string;
  r2: string;
}

let samplePromise: Promise<Sample> | undefined;
let dbPromise: Promise<Database> | undefined;
let ecoliDbPromise: Promise<Database> | undefined;

/** The K-12 region of the copy of `gene` (from `species`' PointFinder folder) that `sim.locate` finds. */
async function k12Region(gene: string, species: string): Promise<{ seq: Uint8Array; offset: number }> {
  const k12 = await sim.loadK12();
  const ref = await sim.loadPointFinderGene(gene, species);
  const loci = sim.locate(k12, ref.seq);
  assert.equal(loci.length, 1, `one K-12 copy of ${species} ${gene}`);
  return sim.extractRegion(k12, loci[0], ref.seq.length, FLANK);
}

function sample(): Promise<Sample> {
  return samplePromise ??= (async () => {
    const gyrA = await k12Region("gyrA", "escherichia_coli");
    // S83L (catalogued) and D87E (a change at a catalogued position that the catalogue does not list)
    const s83l = sim.mutateCodon(
      sim.mutateCodon(gyrA.seq, gyrA.offset, 83, "TTG", "S"),
      gyrA.offset,
      87,
      "GAA",
      "D",
    );
    const ompC = await k12Region("ompK36", "klebsiella");
    const acrB = await k12Region("acrB", "salmonella");
    const rng = new sim.Rng(0x5bec);
    const kpGyrA = sim.concat([
      sim.randomDna(rng, FLANK),
      (await sim.loadPointFinderGene("gyrA", "klebsiella")).seq,
      sim.randomDna(rng, FLANK),
    ]);
    const plan = sim.planFragments([
      { name: "ecoli-gyrA-S83L-D87E", seq: s83l, depth: 40 },
      { name: "ecoli-ompC", seq: ompC.seq, depth: 60 },
      { name: "ecoli-acrB", seq: acrB.seq, depth: 30 },
      { name: "kpneumoniae-gyrA", seq: kpGyrA, depth: 30 },
    ], { seed: 606, readLength: 150 });
    const dir = await Deno.makeTempDir({ prefix: "biogpu-species-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const s = { r1: `${dir}/s_R1.fastq`, r2: `${dir}/s_R2.fastq` };
    await sim.writePairs(plan, s.r1, s.r2);
    return s;
  })();
}

/** ResFinder plus every PointFinder species (no --species). */
function allSpecies(): Promise<Database> {
  return dbPromise ??= Database.build({ resfinder: sim.RESFINDER_DIR, pointfinder: sim.POINTFINDER_DIR });
}

/** ResFinder plus E. coli's PointFinder genes only. */
function ecoliOnly(): Promise<Database> {
  return ecoliDbPromise ??= Database.build({
    resfinder: sim.RESFINDER_DIR,
    pointfinder: sim.POINTFINDER_DIR,
    species: ["escherichia_coli"],
  });
}

async function analyze(o: RunOptions = {}, db?: Database, reads?: Sample): Promise<EngineResult> {
  const s = reads ?? await sample();
  using run = new Run(db ?? await allSpecies());
  return await run.analyze(s.r1, s.r2, { backend: "cpu", ...o });
}

/** ResFinder's own example reads (Debian `resfinder-example`): an E. coli isolate with gyrA S83A. */
const ISOLATE_05: Sample = {
  r1: "/usr/share/doc/resfinder/examples/data/test_isolate_05_1.fq.gz",
  r2: "/usr/share/doc/resfinder/examples/data/test_isolate_05_2.fq.gz",
};

const label = (m: { species: string; gene: string; mutation: string }) =>
  `${m.species} ${m.gene} ${m.mutation}`;

Deno.test("every species in the database: an E. coli gyrA S83L is E. coli's only, K. pneumoniae's gyrA stays wild type", async () => {
  const r = await analyze();
  assert.deepEqual(r.mutations.map(label), ["escherichia_coli gyrA S83L"]);
  const s83l = r.mutations[0];
  assert.ok(s83l.depth >= 10 && s83l.frequency > 0.9, JSON.stringify(s83l));
  const ec83 = r.sites.find((s) =>
    s.species === "escherichia_coli" && s.gene === "gyrA" && s.position === 83
  );
  assert.ok(
    ec83 && !("S" in ec83.counts),
    `no K. pneumoniae (serine) read at E. coli's gyrA 83: ${JSON.stringify(ec83)}`,
  );
  const kp83 = r.sites.find((s) => s.species === "klebsiella" && s.gene === "gyrA" && s.position === 83);
  assert.ok(kp83, "K. pneumoniae gyrA 83 reached by its own reads");
  assert.equal(kp83.status, "wild_type");
  assert.deepEqual(
    Object.keys(kp83.counts),
    ["S"],
    `only serine at K. pneumoniae gyrA 83: ${JSON.stringify(kp83)}`,
  );
  assert.equal(r.options.min_point_identity, 95);
});

Deno.test("a change the catalogue does not list at a catalogued position (gyrA D87E) is an uncatalogued site, not a mutation", async () => {
  const r = await analyze();
  assert.ok(
    !r.mutations.some((m) => m.gene === "gyrA" && m.position === 87),
    "D87E is not a catalogued mutation",
  );
  const ec87 = r.sites.find((s) =>
    s.species === "escherichia_coli" && s.gene === "gyrA" && s.position === 87
  );
  assert.ok(ec87, "E. coli gyrA 87 reached");
  assert.equal(ec87.status, "uncatalogued", JSON.stringify(ec87));
  assert.ok((ec87.counts.E ?? 0) > ec87.depth / 2, JSON.stringify(ec87));
  const kp87 = r.sites.find((s) => s.species === "klebsiella" && s.gene === "gyrA" && s.position === 87);
  assert.equal(kp87?.status, "wild_type", JSON.stringify(kp87));
});

Deno.test("every species in the database: homologues (ompC on ompK36, acrB on Salmonella acrB) reach no site", async () => {
  const r = await analyze();
  const foreign = r.sites.filter((s) =>
    !(s.species === "escherichia_coli" || (s.species === "klebsiella" && s.gene === "gyrA"))
  );
  assert.deepEqual(foreign, [], "only E. coli sites and K. pneumoniae gyrA");
  // At PointFinder's own identity threshold (80 %) the same reads are evidence at ompK36's sites: the
  // option is what keeps them out.
  const loose = await analyze({ minPointIdentity: 80 });
  assert.equal(loose.options.min_point_identity, 80);
  assert.ok(
    loose.sites.some((s) => s.species === "klebsiella" && s.gene === "ompK36" && s.depth >= 3),
    "ompC reads reach ompK36's sites at 80 %",
  );
});

Deno.test("minPointIdentity outside 0-100 is refused with the option's name", async () => {
  await assert.rejects(() => analyze({ minPointIdentity: 101 }), /min_point_identity/);
});

Deno.test("a run may choose its species: only their sites and calls, and results name them", async () => {
  const all = await analyze();
  assert.deepEqual(all.options.species, (await allSpecies()).info().species);
  assert.equal(all.options.species.length, 11);
  const kp = await analyze({ species: ["klebsiella"] });
  assert.deepEqual(kp.options.species, ["klebsiella"]);
  assert.ok(
    kp.sites.length > 0 && kp.sites.every((s) => s.species === "klebsiella"),
    JSON.stringify(kp.sites),
  );
  assert.ok(kp.mutations.every((m) => m.species === "klebsiella"));
  // E. coli unchosen, its gyrA reads that align to K. pneumoniae's at >= 95 % count for it (as ResFinder run
  // with that species would): the run says the sample is K. pneumoniae.
  const ec = await analyze({ species: ["escherichia_coli"] });
  assert.deepEqual(ec.options.species, ["escherichia_coli"]);
  assert.deepEqual(ec.mutations.map(label), ["escherichia_coli gyrA S83L"]);
  assert.ok(ec.sites.every((s) => s.species === "escherichia_coli"));
  assert.deepEqual(ec.genes, all.genes, "species choose PointFinder calls only");
});

Deno.test("a species the database lacks fails the run with INVALID_ARGUMENT naming it and the ones it has", async () => {
  await assert.rejects(() => analyze({ species: ["escherichia_coli", "klebsiela"] }), (e) => {
    assert.ok(e instanceof InputError && e.code === "BG_ERR_INVALID_ARGUMENT", String(e));
    assert.match(e.message, /options\.species: klebsiela is not a PointFinder species of this database/);
    assert.match(e.message, /it has campylobacter, .*klebsiella/);
    return true;
  });
});

Deno.test("a chosen species calls as a database of that species alone would (ResFinder's isolate 05: gyrA S83A)", async () => {
  const pointCalls = (r: EngineResult) => ({ mutations: r.mutations, sites: r.sites });
  for (const reads of [undefined, ISOLATE_05]) {
    const chosen = await analyze({ species: ["escherichia_coli"] }, undefined, reads);
    const alone = await analyze({}, await ecoliOnly(), reads);
    assert.deepEqual(pointCalls(chosen), pointCalls(alone));
  }
  const iso = await analyze({ species: ["escherichia_coli"] }, undefined, ISOLATE_05);
  assert.deepEqual(
    iso.mutations.map(label),
    ["escherichia_coli gyrA S83A"],
    "ResFinder's functional test's answer",
  );
  // Unchosen, the isolate's gyrA reads are closer to the K. pneumoniae reference (1-4 mismatches per read
  // against 3-8): every species in the database cannot tell, naming the species can.
  const unchosen = await analyze({}, undefined, ISOLATE_05);
  assert.ok(!unchosen.mutations.some((m) => m.species === "escherichia_coli" && m.gene === "gyrA"));
});
