// The database build against the real ResFinder and PointFinder folders, seen from results: an allele listed
// twice in phenotypes.txt keeps both rows' classes in one vocabulary, an AA-typed single-base promoter row of
// N. gonorrhoeae (macAB -48 G>T) is called from reads, as are catalogued deletions (mtrR -57delA, written
// anywhere in its run of A; rpsE 78delGTT, a row numbered by the base before the deletion), and the sources'
// versions reach db info and hamronization.tsv.
import assert from "node:assert/strict";
import { Database } from "../ffi/mod.ts";
import { analyzeSample } from "../src/engine/analyze.ts";
import { engineUnavailable, fastaRecord, PF, RF, tilePairs } from "./reads.ts";

const unavailable = engineUnavailable(
  "database_build_test",
  `${RF}/phenotypes.txt`,
  `${PF}/neisseria_gonorrhoeae/genes.txt`,
);

/** Error-free pairs over `seq`: fragments of 160-200 bases at every second start, 100-base mates, both strands. */
const tile = (seq: string, name: string) =>
  tilePairs(seq, name, { fragment: 160, spread: 41, read: 100, step: 2 });

Deno.test({
  name:
    "real database: merged allele classes, AA-typed promoter base and deletions called, versions reported",
  ignore: unavailable !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-dbbuild-" });
    try {
      using db = await Database.build({ resfinder: RF, pointfinder: PF, species: ["neisseria_gonorrhoeae"] });
      const info = db.info() as Record<string, unknown>;
      assert.equal(info.resfinder_version, "2022-05-24");
      assert.equal(info.pointfinder_version, "3.0.0");
      const warnings = info.warnings as string[];
      assert.ok(!warnings.some((w) => w.includes("deletion") || w.includes("macAB")), warnings.join("\n"));

      const macAB = await fastaRecord(
        `${PF}/neisseria_gonorrhoeae/macAB-promoter-size-225bp.fsa`,
        "macAB-promoter-size-225bp_1_AE004969.1",
      );
      const i = 225 - 48;
      assert.equal(macAB[i], "G");
      const aac = await fastaRecord(`${RF}/aminoglycoside.fsa`, "aac(6')-Ib-cr_1_DQ303918");
      const a = tile(macAB.slice(0, i) + "T" + macAB.slice(i + 1), "m");
      const b = tile(aac, "a");
      // mtrR: one A of the promoter's AAAAA run at -57 deleted (the catalogue's -57, but the last A of the run:
      // the same sequence); rpsE: GTT at bases 79-81 deleted (its row says 78)
      const mtrR = await fastaRecord(
        `${PF}/neisseria_gonorrhoeae/mtrR-promoter-size-66bp.fsa`,
        "mtrR-promoter-size-66bp_1_CP012026.1",
      );
      assert.equal(mtrR.slice(9, 14), "AAAAA");
      const rpsE = await fastaRecord(`${PF}/neisseria_gonorrhoeae/rpsE.fsa`, "rpsE_1_AP023075.1");
      assert.equal(rpsE.slice(78, 81), "GTT");
      // in a genome the promoter has bases before it: 80 made-up ones here, so reads reach -57 from both sides
      let x = 7;
      const flank = Array.from(
        { length: 80 },
        () => "ACGT"[(x = (x * 1103515245 + 12345) % 2147483648) >> 29],
      ).join("");
      const c = tile(flank + mtrR.slice(0, 13) + mtrR.slice(14), "d");
      const e = tile(rpsE.slice(0, 78) + rpsE.slice(81), "e");
      await Deno.writeTextFile(`${dir}/s_R1.fq`, a.r1 + b.r1 + c.r1 + e.r1);
      await Deno.writeTextFile(`${dir}/s_R2.fq`, a.r2 + b.r2 + c.r2 + e.r2);
      const { result } = await analyzeSample({
        db,
        r1: `${dir}/s_R1.fq`,
        r2: `${dir}/s_R2.fq`,
        outDir: `${dir}/out`,
        sampleId: "s",
        options: { backend: "cpu", threads: 2 },
      });

      const calls = result.mutations.map((m) => `${m.gene} ${m.mutation}`);
      assert.ok(calls.includes("macAB-promoter-size-225bp n.-48G>T"), calls.join("; "));
      assert.ok(calls.includes("mtrR-promoter-size-66bp n.-57delA"), calls.join("; "));
      assert.ok(calls.includes("rpsE n.78_80delGTT"), calls.join("; "));
      for (const m of result.mutations.filter((m) => m.type === "DEL")) {
        assert.ok(m.frequency > 0.97 && m.depth >= 20, `${m.gene} ${m.mutation} ${m.alt_reads}/${m.depth}`);
      }

      const gene = result.genes.find((g) => g.allele === "aac(6')-Ib-cr_1_DQ303918");
      assert.ok(gene, result.genes.map((g) => g.allele).join(", "));
      const classes = gene.drug_class.split(", ");
      assert.ok(classes.includes("Aminoglycoside") && classes.includes("Quinolone"), gene.drug_class);
      assert.ok(!classes.includes("Fluoroquinolone"), gene.drug_class);
      for (const p of ["Tobramycin", "Amikacin", "Ciprofloxacin"]) {
        assert.ok(gene.phenotype.includes(p), gene.phenotype);
      }

      // hAMRonization: each row's reference_database_version is its database's
      const [head, ...rows] = (await Deno.readTextFile(`${dir}/out/hamronization.tsv`)).trimEnd().split("\n");
      const cols = head.split("\t");
      const col = (row: string, name: string) => row.split("\t")[cols.indexOf(name)];
      const geneRow = rows.find((r) =>
        col(r, "gene_symbol") === "aac(6')-Ib-cr" || r.includes("aac(6')-Ib-cr_1")
      );
      const mutRow = rows.find((r) => r.includes("macAB"));
      assert.ok(geneRow && mutRow, rows.join("\n"));
      assert.equal(col(geneRow, "reference_database_version"), "2022-05-24");
      assert.equal(col(mutRow, "reference_database_version"), "3.0.0");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a PointFinder gene file holding another gene's sequence (M. tuberculosis ethA's holds embA's) is left out, with its rows",
  ignore: unavailable !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-dbbuild-" });
    try {
      const TB = "mycobacterium_tuberculosis";
      using db = await Database.build({ resfinder: RF, pointfinder: PF, species: [TB] });
      const warnings = (db.info().warnings as string[]).filter((w) => w.includes("ethA"));
      // one warning for the gene file and its 35 rows, none for each row ("Reference codon disagrees ...")
      assert.deepEqual(warnings, [
        "PointFinder gene file ethA-promoter-size-74bp.fsa of mycobacterium_tuberculosis holds another gene's " +
        "sequence (its header: embA-promoter-size-115bp_1_LR027516.1): the gene and its 35 catalogue rows are skipped",
      ]);
      // embA's reads (promoter and gene): embA's sites only; before, 34 ethA sites came with them, 27 of them
      // `uncatalogued` (embA's codons read as ethA changes) and 7 `wild_type`, from no ethA read at all
      const embA = await fastaRecord(
        `${PF}/${TB}/embA-promoter-size-115bp.fsa`,
        "embA-promoter-size-115bp_1_LR027516.1",
      );
      const flank = "ACGTTGCAAGCTTCGAGGATCC".repeat(10);
      const reads = tilePairs(flank + embA + flank, "e", { step: 5 });
      await Deno.writeTextFile(`${dir}/R1.fq`, reads.r1);
      await Deno.writeTextFile(`${dir}/R2.fq`, reads.r2);
      const { result } = await analyzeSample({
        db,
        r1: `${dir}/R1.fq`,
        r2: `${dir}/R2.fq`,
        outDir: `${dir}/out`,
        sampleId: "embA",
        options: { backend: "cpu", threads: 2 },
      });
      const genes = [...new Set(result.sites.map((s) => s.gene))];
      assert.deepEqual(genes, ["embA-promoter-size-115bp"]);
      assert.ok(result.sites.every((s) => s.status === "wild_type"), JSON.stringify(result.sites));
      assert.deepEqual(result.mutations, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
