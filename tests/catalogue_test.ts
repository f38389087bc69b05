/**
 * The whole PointFinder catalogue, row by row: each row's change (its first and its last listed allele) is
 * planted in its gene, every species in turn, and reads tiled over that one gene must call exactly that row, by
 * the label the row's own columns give. Found, when first run: 12-base deletions (rpoB 1300delATGGACCAGAAC,
 * katG 358del12) went uncalled (their key did not fit), and frameshifts near a codon gave substitutions from the
 * few reads ending just past them (pncA 172delT gave F58L and F58S).
 *
 * Rows left out: those whose reference disagrees with the gene file (build warnings; reads that agree with the
 * file show there as `uncatalogued`), bases written as N (M. tuberculosis pncA 369ins of 18 N), M. tuberculosis
 * ethA's (its gene file holds embA's sequence: left out of the index) and two insertions the README lists.
 */
import assert from "node:assert/strict";
import { Database, type EngineResult } from "../ffi/mod.ts";
import { analyzeReads, engineUnavailable, PF, RF, tilePairs } from "./reads.ts";
import * as sim from "./sim.ts";

const unavailable = engineUnavailable("catalogue_test", `${PF}/escherichia_coli/genes.txt`);

const text = async (path: string) => new TextDecoder().decode(await sim.readMaybeGz(path));

/** The 64 codons, in order. */
const CODONS = [..."ACGT"].flatMap((x) => [..."ACGT"].flatMap((y) => [..."ACGT"].map((z) => x + y + z)));
/** A codon for amino acid `aa` other than `not`, the same one every time. */
const codonFor = (aa: string, not = "") => CODONS.find((c) => sim.translateCodon(c) === aa && c !== not);

/** The band of the engine's gapped alignment: a longer amino-acid insertion is not seen (README, limits); longer
 * nucleotide indels are, through variant targets (their bases are known). */
const BAND = 12;

interface Plant {
  label: string;
  mutant: string;
  row: string;
}

/** The planted sequence and expected label for one allele of one catalogue row, or why it is left out. */
function plant(f: string[], seq: string, promoter: number, alt: string): Plant | string {
  const pos = Number(f[3]);
  const row = f.slice(0, 7).join(" ");
  const nucIndex = pos < 0 ? promoter + pos : promoter + pos - 1;
  if (f[5] === "ins" && f[1] === "AA" && pos > 0) { // amino acids inserted after residue pos
    const after = promoter + pos * 3;
    const residue = (k: number) => sim.translateCodon(seq.slice(promoter + (k - 1) * 3, promoter + k * 3));
    const bases = [...alt].map((a) => codonFor(a)).join("");
    if (bases.length > BAND) return "longer than the band";
    return {
      row,
      mutant: seq.slice(0, after) + bases + seq.slice(after),
      label: `${residue(pos)}${pos}_${residue(pos + 1)}${pos + 1}ins${alt}`,
    };
  }
  if ((f[1] === "NUC" || f[5] === "ins" || f[5] === "del") && alt.includes("N")) return "bases written as N";
  if (f[5] === "ins" && f[1] === "AA") return "typed AA in a promoter"; // S. aureus pbp4 -290ins36: a build warning
  if (f[5] === "ins") {
    return {
      row,
      mutant: seq.slice(0, nucIndex + 1) + alt + seq.slice(nucIndex + 1),
      label: `n.${pos}_${pos === -1 ? 1 : pos + 1}ins${alt}`,
    };
  }
  if (f[5] === "del" || f[6].includes("del")) {
    // most rows number a deletion by its first base, a few by the base before it
    const at = seq.startsWith(alt, nucIndex)
      ? nucIndex
      : seq.startsWith(alt, nucIndex + 1)
      ? nucIndex + 1
      : -1;
    if (at < 0) return "reference disagrees";
    let last = pos + alt.length - 1;
    if (pos < 0 && last >= 0) last++; // promoter positions have no 0
    return {
      row,
      mutant: seq.slice(0, at) + seq.slice(at + alt.length),
      label: last === pos ? `n.${pos}del${alt}` : `n.${pos}_${last}del${alt}`,
    };
  }
  const nuc = f[1] === "NUC" ||
    (promoter > 0 && (pos < 0 || (/^[ACGT]$/.test(f[4]) && /^[ACGT](,[ACGT])*$/.test(f[6]))));
  if (nuc) {
    if (seq[nucIndex] !== f[4]) return "reference disagrees";
    return {
      row,
      mutant: seq.slice(0, nucIndex) + alt + seq.slice(nucIndex + 1),
      label: `n.${pos}${f[4]}>${alt}`,
    };
  }
  const at = promoter + (pos - 1) * 3;
  const ref = seq.slice(at, at + 3);
  if (sim.translateCodon(ref) !== f[5]) return "reference disagrees";
  const codon = codonFor(alt, ref);
  if (!codon) return "no codon";
  return { row, mutant: seq.slice(0, at) + codon + seq.slice(at + 3), label: `${f[5]}${pos}${alt}` };
}

