import assert from "node:assert/strict";
import {
  genesTsv,
  HAMRONIZATION_COLUMNS,
  hamronizationTsv,
  hgvsProtein,
  hgvsProteinOf,
  mutationsTsv,
  resultsJson,
  type SampleResult,
  tsvCell,
  writeOutputs,
} from "./writers.ts";

function sample(): SampleResult {
  return {
    sample_id: "S1",
    engine: { version: "0.1.0", backend: "cpu", device: "cpu", fallback: null, threads: 2 },
    input: { read_pairs: 1000, bases: 300000, bytes: 12345 },
    timing: { seconds: 1.23 },
    options: {
      min_identity: 90,
      min_coverage: 60,
      min_depth: 3,
      min_allele_freq: 0.05,
      min_alt_reads: 2,
      min_point_identity: 95,
      species: ["escherichia_coli"],
    },
    genes: [{
      allele: "blaTEM-1B_1_AY458016",
      gene: "blaTEM-1B",
      accession: "AY458016",
      drug_class: "Beta-lactam",
      phenotype: "Amoxicillin, Ampicillin",
      mechanism: "Enzymatic inactivation",
      length: 861,
      reads: 120,
      identity: 99.88,
      coverage: 100,
      depth: 20.9,
      em_reads: 119.6,
      rpkm: 1.2e5,
      tpm: 4.1e5,
    }],
    mutations: [
      {
        species: "escherichia_coli",
        gene: "gyrA",
        reference: "gyrA_1_CP073768.1",
        mutation: "S83L",
        type: "AA",
        position: 83,
        ref: "S",
        alt: "L",
        ref_codon: "TCG",
        alt_codon: "TTG",
        depth: 30,
        alt_reads: 29,
        frequency: 0.9667,
        drug_class: "Quinolone",
        phenotype: "Ciprofloxacin, Nalidixic acid",
        pmid: "8392306",
        mechanism: "Target modification",
      },
      {
        species: "escherichia_coli",
        gene: "23S",
        reference: "23S_1_CP053604.1",
        mutation: "n.2058A>G",
        type: "NUC",
        position: 2058,
        ref: "A",
        alt: "G",
        depth: 12,
        alt_reads: 12,
        frequency: 1,
        drug_class: "Macrolide",
        phenotype: "Azithromycin\tErythromycin\nx",
        pmid: "",
        mechanism: "",
      },
    ],
    sites: [],
    drug_classes: ["Beta-lactam", "Macrolide", "Quinolone"],
  };
}

Deno.test("genes.tsv has a header and one row per gene call in JSON field order", () => {
  assert.equal(
    genesTsv(sample()),
    "sample_id\tallele\tgene\taccession\tdrug_class\tphenotype\tmechanism\tlength\treads\tidentity\tcoverage\tdepth\t" +
      "rpkm\ttpm\n" +
      "S1\tblaTEM-1B_1_AY458016\tblaTEM-1B\tAY458016\tBeta-lactam\tAmoxicillin, Ampicillin\tEnzymatic inactivation\t861\t" +
      "120\t99.88\t100\t20.9\t120000\t410000\n",
  );
});

Deno.test("mutations.tsv has one row per mutation, blanks for absent codons and sanitised tabs/newlines", () => {
  assert.equal(
    mutationsTsv(sample()),
    "sample_id\tspecies\tgene\tmutation\ttype\tposition\tref\talt\tref_codon\talt_codon\tdepth\talt_reads\t" +
      "frequency\tdrug_class\tphenotype\tpmid\tmechanism\n" +
      "S1\tescherichia_coli\tgyrA\tS83L\tAA\t83\tS\tL\tTCG\tTTG\t30\t29\t0.9667\tQuinolone\t" +
      "Ciprofloxacin, Nalidixic acid\t8392306\tTarget modification\n" +
      "S1\tescherichia_coli\t23S\tn.2058A>G\tNUC\t2058\tA\tG\t\t\t12\t12\t1\tMacrolide\tAzithromycin Erythromycin x\t\t\n",
  );
});

Deno.test("empty results still give a header-only TSV", () => {
  const r = { ...sample(), genes: [], mutations: [] };
  assert.equal(genesTsv(r).split("\n").length, 2);
  assert.equal(mutationsTsv(r), mutationsTsv(r).split("\n")[0] + "\n");
  assert.equal(hamronizationTsv(r), HAMRONIZATION_COLUMNS.join("\t") + "\n");
});

