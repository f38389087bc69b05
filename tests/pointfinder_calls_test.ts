// PointFinder catalogue rows that only a changed codon may call: M. tuberculosis lists synonymous changes
// (embC E187E: GAG → GAA, ethambutol), so a row's resistant amino acid can be the reference's own. Reads that
// carry the reference codon are wild type; reads with another codon for the same amino acid are the mutation.
import assert from "node:assert/strict";
import { Database, Run } from "../ffi/mod.ts";
import { engineUnavailable, PF, tilePairs } from "./reads.ts";

const unavailable = engineUnavailable("pointfinder_calls_test", `${PF}/escherichia_coli/genes.txt`);

Deno.test({
  name: "a catalogued change to the reference amino acid is called only from reads whose codon changed",
  ignore: unavailable !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-pf-" });
    try {
      const fsa = await Deno.readTextFile(`${PF}/mycobacterium_tuberculosis/embC.fsa`);
      const embC = fsa.split("\n").filter((l) => !l.startsWith(">")).join("").toUpperCase();
      const at = (187 - 1) * 3;
      assert.equal(embC.slice(at, at + 3), "GAG"); // the catalogue's reference codon (E)
      const silent = embC.slice(0, at) + "GAA" + embC.slice(at + 3);
      using db = await Database.build({
        resfinder: "/usr/share/resfinder/db",
        pointfinder: PF,
        species: ["mycobacterium_tuberculosis"],
      });
      const analyze = async (r1: string, r2: string) => {
        await Deno.writeTextFile(`${dir}/R1.fq`, r1);
        await Deno.writeTextFile(`${dir}/R2.fq`, r2);
        using run = new Run(db);
        return await run.analyze(`${dir}/R1.fq`, `${dir}/R2.fq`, { backend: "cpu", threads: 2 });
      };

      // wild type: the site is reached and wild type, and nothing is called
      const wild = tilePairs(embC, "w");
      const plain = await analyze(wild.r1, wild.r2);
      assert.deepEqual(plain.mutations, []);
      const site = plain.sites.find((s) => s.gene === "embC" && s.position === 187);
      assert.ok(site && site.depth >= 20, JSON.stringify(site));
      assert.equal(site.status, "wild_type");

      // a quarter of the reads with GAA at codon 187: E187E at that frequency, its codon named
      const mut = tilePairs(silent, "m");
      const mixed = await analyze(wild.r1 + wild.r1 + wild.r1 + mut.r1, wild.r2 + wild.r2 + wild.r2 + mut.r2);
      const calls = mixed.mutations.filter((m) => m.gene === "embC");
      assert.equal(calls.length, 1, JSON.stringify(mixed.mutations));
      assert.equal(calls[0].mutation, "E187E");
      assert.equal(calls[0].ref_codon, "GAG");
      assert.equal(calls[0].alt_codon, "GAA");
      assert.ok(Math.abs(calls[0].frequency - 0.25) < 0.03, `frequency ${calls[0].frequency}`);
      assert.equal(calls[0].alt_reads, Math.round(calls[0].frequency * calls[0].depth));
      assert.deepEqual(mixed.mutations.filter((m) => m.gene !== "embC"), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a catalogued insertion is called wherever in its repeat the alignment writes it (ampC -13_-12insGT)",
  ignore: unavailable !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-pf-" });
    try {
      const fsa = await Deno.readTextFile(`${PF}/escherichia_coli/ampC-promoter-size-53bp.fsa`);
      const ampC = fsa.split("\n").filter((l) => !l.startsWith(">")).join("").toUpperCase();
      const at = 53 - 13 + 1; // after promoter base -13 (index 40), before -12: ...CGTT|ACAA… → CGTTGTACAA…
      const mutant = ampC.slice(0, at) + "GT" + ampC.slice(at);
      // the same sequence as -14insTG, which is where a left-aligning aligner writes it
      assert.equal(mutant, ampC.slice(0, at - 1) + "TG" + ampC.slice(at - 1));
      const { r1, r2 } = tilePairs(mutant, "i", { fragment: 110, read: 80, step: 1 });
      await Deno.writeTextFile(`${dir}/R1.fq`, r1);
      await Deno.writeTextFile(`${dir}/R2.fq`, r2);
      using db = await Database.build({
        resfinder: "/usr/share/resfinder/db",
        pointfinder: PF,
        species: ["escherichia_coli"],
      });
      using run = new Run(db);
      const result = await run.analyze(`${dir}/R1.fq`, `${dir}/R2.fq`, { backend: "cpu", threads: 2 });
      const calls = result.mutations.map((m) => `${m.mutation} ${m.alt_reads}/${m.depth}`);
      assert.deepEqual(result.mutations.map((m) => m.mutation), ["n.-13_-12insGT"], calls.join("; "));
      assert.ok(result.mutations[0].frequency > 0.75, calls.join("; ")); // reads ending at the insertion cannot show it
      // the catalogue's other GT rows (-14, -15, -16: one different insertion written three ways) stay wild type
      for (const pos of [-14, -15, -16]) {
        const site = result.sites.find((s) =>
          s.gene.startsWith("ampC") && s.position === pos && s.type === "INS"
        );
        assert.equal(site?.status, "wild_type", JSON.stringify(site));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