/** Calls that may come with a planted row: another row writing the same indel (the catalogue lists some
 * twice: ampC -14/-15/-16insGT, rpoB 1275/1276del, pncA 70/71delG), and the same change in another copy of a
 * multi-copy rRNA gene (16S rrsB = rrsH, N. gonorrhoeae's four 23S). */
function mayComeWith(gene: string, planted: Plant, m: EngineResult["mutations"][number]): boolean {
  if (m.gene === gene) {
    return (m.type === "INS" || m.type === "DEL") && /(ins|del)/.test(planted.label);
  }
  return /^(16S|23S)/.test(gene) && m.gene.slice(0, 3) === gene.slice(0, 3) && m.type === "NUC";
}

Deno.test({
  name: "every PointFinder catalogue row of every species, planted in its gene, is called by its own label",
  ignore: unavailable !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-catalogue-" });
    const flank = "ACGTTGCAAGCTTCGAGGATCCTTAAGGCCTACGATCGTAGCTAGCTAGGCTAACGTTAGCATCGATCGGCTAAGCTTAGCG".repeat(
      4,
    );
    const left: Record<string, number> = {};
    let planted = 0;
    const failures: string[] = [];
    try {
      const species = [...Deno.readDirSync(PF)].filter((e) => e.isDirectory).map((e) => e.name).sort();
      assert.equal(species.length, 11);
      for (const sp of species) {
        using db = await Database.build({ resfinder: RF, pointfinder: PF, species: [sp] });
        const genes = await sim.pointFinderGenes(sp, PF);
        const rows = (await text(`${PF}/${sp}/phenotypes.txt`)).split("\n").filter((l) =>
          l && !l.startsWith("#")
        )
          .map((l) => l.split("\t"));
        for (const f of rows) {
          const gene = genes.find((g) => f[0] === g || f[0].startsWith(g + "_"));
          assert.ok(gene, `row for a gene genes.txt lists: ${f[0]} (${sp})`);
          const record = await sim.loadPointFinderGene(gene, sp, PF);
          const seq = sim.ascii(record.seq);
          const promoter = Number(/promoter-size-(\d+)bp/.exec(gene)?.[1] ?? 0);
          const alts = f[6].split(",");
          // a gene file whose header names another of the species' genes holds that gene (M. tuberculosis
          // ethA-promoter-size-74bp.fsa holds embA's): the engine leaves it out with its rows (a build warning)
          const same = (a: string, b: string) => a.replaceAll("_", "-") === b.replaceAll("_", "-");
          const named = record.name.replace(/_\d+_[^_]*$/, "");
          if (!same(named, gene) && genes.some((g) => same(g, named))) {
            left["gene file holds another gene"] = (left["gene file holds another gene"] ?? 0) + 1;
            continue;
          }
          for (const alt of new Set([alts[0], alts[alts.length - 1]])) {
            const p = plant(f, seq, promoter, alt);
            if (typeof p === "string") {
              left[p] = (left[p] ?? 0) + 1;
              continue;
            }
            planted++;
            const r = await analyzeReads(db, dir, tilePairs(flank + p.mutant + flank, "c", { step: 6 }));
            const own = r.mutations.filter((m) => m.gene === gene && m.mutation === p.label);
            const others = r.mutations.filter((m) => !own.includes(m) && !mayComeWith(gene, p, m));
            if (own.length !== 1 || own[0].frequency < 0.8 || others.length) {
              failures.push(
                `${sp} ${p.row} (${alt}): want ${p.label}, got ${
                  r.mutations.map((m) => `${m.gene} ${m.mutation} ${m.alt_reads}/${m.depth}`).join("; ") ||
                  "nothing"
                }`,
              );
            }
          }
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    assert.deepEqual(failures, [], `${failures.length} of ${planted} planted rows:\n${failures.join("\n")}`);
    assert.ok(planted > 1400, `planted ${planted}`);
    // as the README lists them: K. pneumoniae ompK37 275insSSTNGG (18 bases, any codons: longer than the band) and
    // S. aureus pbp4 -290ins (36 bases, typed AA); the nucleotide indels longer than the band (acrR 382del15, katG
    // 152del15 and 1560ins64, pncA 88del24 and 118del33) are planted and called through their variant targets
    assert.equal(left["longer than the band"], 1, JSON.stringify(left));
    assert.equal(left["typed AA in a promoter"], 1, JSON.stringify(left));
    assert.equal(left["gene file holds another gene"], 35, JSON.stringify(left)); // ethA's 35 rows
  },
});