Deno.test("hamronization.tsv has the 36 hAMRonization columns and one row per gene and per mutation", () => {
  const text = hamronizationTsv(sample(), { resfinderVersion: "2.1.0", pointfinderVersion: "3.0.0" });
  assert.ok(text.endsWith("\n"));
  const lines = text.slice(0, -1).split("\n");
  assert.equal(lines.length, 4);
  const header = lines[0].split("\t");
  assert.equal(header.length, 36);
  assert.deepEqual(header.slice(0, 9), [
    "input_file_name",
    "gene_symbol",
    "gene_name",
    "reference_database_name",
    "reference_database_version",
    "reference_accession",
    "analysis_software_name",
    "analysis_software_version",
    "genetic_variation_type",
  ]);
  const rows = lines.slice(1).map((l) => {
    const cells = l.split("\t");
    assert.equal(cells.length, 36, l);
    return Object.fromEntries(header.map((h, i) => [h, cells[i]]));
  });
  assert.deepEqual(
    [rows[0].input_file_name, rows[0].gene_symbol, rows[0].gene_name, rows[0].reference_database_name],
    ["S1", "blaTEM-1B", "blaTEM-1B_1_AY458016", "resfinder"],
  );
  assert.equal(rows[0].reference_database_version, "2.1.0");
  assert.equal(rows[0].reference_accession, "AY458016");
  assert.equal(rows[0].analysis_software_name, "biogpu-stream");
  assert.equal(rows[0].analysis_software_version, "0.1.0");
  assert.equal(rows[0].genetic_variation_type, "gene_presence_detected");
  assert.equal(rows[0].sequence_identity, "99.88");
  assert.equal(rows[0].coverage_percentage, "100");
  assert.equal(rows[0].coverage_depth, "20.9");
  assert.equal(rows[0].reference_gene_length, "861");
  assert.equal(rows[0].drug_class, "Beta-lactam");
  assert.equal(rows[0].resistance_mechanism, "Enzymatic inactivation");
  assert.equal(rows[1].resistance_mechanism, "Target modification");
  assert.equal(rows[2].resistance_mechanism, "");
  assert.equal(rows[1].genetic_variation_type, "protein_variant_detected");
  assert.equal(rows[1].amino_acid_mutation, "p.Ser83Leu");
  assert.equal(rows[1].nucleotide_mutation, "");
  assert.equal(rows[1].reference_database_name, "pointfinder");
  assert.equal(rows[1].reference_database_version, "3.0.0");
  assert.deepEqual([rows[1].gene_symbol, rows[1].gene_name, rows[1].reference_accession], [
    "gyrA",
    "gyrA_1_CP073768.1",
    "CP073768.1",
  ]);
  assert.equal(rows[2].genetic_variation_type, "nucleotide_variant_detected");
  assert.equal(rows[2].nucleotide_mutation, "n.2058A>G");
  assert.equal(rows[2].amino_acid_mutation, "");
  assert.equal(rows[2].antimicrobial_agent, "Azithromycin Erythromycin x");
});

Deno.test("hgvsProtein uses three-letter codes and Ter for stop", () => {
  assert.equal(hgvsProtein("S", 83, "L"), "p.Ser83Leu");
  assert.equal(hgvsProtein("D", 87, "*"), "p.Asp87Ter");
  assert.equal(hgvsProtein("X", 5, "Y"), "p.X5Tyr");
});

Deno.test("an amino-acid insertion is a protein variant in HGVS form; nucleotide calls have none", () => {
  const [s83l, n2058] = sample().mutations;
  const ins = {
    ...s83l,
    gene: "ompK36",
    mutation: "E131_F132insSG",
    type: "AA_INS" as const,
    position: 131,
    ref: "-",
    alt: "SG",
  };
  assert.equal(hgvsProteinOf(ins), "p.Glu131_Phe132insSerGly");
  assert.equal(hgvsProteinOf({ ...ins, mutation: "A238_R239insTERY" }), "p.Ala238_Arg239insThrGluArgTyr");
  assert.equal(hgvsProteinOf(s83l), "p.Ser83Leu");
  assert.equal(hgvsProteinOf(n2058), undefined);
  const r = sample();
  r.mutations = [ins];
  const lines = hamronizationTsv(r).trimEnd().split("\n").map((l) => l.split("\t"));
  const [header, row] = [lines[0], lines[lines.length - 1]]; // the genes' rows, then the mutation's
  const cell = (name: string) => row[header.indexOf(name)];
  assert.equal(cell("genetic_variation_type"), "protein_variant_detected");
  assert.equal(cell("amino_acid_mutation"), "p.Glu131_Phe132insSerGly");
  assert.equal(cell("nucleotide_mutation"), "");
});

