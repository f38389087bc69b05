// Reads not trimmed of their adapters: a fragment shorter than the reads is read on into the adapter (Illumina
// TruSeq, Nextera; MGI/DNBSEQ). Those pairs must count as their inserts do: before the engine cut adapters, 60-, 100- and 130-base
// inserts in 150-base reads lost 38, 23 and 13 % of blaTEM-1B's pairs. Two-colour sequencers (NextSeq,
// NovaSeq) also end reads whose signal fades in G's: 10, 30 and 50 of them ending every R1 lost 6, 11 and 21 %.
import assert from "node:assert/strict";
import { Database } from "../ffi/mod.ts";
import type { GeneCall } from "../ffi/mod.ts";
import { analyzeReads, engineUnavailable, fastaRecord, revcomp, RF } from "./reads.ts";

const BETA = `${RF}/beta-lactam.fsa`;
const unavailable = engineUnavailable("adapter_test", BETA);

const ADAPTERS = {
  truseq: [
    "AGATCGGAAGAGCACACGTCTGAACTCCAGTCACATCACGATCTCGTATGCCGTCTTCTGCTTG",
    "AGATCGGAAGAGCGTCGTGTAGGGAAAGAGTGTAGATCTCGGTGGTCGCCGTATCATT",
  ],
  nextera: ["CTGTCTCTTATACACATCTCCGAGCCCACGAGAC", "CTGTCTCTTATACACATCTGACGCTGCCGACGA"],
  mgi: ["AAGTCGGAGGCCAAGCGGTCTTAGGAAGACAA", "AAGTCGGATCGTAGCCATGTCGTTCTGTGAGCCAAGGAGTTG"],
};

/** Pairs of `insert`-base fragments every 2 bases of `gene` in 150-base reads: mate k (0: R1, 1: R2) reads
 * `mate(k, its end of the fragment)`, cut to 150 bases (by default the fragment's bases alone). */
function pairs(
  gene: string,
  insert: number,
  mate: (k: number, bases: string) => string = (_, bases) => bases,
) {
  let r1 = "", r2 = "";
  for (let i = 0, n = 0; i + insert <= gene.length; i += 2, n++) {
    const frag = gene.slice(i, i + insert);
    const [a, b] = n % 2 ? [revcomp(frag), frag] : [frag, revcomp(frag)];
    const x = mate(0, a).slice(0, 150), y = mate(1, b).slice(0, 150);
    r1 += `@p${n}/1\n${x}\n+\n${"I".repeat(x.length)}\n`;
    r2 += `@p${n}/2\n${y}\n+\n${"I".repeat(y.length)}\n`;
  }
  return { r1, r2 };
}

async function genes(db: Database, dir: string, reads: { r1: string; r2: string }): Promise<GeneCall[]> {
  return (await analyzeReads(db, dir, reads)).genes;
}

Deno.test({
  name: "pairs read on into TruSeq, Nextera or MGI adapters give the genes, reads and depth of their inserts",
  ignore: unavailable !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-adapter-" });
    try {
      using db = await Database.build({ resfinder: RF });
      const allele = "blaTEM-1B_1_AY458016";
      const gene = await fastaRecord(BETA, allele);
      for (const insert of [60, 100, 130]) {
        const want = await genes(db, dir, pairs(gene, insert));
        assert.deepEqual(want.map((g) => g.allele), [allele], `insert ${insert}, trimmed`);
        assert.equal(want[0].reads, Math.floor((gene.length - insert) / 2) + 1);
        for (const [kit, adapters] of Object.entries(ADAPTERS)) {
          // read on into the adapter, then A's as the sequencer reads on past it
          const got = await genes(
            db,
            dir,
            pairs(gene, insert, (k, bases) => bases + adapters[k] + "A".repeat(150)),
          );
          // depth within 0.1 %: an insert that ends in an adapter's first bases loses them in either form
          const what = `insert ${insert}, ${kit}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`;
          assert.deepEqual(
            got.map((g) => [g.allele, g.reads, g.coverage, g.identity]),
            want.map((g) => [
              g.allele,
              g.reads,
              g.coverage,
              g.identity,
            ]),
            what,
          );
          assert.ok(Math.abs(got[0].depth - want[0].depth) <= 0.001 * want[0].depth, what);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** R1's last `g` bases read as G (`mix`: every `mix`th of them an A, from the tail's fourth base on; the last
 * bases are all G, as in fastp's rule). */
function polyG(g: number, mix = 0): (k: number, bases: string) => string {
  const tail = [...Array(g)].map((_, k) => mix && k % mix === 3 ? "A" : "G").join("");
  return (k, bases) => k ? bases : bases.slice(0, 150 - g) + tail;
}

Deno.test({
  name: "pairs whose R1 ends in a two-colour sequencer's poly-G tail count as the pairs without it",
  ignore: unavailable !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-polyg-" });
    try {
      using db = await Database.build({ resfinder: RF });
      const allele = "blaTEM-1B_1_AY458016";
      const gene = await fastaRecord(BETA, allele);
      const want = await genes(db, dir, pairs(gene, 300));
      assert.deepEqual(want.map((g) => g.allele), [allele]);
      for (const [g, mix] of [[10, 0], [30, 0], [50, 0], [48, 16]]) {
        const got = await genes(db, dir, pairs(gene, 300, polyG(g, mix)));
        const what = `${g} G's (an A every ${mix}): ${JSON.stringify(got)}`;
        assert.deepEqual(
          got.map((x) => [x.allele, x.reads, x.identity]),
          [[allele, want[0].reads, 100]],
          what,
        );
        // the tail's bases were not read from the gene: depth falls by them, and only by them
        const lost = g * want[0].reads / gene.length;
        assert.ok(Math.abs(want[0].depth - got[0].depth - lost) < 0.02 * want[0].depth, what);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
