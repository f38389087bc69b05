/**
 * Detection tests of the engine through the FFI and the CLI, on the simulated fixtures (tests/fixtures.ts).
 * Every expected value comes from the simulation's truth, never from an earlier engine run.
 */

import nodeAssert from "node:assert/strict";
import type { EngineResult, GeneCall, MutationCall } from "../ffi/mod.ts";
import {
  analyzeFixture,
  countFastq,
  ecoliCatalogue,
  type Fixture,
  fixture,
  type FixtureName,
  type GeneTruth,
  sameGene,
  testDatabase,
} from "./fixtures.ts";
import * as sim from "./sim.ts";

const assert: (v: unknown, msg?: string) => asserts v = nodeAssert.ok;
const assertEquals: <T>(a: unknown, b: T, msg?: string) => asserts a is T = nodeAssert.deepEqual;

const results = new Map<string, Promise<{ f: Fixture; r: EngineResult }>>();

/** The CPU result of a fixture, computed once per file. */
function result(name: FixtureName): Promise<{ f: Fixture; r: EngineResult }> {
  let p = results.get(name);
  if (!p) {
    p = (async () => {
      const f = await fixture(name);
      return { f, r: await analyzeFixture(f, { backend: "cpu" }) };
    })();
    results.set(name, p);
  }
  return p;
}

/** Planted genes that the reads cover well enough that a caller at the defaults must report them. */
function mustReport(g: GeneTruth): boolean {
  return g.simBreadth >= 0.7;
}

function assertGeneCalls(f: Fixture, r: EngineResult): void {
  const reported = new Map(r.genes.map((g) => [g.allele, g]));
  const accepted = new Set<string>();
  for (const t of f.truth.genes) {
    const options = [t.allele, ...t.indistinguishable];
    const hits = options.filter((a) => reported.has(a));
    for (const a of options) accepted.add(a);
    if (mustReport(t)) {
      assertEquals(
        hits.length,
        1,
        `${f.name}: ${t.allele} reported once (found ${hits.join(", ") || "none"})`,
      );
    } else {
      assert(hits.length <= 1, `${f.name}: ${t.allele} reported at most once`);
    }
    for (const rel of t.nearRelatives) {
      assert(!reported.has(rel), `${f.name}: near relative ${rel} of ${t.allele} must not be reported`);
    }
  }
  const extra = r.genes.map((g) => g.allele).filter((a) => !accepted.has(a));
  assertEquals(extra, [], `${f.name}: no gene beyond the planted ones`);
}

function assertMutationCalls(f: Fixture, r: EngineResult): void {
  const want = f.truth.mutations.map((m) => `${m.gene} ${m.mutation}`).sort();
  const got = r.mutations.map((m) => {
    const t = f.truth.mutations.find((x) => sameGene(m.gene, x.gene) && x.mutation === m.mutation);
    return `${t ? t.gene : m.gene} ${m.mutation}`;
  }).sort();
  assertEquals(got, want, `${f.name}: exactly the planted mutations`);
}

function findMutation(r: EngineResult, gene: string, mutation: string): MutationCall {
  const m = r.mutations.find((x) => sameGene(x.gene, gene) && x.mutation === mutation);
  assert(m, `mutation ${gene} ${mutation} reported`);
  return m;
}