Deno.test("tsvCell blanks missing and non-finite values and flattens line breaks", () => {
  assert.equal(tsvCell(undefined), "");
  assert.equal(tsvCell(null), "");
  assert.equal(tsvCell(NaN), "");
  assert.equal(tsvCell(Infinity), "");
  assert.equal(tsvCell(0), "0");
  assert.equal(tsvCell("a\t\tb\r\nc"), "a b c");
  assert.equal(tsvCell('"S1'), '"""S1"');
  assert.equal(tsvCell('a "b" c'), '"a ""b"" c"');
  assert.equal(tsvCell("aac(6')-Ib-cr"), "aac(6')-Ib-cr");
});

/** Cells of a TSV line read as csv readers do (a cell that starts with a quote is quoted, "" a quote in it). */
function readTsvLine(line: string): string[] {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    let cell = "";
    if (line[i] === '"') {
      for (i++; i < line.length; i++) {
        if (line[i] === '"' && line[i + 1] === '"') (cell += '"'), i++;
        else if (line[i] === '"') break;
        else cell += line[i];
      }
      i++;
    } else {
      const end = line.indexOf("\t", i);
      cell = line.slice(i, end < 0 ? line.length : end);
      i = end < 0 ? line.length : end;
    }
    cells.push(cell);
    if (line[i] !== "\t") return cells;
    i++;
  }
}

Deno.test("a sample id with double quotes reads back whole from every TSV, row for row", () => {
  for (const id of ['"S1', '"S1" run 2', 'a"b']) {
    const r = { ...sample(), sample_id: id };
    for (const [text, column] of [[genesTsv(r), "sample_id"], [hamronizationTsv(r), "input_file_name"]]) {
      const lines = text.slice(0, -1).split("\n"); // every row ends in "\n"
      const header = lines[0].split("\t");
      assert.equal(
        lines.length,
        1 + (column === "sample_id" ? r.genes.length : r.genes.length + r.mutations.length),
      );
      for (const line of lines.slice(1)) {
        const cells = readTsvLine(line);
        assert.equal(cells.length, header.length, line);
        assert.equal(cells[header.indexOf(column)], id);
      }
    }
  }
});

Deno.test("writeOutputs moves every file into place, results.json last, and leaves no temp folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/out/S1`;
    const files = await writeOutputs(out, sample());
    assert.deepEqual(files, [
      `${out}/genes.tsv`,
      `${out}/mutations.tsv`,
      `${out}/hamronization.tsv`,
      `${out}/results.json`,
    ]);
    const names = [];
    for await (const e of Deno.readDir(out)) names.push(e.name);
    assert.deepEqual(names.sort(), ["genes.tsv", "hamronization.tsv", "mutations.tsv", "results.json"]);
    const json = await Deno.readTextFile(`${out}/results.json`);
    assert.equal(json, resultsJson(sample()));
    assert.deepEqual(JSON.parse(json), sample());
    assert.equal(await Deno.readTextFile(`${out}/genes.tsv`), genesTsv(sample()));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failing write leaves no results.json (not even a stale one) and no temp folder", async () => {
  const out = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${out}/results.json`, '{"stale":true}');
    // A non-empty folder where mutations.tsv must go makes its rename fail.
    await Deno.mkdir(`${out}/mutations.tsv/blocker`, { recursive: true });
    await assert.rejects(writeOutputs(out, sample()));
    const names = [];
    for await (const e of Deno.readDir(out)) names.push(e.name);
    assert.ok(!names.includes("results.json"), names.join(","));
    assert.ok(!names.some((n) => n.startsWith(".tmp-")), names.join(","));
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("a file that cannot be written while the others are being flushed leaves nothing in place", async () => {
  const out = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${out}/results.json`, '{"stale":true}');
    // results.json cannot be serialised (a BigInt), while the three TSV files are written and flushed
    const bad = { ...sample(), timing: { seconds: 1n } } as unknown as ReturnType<typeof sample>;
    await assert.rejects(writeOutputs(out, bad), TypeError, "BigInt");
    const names = [];
    for await (const e of Deno.readDir(out)) names.push(e.name);
    assert.deepEqual(names, [], "no output file, no stale results.json and no temp folder");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
