// PointFinder's amino-acid insertion rows (K. pneumoniae porins: ompK36 131insSG, 131insFGGD, 184insGAL,
// 234insL/P, 311insR; ompK37 238insTERY, 275insSSTNGG). Such a row names residues, not bases: any codons for
// them count, and a duplication counts wherever the alignment writes it (FGGD after residue 131 is a copy of
// residues 132-135, so after 135 it makes the same protein). Reads carrying a 9- or 12-base insertion are under
// 95 % identical to the gene column by column; they count because a gap counts once.
import assert from "node:assert/strict";
import { Database, type EngineResult } from "../ffi/mod.ts";
import { analyzeReads, engineUnavailable, PF, RF, tilePairs } from "./reads.ts";
import * as sim from "./sim.ts";

const unavailable = engineUnavailable("aa_insertion_test", `${PF}/klebsiella/ompK36.fsa`);

const gene = async (name: string) => sim.ascii((await sim.loadPointFinderGene(name, "klebsiella", PF)).seq);

/** seq with `bases` inserted after codon `codon` (1-based). */
const insertAfterCodon = (seq: string, codon: number, bases: string) =>
  seq.slice(0, codon * 3) + bases + seq.slice(codon * 3);

/** Runs `fn` with a K. pneumoniae database and a function that analyzes reads tiled over a sequence. */
async function withKlebsiella(
  fn: (
    analyze: (seq: string, copies?: [string, number][]) => Promise<EngineResult>,
    genes: Record<string, string>,
    db: Database,
  ) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "bg-aa-ins-" });
  try {
    using db = await Database.build({ resfinder: RF, pointfinder: PF, species: ["klebsiella"] });
    const genes = { ompK36: await gene("ompK36"), ompK37: await gene("ompK37") };
    // the reads of each [sequence, copies] tiled that many times (a mixture), or of seq alone
    const analyze = (seq: string, copies: [string, number][] = [[seq, 1]]) => {
      let r1 = "", r2 = "";
      copies.forEach(([s, n], k) => {
        const t = tilePairs(s, `s${k}_`, { step: 3 });
        r1 += t.r1.repeat(n);
        r2 += t.r2.repeat(n);
      });
      return analyzeReads(db, dir, { r1, r2 });
    };
    await fn(analyze, genes, db);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const aaInsSites = (r: EngineResult, gene: string) =>
  r.sites.filter((s) => s.gene === gene && s.type === "AA_INS");

Deno.test({
  name: "amino-acid insertion rows are catalogued: only S. aureus pbp4 -290 (36 bases, typed AA) is skipped",
  ignore: unavailable !== "",
  async fn() {
    using db = await Database.build({
      resfinder: RF,
      pointfinder: PF,
      species: ["klebsiella", "staphylococcus_aureus"],
    });
    const warnings = (db.info().warnings as string[]).filter((w) => /insertion/i.test(w));
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(
      warnings[0],
      /pbp4-promoter-size-304bp -290 insATTTATATG.* in staphylococcus_aureus skipped/,
    );
  },
});

Deno.test({
  name:
    "each catalogued amino-acid insertion is called from its reads, with any codons and wherever a duplication is written",
  ignore: unavailable !== "",
  async fn() {
    await withKlebsiella(async (analyze, genes) => {
      const k36 = genes.ompK36;
      const cases: {
        gene: "ompK36" | "ompK37";
        seq: string;
        label: string;
        alt: string;
        position: number;
      }[] = [
        {
          gene: "ompK36",
          seq: insertAfterCodon(k36, 131, "AGCGGT"),
          label: "E131_F132insSG",
          alt: "SG",
          position: 131,
        },
        {
          gene: "ompK36",
          seq: insertAfterCodon(k36, 131, "TCCGGC"),
          label: "E131_F132insSG",
          alt: "SG",
          position: 131,
        },
        // FGGD as a copy of the gene's own residues 132-135 (its own codons), and with other codons after 135
        {
          gene: "ompK36",
          seq: insertAfterCodon(k36, 131, k36.slice(131 * 3, 135 * 3)),
          label: "E131_F132insFGGD",
          alt: "FGGD",
          position: 131,
        },
        {
          gene: "ompK36",
          seq: insertAfterCodon(k36, 135, "TTTGGAGGTGAC"),
          label: "E131_F132insFGGD",
          alt: "FGGD",
          position: 131,
        },
        {
          gene: "ompK36",
          seq: insertAfterCodon(k36, 184, "GGCGCGCTG"),
          label: "T184_N185insGAL",
          alt: "GAL",
          position: 184,
        },
        {
          gene: "ompK36",
          seq: insertAfterCodon(k36, 234, "CCG"),
          label: "D234_H235insP",
          alt: "P",
          position: 234,
        },
        {
          gene: "ompK36",
          seq: insertAfterCodon(k36, 234, "TTA"),
          label: "D234_H235insL",
          alt: "L",
          position: 234,
        },
        {
          gene: "ompK36",
          seq: insertAfterCodon(k36, 311, "CGT"),
          label: "I311_L312insR",
          alt: "R",
          position: 311,
        },
        {
          gene: "ompK37",
          seq: insertAfterCodon(genes.ompK37, 238, "ACCGAACGTTAT"),
          label: "A238_R239insTERY",
          alt: "TERY",
          position: 238,
        },
      ];
      for (const c of cases) {
        const r = await analyze(c.seq);
        const calls = r.mutations.map((m) => `${m.gene} ${m.mutation} ${m.alt_reads}/${m.depth}`).join("; ");
        assert.deepEqual(r.mutations.map((m) => `${m.gene} ${m.mutation}`), [`${c.gene} ${c.label}`], calls);
        const m = r.mutations[0];
        assert.equal(m.type, "AA_INS");
        assert.equal(m.position, c.position);
        assert.equal(m.ref, "-");
        assert.equal(m.alt, c.alt);
        // these rows leave Class empty and name the class as their phenotype
        assert.equal(m.phenotype, c.gene === "ompK36" ? "Cephalosporins" : "Carbapenem");
        assert.equal(m.pmid, c.gene === "ompK36" ? "25245001" : "22282462");
        assert.ok(m.alt_reads >= 40 && m.frequency >= 0.85, calls);
        // the gene's other insertion sites stay wild type
        for (const s of aaInsSites(r, c.gene).filter((s) => s.position !== c.position)) {
          assert.equal(s.status, "wild_type", JSON.stringify(s));
        }
      }
    });
  },
});

Deno.test({
  name:
    "wild type, another insertion at the site, a frameshift, or the residues inserted elsewhere call no amino-acid insertion",
  ignore: unavailable !== "",
  async fn() {
    await withKlebsiella(async (analyze, genes) => {
      const k36 = genes.ompK36;
      for (const g of ["ompK36", "ompK37"] as const) {
        const r = await analyze(genes[g]);
        assert.deepEqual(r.mutations, []);
        const sites = aaInsSites(r, g);
        assert.equal(sites.length, g === "ompK36" ? 4 : 2, JSON.stringify(sites));
        for (const s of sites) {
          assert.equal(s.status, "wild_type", JSON.stringify(s));
          assert.deepEqual(Object.keys(s.counts), ["-"]);
          assert.ok(s.depth >= 40, JSON.stringify(s));
        }
      }
      // in frame but not catalogued (AA), and a frameshift: what the reads show, in bases (lower case)
      for (const [bases, key] of [["GCGGCA", "gcggca"], ["GC", "gc"]]) {
        const r = await analyze(insertAfterCodon(k36, 131, bases));
        assert.deepEqual(r.mutations, [], bases);
        const s131 = aaInsSites(r, "ompK36").find((s) => s.position === 131);
        assert.equal(s131?.status, "uncatalogued", JSON.stringify(s131));
        assert.ok((s131.counts[key] ?? 0) > 0.8 * s131.depth, JSON.stringify(s131));
      }
      // SG inserted after residue 150 is not 131insSG
      const r = await analyze(insertAfterCodon(k36, 150, "AGCGGT"));
      assert.deepEqual(r.mutations, []);
      assert.equal(aaInsSites(r, "ompK36").find((s) => s.position === 131)?.status, "wild_type");
    });
  },
});

Deno.test({
  name: "an amino-acid insertion in a quarter of the reads is called at that frequency (heteroresistance)",
  ignore: unavailable !== "",
  async fn() {
    await withKlebsiella(async (analyze, genes) => {
      const k36 = genes.ompK36;
      const r = await analyze(k36, [[k36, 3], [insertAfterCodon(k36, 184, "GGCGCGCTG"), 1]]);
      assert.deepEqual(r.mutations.map((m) => m.mutation), ["T184_N185insGAL"]);
      const m = r.mutations[0];
      assert.ok(Math.abs(m.frequency - 0.25) < 0.05, `frequency ${m.frequency} (${m.alt_reads}/${m.depth})`);
      assert.equal(m.alt_reads, Math.round(m.frequency * m.depth));
    });
  },
});