function relClose(a: number, b: number, tol: number): boolean {
  return Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

// ---------------------------------------------------------------------------------------------------------

Deno.test("genes at 30x, 10x, 5x and 2x over a K-12 background are reported exactly, without near relatives", async () => {
  const { f, r } = await result("genes");
  assert(f.truth.genes.filter(mustReport).length >= 3, "the fixture plants at least 3 well-covered genes");
  assertGeneCalls(f, r);
  const tem = r.genes.find((g) => g.gene === "blaTEM-1B");
  assert(tem, "blaTEM-1B reported");
  for (const other of ["blaTEM-1A_1_HM749966", "blaTEM-1C_1_FJ560503", "blaTEM-1D_1_AF188200"]) {
    assert(!r.genes.some((g) => g.allele === other), `${other} not reported`);
  }
  assert(
    !r.genes.some((g) => /^formA/.test(g.gene)),
    "K-12 formA (81 % identity) is not reported at the defaults",
  );
  assertEquals(r.mutations, [], "K-12 background carries no catalogued mutation");
});

Deno.test("allele is the database header exactly and gene its name part", async () => {
  const db = await sim.loadResFinder();
  for (const name of ["genes", "reverse", "mixedlen"] as const) {
    const { r } = await result(name);
    assert(r.genes.length > 0);
    for (const g of r.genes) {
      const a = db.get(g.allele);
      assert(a, `${g.allele} is a ResFinder header`);
      assertEquals(g.gene, sim.geneOfAllele(g.allele));
      assertEquals(g.length, a.seq.length, `${g.allele} length`);
      assertEquals(g.accession, g.allele.slice(g.allele.lastIndexOf("_") + 1));
    }
  }
  const { r } = await result("genes");
  const tem = r.genes.find((g) => g.gene === "blaTEM-1B");
  assertEquals(tem?.allele, "blaTEM-1B_1_AY458016");
  assertEquals(tem?.drug_class, "Beta-lactam");
  assert(/ampicillin/i.test(tem?.phenotype ?? ""), `blaTEM-1B phenotype: ${tem?.phenotype}`);
});

Deno.test("depth, coverage, identity and read counts agree with the simulated reads", async () => {
  const { f, r } = await result("genes");
  for (const t of f.truth.genes.filter(mustReport)) {
    const g = r.genes.find((x) =>
      x.allele === t.allele || t.indistinguishable.includes(x.allele)
    ) as GeneCall;
    assert(g, `${t.allele} reported`);
    assert(
      g.depth >= 0.75 * t.simDepth && g.depth <= 1.2 * t.simDepth,
      `${t.allele}: depth ${g.depth} vs simulated ${t.simDepth.toFixed(2)}`,
    );
    assert(
      Math.abs(g.coverage - 100 * t.simBreadth) <= 8 && g.coverage <= 100,
      `${t.allele}: coverage ${g.coverage} vs simulated ${(100 * t.simBreadth).toFixed(1)}`,
    );
    assert(g.identity >= 98 && g.identity <= 100, `${t.allele}: identity ${g.identity}`);
    assert(
      g.reads >= 0.8 * t.pairsInside && g.reads <= 1.1 * t.pairsTouching,
      `${t.allele}: ${g.reads} pairs vs ${t.pairsInside} inside / ${t.pairsTouching} touching`,
    );
  }
  const deep = r.genes.find((g) => g.gene === "blaTEM-1B")!;
  const shallow = r.genes.find((g) => g.gene === "tet(A)")!;
  assert(deep.depth > 3 * shallow.depth, "30x gene deeper than the 5x gene");
});

Deno.test("RPKM follows reads, length and input pairs; TPM sums to one million over reported genes", async () => {
  for (const name of ["genes", "mixedlen"] as const) {
    const { r } = await result(name);
    assert(r.genes.length >= 2);
    const sumTpm = r.genes.reduce((s, g) => s + g.tpm, 0);
    assert(Math.abs(sumTpm - 1e6) < 1e-3, `${name}: TPM sum ${sumTpm}`);
    const sumRpkm = r.genes.reduce((s, g) => s + g.rpkm, 0);
    for (const g of r.genes) {
      const rpkm = (g.reads * 1e9) / (g.length * r.input.read_pairs);
      assert(
        relClose(g.rpkm, rpkm, 1e-6),
        `${name} ${g.allele}: rpkm ${g.rpkm}, reads·1e9/(length·pairs) ${rpkm}`,
      );
      assert(
        relClose(g.tpm, (g.rpkm / sumRpkm) * 1e6, 1e-9),
        `${name} ${g.allele}: tpm proportional to rpkm`,
      );
    }
  }
});

Deno.test("input counts match the FASTQ files", async () => {
  for (const name of ["genes", "pointfinder", "mixedlen"] as const) {
    const { f, r } = await result(name);
    const c = await countFastq(f.r1, f.r2);
    assertEquals(c.pairs, f.truth.readPairs);
    assertEquals(r.input.read_pairs, c.pairs, `${name} read pairs`);
    assertEquals(r.input.bases, c.bases, `${name} bases (R1 + R2)`);
  }
});

Deno.test("PointFinder: exactly the planted gyrA S83L, parC S80I, 23S A2058G and ampC -42C>T", async () => {
  const { f, r } = await result("pointfinder");
  assertMutationCalls(f, r);
  assertEquals(r.genes, [], "no ResFinder gene in a PointFinder-only sample");
  const s83 = findMutation(r, "gyrA", "S83L");
  assertEquals(
    { type: s83.type, position: s83.position, ref: s83.ref, alt: s83.alt, species: s83.species },
    { type: "AA", position: 83, ref: "S", alt: "L", species: "escherichia_coli" },
  );
  assertEquals([s83.ref_codon, s83.alt_codon], ["TCG", "TTG"]);
  assertEquals(s83.drug_class, "Quinolone");
  assert(/ciprofloxacin/i.test(s83.phenotype), s83.phenotype);
  const rrna = findMutation(r, "23S", "n.2058A>G");
  assertEquals([rrna.type, rrna.position, rrna.ref, rrna.alt], ["NUC", 2058, "A", "G"]);
  const prom = findMutation(r, "ampC-promoter-size-53bp", "n.-42C>T");
  assertEquals([prom.type, prom.position, prom.ref, prom.alt], ["NUC", -42, "C", "T"]);
  assert(r.drug_classes.includes("Quinolone"));
});

Deno.test("mutation depth, alt reads and frequency agree with the simulated mixture (parC S80I ~ 1/3)", async () => {
  const { f, r } = await result("pointfinder");
  for (const t of f.truth.mutations) {
    const m = findMutation(r, t.gene, t.mutation);
    assert(m.alt_reads <= m.depth && m.alt_reads >= 2, `${t.mutation}: ${m.alt_reads}/${m.depth}`);
    assert(
      relClose(m.frequency, m.alt_reads / m.depth, 1e-3),
      `${t.mutation}: frequency = alt_reads / depth`,
    );
    // Depth counts reads or fragments (overlapping mates once): between the simulated pairs and reads.
    assert(
      m.depth >= 0.85 * t.pairs && m.depth <= 1.05 * t.reads,
      `${t.gene} ${t.mutation}: depth ${m.depth} vs ${t.pairs} pairs / ${t.reads} reads simulated over the site`,
    );
    assert(
      Math.abs(m.frequency - t.frequency) <= 0.08,
      `${t.gene} ${t.mutation}: frequency ${m.frequency} vs simulated ${t.frequency.toFixed(3)}`,
    );
  }
  const parC = findMutation(r, "parC", "S80I");
  assert(parC.frequency > 0.15 && parC.frequency < 0.55, "parC S80I is heteroresistant, not fixed");
});

Deno.test("NovaSeq-like reads (inserts shorter than the reads, into adapters and poly-G) give the planted calls", async () => {
  const { f, r } = await result("novaseq");
  assertGeneCalls(f, r);
  assertMutationCalls(f, r);
  for (const t of f.truth.genes.filter(mustReport)) {
    const g = r.genes.find((x) => x.allele === t.allele || t.indistinguishable.includes(x.allele))!;
    assert(
      g.depth >= 0.85 * t.simDepth && g.depth <= 1.15 * t.simDepth,
      `${t.allele}: depth ${g.depth} vs simulated ${t.simDepth.toFixed(2)}`,
    );
    assert(
      g.reads >= 0.95 * t.pairsInside && g.reads <= 1.05 * t.pairsTouching,
      `${t.allele}: ${g.reads} pairs vs ${t.pairsInside} inside / ${t.pairsTouching} touching`,
    );
    assert(
      g.identity >= 99.5 && g.coverage >= 98,
      `${t.allele}: identity ${g.identity}, coverage ${g.coverage}`,
    );
  }
  for (const t of f.truth.mutations) {
    const m = findMutation(r, t.gene, t.mutation);
    assert(
      m.depth >= 0.85 * t.pairs && m.depth <= 1.05 * t.reads,
      `${t.gene} ${t.mutation}: depth ${m.depth} vs ${t.pairs} pairs / ${t.reads} reads simulated over the site`,
    );
    assert(
      Math.abs(m.frequency - t.frequency) <= 0.1,
      `${t.gene} ${t.mutation}: frequency ${m.frequency} vs simulated ${t.frequency.toFixed(3)}`,
    );
  }
  assertEquals(r.input.read_pairs, f.truth.readPairs);
});

Deno.test("wild-type catalogued sites (gyrA D87, G81, parC E84) are sites, not mutations", async () => {
  for (const name of ["pointfinder", "reverse", "mixedlen"] as const) {
    const { f, r } = await result(name);
    for (const w of f.truth.wildType) {
      assert(
        !r.mutations.some((m) => sameGene(m.gene, w.gene) && m.position === w.position),
        `${name}: ${w.gene} ${w.position} not a mutation`,
      );
      const site = r.sites.find((s) =>
        sameGene(s.gene, w.gene) && s.position === w.position && s.type === w.type
      );
      assert(site, `${name}: ${w.gene} ${w.position} listed in sites`);
      assertEquals(site.status, "wild_type", `${name}: ${w.gene} ${w.position} status`);
      assertEquals(site.ref, w.ref);
      assert(
        site.depth >= 0.85 * w.pairs && site.depth <= 1.05 * w.reads,
        `${name}: ${w.gene} ${w.position} depth ${site.depth} vs ${w.pairs} pairs / ${w.reads} reads`,
      );
      assert(
        (site.counts[w.ref] ?? 0) >= 0.9 * site.depth,
        `${name}: ${w.gene} ${w.position} counts ${JSON.stringify(site.counts)}`,
      );
    }
    for (const t of f.truth.mutations) {
      const site = r.sites.find((s) => sameGene(s.gene, t.gene) && s.position === t.position);
      assertEquals(site?.status, "mutant", `${name}: ${t.gene} ${t.position} site is mutant`);
    }
  }
  // Every catalogued site of a planted gene that reads reached is listed, with a known status.
  const { f, r } = await result("pointfinder");
  const rows = (await ecoliCatalogue()).filter((x) => x.gene === "gyrA" && x.ref !== "ins");
  for (const row of rows) {
    const s = r.sites.find((x) => sameGene(x.gene, "gyrA") && x.position === row.position);
    assert(s, `gyrA ${row.position} in sites`);
    assert(["wild_type", "mutant", "uncatalogued", "low_depth"].includes(s.status));
  }
  assert(f.truth.pointfinderGenes.includes("gyrA"));
});

Deno.test("plain, gzip and bgzip of the same reads give identical results, bgzip also with inflate helpers", async () => {
  const base = (await result("genes")).r;
  const runs = [["gz", "0"], ["multigz", "0"], ["multigz", "3"]] as const;
  try {
    for (const [format, helpers] of runs) {
      Deno.env.set("BIOGPU_INFLATE_THREADS", helpers); // read by the engine at each analysis
      const f = await fixture("genes", format);
      const r = await analyzeFixture(f, { backend: "cpu" });
      const what = `${format}, ${helpers} helpers`;
      assertEquals(r.genes, base.genes, `${what}: genes`);
      assertEquals(r.mutations, base.mutations, `${what}: mutations`);
      assertEquals(r.sites, base.sites, `${what}: sites`);
      assertEquals(r.input.read_pairs, base.input.read_pairs);
      assertEquals(r.input.bases, base.input.bases);
    }
    Deno.env.set("BIOGPU_INFLATE_THREADS", "many");
    const f = await fixture("genes", "multigz");
    await nodeAssert.rejects(
      analyzeFixture(f, { backend: "cpu" }),
      (e: Error) =>
        /BIOGPU_INFLATE_THREADS must be a whole number/.test(e.message) && /"many"/.test(e.message),
    );
  } finally {
    Deno.env.delete("BIOGPU_INFLATE_THREADS");
  }
});

Deno.test("reverse-strand-only reads give the same detections", async () => {
  const { f, r } = await result("reverse");
  assertGeneCalls(f, r);
  assertMutationCalls(f, r);
  const m = findMutation(r, "gyrA", "S83L");
  assert(m.frequency > 0.9, `frequency ${m.frequency}`);
});

Deno.test("mixed read lengths 75-300 with /1 /2 names give the expected detections", async () => {
  const { f, r } = await result("mixedlen");
  assertGeneCalls(f, r);
  assertMutationCalls(f, r);
  for (const t of f.truth.genes) {
    const g = r.genes.find((x) => x.allele === t.allele)!;
    assert(
      g.coverage >= 95 && g.identity >= 98,
      `${t.allele}: coverage ${g.coverage}, identity ${g.identity}`,
    );
  }
});

Deno.test("the Debian example isolate 01 (known answer: blaB-2) gives blaB-2 and nothing else", async () => {
  const dir = "/usr/share/doc/resfinder/examples/data";
  const db = await testDatabase();
  const { Run } = await import("../ffi/mod.ts");
  using run = new Run(db);
  const r = await run.analyze(`${dir}/test_isolate_01_1.fq.gz`, `${dir}/test_isolate_01_2.fq.gz`, {
    backend: "cpu",
  });
  assertEquals(r.genes.map((g) => g.allele), ["blaB-2_1_AF189300"]);
});

Deno.test("the CLI writes results.json, genes.tsv, mutations.tsv and hamronization.tsv that parse", async () => {
  const f = await fixture("mixedlen");
  const out = await Deno.makeTempDir({ prefix: "engine_test_cli_" });
  try {
    const main = new URL("../main.ts", import.meta.url).pathname;
    const run = async (args: string[]) => {
      const p = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", main, ...args], stdin: "null" })
        .output();
      const err = new TextDecoder().decode(p.stderr);
      assertEquals(p.code, 0, `${args[0]} ${args[1]} failed: ${err}`);
    };
    await run([
      "db",
      "build",
      "--resfinder",
      sim.RESFINDER_DIR,
      "--pointfinder",
      sim.POINTFINDER_DIR,
      "--species",
      "escherichia_coli",
      "--out",
      `${out}/amr.bgdb`,
    ]);
    await run([
      "analyze",
      "--r1",
      f.r1,
      "--r2",
      f.r2,
      "--db",
      `${out}/amr.bgdb`,
      "--out",
      `${out}/S1`,
      "--sample-id",
      "S1",
      "--backend",
      "cpu",
      "--threads",
      "2",
      "--species",
      "escherichia_coli",
      "--min-point-identity",
      "97.5",
    ]);
    const res = JSON.parse(await Deno.readTextFile(`${out}/S1/results.json`));
    assertEquals(res.sample_id, "S1");
    assertEquals([res.options.species, res.options.min_point_identity], [["escherichia_coli"], 97.5]);
    assertEquals(res.input.read_pairs, f.truth.readPairs);
    assertEquals(res.engine.backend, "cpu");
    assertEquals(res.engine.fallback, null);
    assertEquals(res.engine.threads, 2);
    assert(res.timing.seconds >= 0);
    const alleles = (res.genes as GeneCall[]).map((g) => g.allele).sort();
    assertEquals(alleles, f.truth.genes.map((g) => g.allele).sort());
    const tsv = async (file: string) => {
      const lines = (await Deno.readTextFile(`${out}/S1/${file}`)).split("\n").filter((l) => l.length);
      const header = lines[0].split("\t");
      const rows = lines.slice(1).map((l) => l.split("\t"));
      for (const row of rows) assertEquals(row.length, header.length, `${file}: row width`);
      return { header, rows };
    };
    const genes = await tsv("genes.tsv");
    assertEquals(genes.rows.length, res.genes.length);
    const ai = genes.header.indexOf("allele");
    assert(ai >= 0, "genes.tsv has an allele column");
    assertEquals(genes.rows.map((x) => x[ai]).sort(), alleles);
    const muts = await tsv("mutations.tsv");
    assertEquals(muts.rows.length, res.mutations.length);
    assert(muts.rows.some((x) => x.includes("S83L")), "mutations.tsv lists gyrA S83L");
    const ham = await tsv("hamronization.tsv");
    for (const col of ["input_file_name", "gene_symbol", "reference_accession", "analysis_software_name"]) {
      assert(ham.header.includes(col), `hamronization.tsv column ${col}`);
    }
    const gs = ham.header.indexOf("gene_symbol");
    for (const t of f.truth.genes) {
      assert(ham.rows.some((x) => x[gs] === t.gene), `hamronization.tsv lists ${t.gene}`);
    }
    // mechanisms of resistance from the databases' phenotypes.txt (aac(6')-Ib-cr has two rows, two mechanisms)
    const mechanisms = {
      "blaTEM-1B": "Enzymatic inactivation",
      "aac(6')-Ib-cr": "Enzymatic modification; Enzymatic inactivation",
      gyrA: "Target modification",
    };
    const rm = ham.header.indexOf("resistance_mechanism");
    for (const [gene, mechanism] of Object.entries(mechanisms)) {
      const rows = ham.rows.filter((x) => x[gs] === gene);
      assert(rows.length > 0 && rows.every((x) => x[rm] === mechanism), `${gene}: ${rows.map((x) => x[rm])}`);
    }
    assertEquals(
      (res.genes as GeneCall[]).map((g) => [g.gene, g.mechanism]).sort(),
      Object.entries(mechanisms).filter(([g]) => g !== "gyrA").sort(),
    );
    assertEquals(findMutation(res, "gyrA", "S83L").mechanism, mechanisms.gyrA);
    const left = [];
    for await (const e of Deno.readDir(`${out}/S1`)) left.push(e.name);
    assert(!left.some((n) => n.endsWith(".tmp")), `no temporary files left: ${left.join(", ")}`);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
