/**
 * Detection on reads from ART, an independent Illumina read simulator (Debian `art-nextgen-simulation-tools`):
 * its quality-dependent substitutions and indels, and NextSeq 2x75, HiSeq 2500 2x150 and MiSeq v3 2x250 reads
 * in one sample. Expected values come from what was planted, never from an earlier engine run.
 */

import nodeAssert from "node:assert/strict";
import type { EngineResult } from "../ffi/mod.ts";
import { analyzeFixture, ART_SPEC, artFixture, countFastq, type Fixture, sameGene } from "./fixtures.ts";

const assert: (v: unknown, msg?: string) => asserts v = nodeAssert.ok;
const assertEquals: <T>(a: unknown, b: T, msg?: string) => asserts a is T = nodeAssert.deepEqual;

let cached: Promise<{ f: Fixture; r: EngineResult }> | undefined;

function result(): Promise<{ f: Fixture; r: EngineResult }> {
  return cached ??= (async () => {
    const f = await artFixture(ART_SPEC);
    return { f, r: await analyzeFixture(f, { backend: "cpu" }) };
  })();
}

Deno.test("ART reads: the planted alleles exactly, without their near relatives", async () => {
  const { f, r } = await result();
  const accepted = new Map<string, string>();
  for (const t of f.truth.genes) {
    for (const a of [t.allele, ...t.indistinguishable]) accepted.set(a, t.allele);
  }
  const found = r.genes.map((g) => accepted.get(g.allele) ?? `unexpected ${g.allele}`).sort();
  assertEquals(found, f.truth.genes.map((t) => t.allele).sort());
  for (const t of f.truth.genes) {
    const g = r.genes.find((x) => accepted.get(x.allele) === t.allele)!;
    assert(g.identity >= 99, `${t.allele}: identity ${g.identity}`);
    assert(g.coverage >= 98, `${t.allele}: coverage ${g.coverage}`);
    assert(
      g.depth >= 0.7 * t.depth && g.depth <= 1.4 * t.depth,
      `${t.allele}: depth ${g.depth.toFixed(2)} for ${t.depth}x planted`,
    );
    for (const rel of t.nearRelatives) assert(!r.genes.some((x) => x.allele === rel), `${rel} not reported`);
  }
});

Deno.test("ART reads: the planted mutations, the minority one at its planted fraction", async () => {
  const { f, r } = await result();
  const calls = r.mutations.map((m) => `${m.gene} ${m.mutation}`).sort();
  const planted = f.truth.mutations.map((t) => [t.gene, t.mutation]);
  assertEquals(calls.length, planted.length, `calls: ${calls.join(", ")}`);
  for (const [gene, mutation] of planted) {
    const m = r.mutations.find((x) => sameGene(x.gene, gene) && x.mutation === mutation);
    assert(m, `${gene} ${mutation} called (calls: ${calls.join(", ")})`);
    const want = f.truth.mutations.find((t) => t.gene === gene && t.mutation === mutation)!.frequency;
    assert(m.depth >= 20, `${gene} ${mutation}: depth ${m.depth}`);
    assert(
      Math.abs(m.frequency - want) <= 0.15,
      `${gene} ${mutation}: frequency ${m.frequency.toFixed(3)} (${m.alt_reads}/${m.depth}) for ${
        want.toFixed(3)
      }`,
    );
  }
  const parC = r.mutations.find((m) => sameGene(m.gene, "parC") && m.mutation === "S80I")!;
  assert(parC.frequency < 0.5, `parC S80I is a minority (${parC.frequency.toFixed(3)})`);
  for (const w of f.truth.wildType) {
    const site = r.sites.find((s) =>
      sameGene(s.gene, w.gene) && s.position === w.position && s.type === w.type
    );
    assertEquals(site?.status, "wild_type", `${w.gene} ${w.position}`);
  }
});

Deno.test("ART reads: pairs and bases as counted in the files (75, 150 and 250 bases)", async () => {
  const { f, r } = await result();
  const counted = await countFastq(f.r1, f.r2);
  assertEquals(r.input.read_pairs, counted.pairs);
  assertEquals(r.input.bases, counted.bases);
  assertEquals(counted.pairs, f.truth.readPairs);
  assert(
    counted.bases > counted.pairs * 2 * 75 && counted.bases < counted.pairs * 2 * 250,
    "mixed read lengths",
  );
});
