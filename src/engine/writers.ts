/**
 * Output files of one sample: results.json, genes.tsv, mutations.tsv and hamronization.tsv, written so that a
 * failed or cancelled run never leaves results that look complete.
 *
 * @module
 */

import {
  allInOrder,
  type EngineResult,
  type GeneCall,
  InputError,
  type MutationCall,
  Status,
} from "../../ffi/mod.ts";

/** The engine result with the sample's id, as written to results.json. */
export type SampleResult = EngineResult & { sample_id: string };

/** Provenance written into hamronization.tsv. */
export interface HamronizationMeta {
  /** analysis_software_version; defaults to `result.engine.version`. */
  softwareVersion?: string;
  /** reference_database_version of ResFinder rows. */
  resfinderVersion?: string;
  /** reference_database_version of PointFinder rows. */
  pointfinderVersion?: string;
}

/** genes.tsv columns: `sample_id`, then the fields of a gene call in results.json. */
export const GENE_COLUMNS = [
  "sample_id",
  "allele",
  "gene",
  "accession",
  "drug_class",
  "phenotype",
  "mechanism",
  "length",
  "reads",
  "identity",
  "coverage",
  "depth",
  "rpkm",
  "tpm",
] as const;

/** mutations.tsv columns: `sample_id`, then the fields of a mutation call in results.json. */
export const MUTATION_COLUMNS = [
  "sample_id",
  "species",
  "gene",
  "mutation",
  "type",
  "position",
  "ref",
  "alt",
  "ref_codon",
  "alt_codon",
  "depth",
  "alt_reads",
  "frequency",
  "drug_class",
  "phenotype",
  "pmid",
  "mechanism",
] as const;

/** The hAMRonization (v1.1) summary columns, in the order `hamronize summarize -t tsv` writes them. */
export const HAMRONIZATION_COLUMNS = [
  "input_file_name",
  "gene_symbol",
  "gene_name",
  "reference_database_name",
  "reference_database_version",
  "reference_accession",
  "analysis_software_name",
  "analysis_software_version",
  "genetic_variation_type",
  "antimicrobial_agent",
  "coverage_percentage",
  "coverage_depth",
  "coverage_ratio",
  "drug_class",
  "input_gene_length",
  "input_gene_start",
  "input_gene_stop",
  "input_protein_length",
  "input_protein_start",
  "input_protein_stop",
  "input_sequence_id",
  "nucleotide_mutation",
  "nucleotide_mutation_interpretation",
  "predicted_phenotype",
  "predicted_phenotype_confidence_level",
  "amino_acid_mutation",
  "amino_acid_mutation_interpretation",
  "reference_gene_length",
  "reference_gene_start",
  "reference_gene_stop",
  "reference_protein_length",
  "reference_protein_start",
  "reference_protein_stop",
  "resistance_mechanism",
  "strand_orientation",
  "sequence_identity",
] as const;

type HamronizationRow = Partial<Record<(typeof HAMRONIZATION_COLUMNS)[number], string | number>>;

/** analysis_software_name in hamronization.tsv. */
export const SOFTWARE_NAME = "biogpu-stream";

/**
 * One TSV cell: tabs and line breaks become a space, missing values and non-finite numbers an empty cell, and
 * a cell holding a double quote is written quoted with its quotes doubled (`"S1` as `"""S1"`), as the csv
 * readers of pandas (hAMRonization's `summarize`), R and Python take a tab-separated file; otherwise a quote
 * at a cell's start would open a quoted field that swallows the rows after it.
 */
export function tsvCell(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  if (typeof value === "boolean" || typeof value === "bigint") return String(value);
  const text = (typeof value === "string" ? value : JSON.stringify(value)).replace(/[\t\r\n]+/g, " ");
  return text.includes('"') ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A TSV document: header row, one row per record, "\n" after every row. */
export function toTsv(columns: readonly string[], rows: readonly Record<string, unknown>[]): string {
  const lines = [columns.join("\t")];
  for (const row of rows) lines.push(columns.map((c) => tsvCell(row[c])).join("\t"));
  return lines.join("\n") + "\n";
}

/** genes.tsv text. */
export function genesTsv(result: SampleResult): string {
  return toTsv(GENE_COLUMNS, result.genes.map((g: GeneCall) => ({ sample_id: result.sample_id, ...g })));
}

/** mutations.tsv text. */
export function mutationsTsv(result: SampleResult): string {
  return toTsv(
    MUTATION_COLUMNS,
    result.mutations.map((m: MutationCall) => ({ sample_id: result.sample_id, ...m })),
  );
}

const AA3: Record<string, string> = {
  A: "Ala",
  R: "Arg",
  N: "Asn",
  D: "Asp",
  C: "Cys",
  Q: "Gln",
  E: "Glu",
  G: "Gly",
  H: "His",
  I: "Ile",
  L: "Leu",
  K: "Lys",
  M: "Met",
  F: "Phe",
  P: "Pro",
  S: "Ser",
  T: "Thr",
  W: "Trp",
  Y: "Tyr",
  V: "Val",
  "*": "Ter",
};

/** HGVS protein notation of an amino-acid substitution: S83L → `p.Ser83Leu`; unknown letters keep the one-letter form. */
export function hgvsProtein(ref: string, position: number, alt: string): string {
  const three = (aa: string) => [...aa].map((c) => AA3[c.toUpperCase()] ?? c).join("");
  return `p.${three(ref)}${position}${three(alt)}`;
}

/**
 * HGVS protein notation of a mutation call: a substitution (`S83L` → `p.Ser83Leu`) or an amino-acid insertion
 * (`E131_F132insSG` → `p.Glu131_Phe132insSerGly`); undefined for nucleotide calls.
 */
export function hgvsProteinOf(m: MutationCall): string | undefined {
  if (m.type === "AA") return hgvsProtein(m.ref, m.position, m.alt);
  if (m.type !== "AA_INS") return undefined;
  const ins = /^([A-Z*])(\d+)_([A-Z*])(\d+)ins([A-Z*]+)$/.exec(m.mutation);
  if (!ins) return undefined;
  const three = (aa: string) => [...aa].map((c) => AA3[c] ?? c).join("");
  return `p.${three(ins[1])}${ins[2]}_${three(ins[3])}${ins[4]}ins${three(ins[5])}`;
}

/** hamronization.tsv text: one row per gene call, then one per mutation call. */
export function hamronizationTsv(result: SampleResult, meta: HamronizationMeta = {}): string {
  const common = {
    input_file_name: result.sample_id,
    analysis_software_name: SOFTWARE_NAME,
    analysis_software_version: meta.softwareVersion ?? result.engine?.version ?? "",
  };
  const rows: HamronizationRow[] = [];
  for (const g of result.genes) {
    rows.push({
      ...common,
      gene_symbol: g.gene,
      gene_name: g.allele,
      reference_database_name: "resfinder",
      reference_database_version: meta.resfinderVersion ?? "",
      reference_accession: g.accession,
      genetic_variation_type: "gene_presence_detected",
      antimicrobial_agent: g.phenotype,
      coverage_percentage: g.coverage,
      coverage_depth: g.depth,
      drug_class: g.drug_class,
      predicted_phenotype: g.phenotype,
      resistance_mechanism: g.mechanism,
      reference_gene_length: g.length,
      sequence_identity: g.identity,
    });
  }
  for (const m of result.mutations) {
    const protein = hgvsProteinOf(m);
    rows.push({
      ...common,
      gene_symbol: m.gene,
      // the reference's name and accession: the same gene of two species (gyrA) stays two genes
      gene_name: m.reference,
      reference_database_name: "pointfinder",
      reference_database_version: meta.pointfinderVersion ?? "",
      reference_accession: /^.+?_\d+_(.+)$/.exec(m.reference)?.[1] ?? m.reference,
      genetic_variation_type: protein ? "protein_variant_detected" : "nucleotide_variant_detected",
      antimicrobial_agent: m.phenotype,
      coverage_depth: m.depth,
      drug_class: m.drug_class,
      nucleotide_mutation: protein ? undefined : m.mutation,
      amino_acid_mutation: protein,
      predicted_phenotype: m.phenotype,
      resistance_mechanism: m.mechanism,
    });
  }
  return toTsv(HAMRONIZATION_COLUMNS, rows);
}

/** results.json text (2-space indent, final newline). */
export function resultsJson(result: SampleResult): string {
  return JSON.stringify(result, null, 2) + "\n";
}

/** Output file names in the order they are moved into place; results.json is always last. */
export const OUTPUT_FILES = ["genes.tsv", "mutations.tsv", "hamronization.tsv", "results.json"] as const;

async function writeDurable(path: string, text: string): Promise<void> {
  using f = await Deno.open(path, { write: true, createNew: true });
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) off += await f.write(bytes.subarray(off));
  await f.syncData();
}

/** Deno's error for a path that cannot be made a folder because a file is in the way (EEXIST / ENOTDIR). */
function fileInTheWay(err: unknown): boolean {
  return err instanceof Deno.errors.AlreadyExists || err instanceof Deno.errors.NotADirectory;
}

/**
 * Makes `outDir` ready for a run, before the run starts: creates it (and its parents) and removes the output
 * files an earlier run left there (results.json first), so that a run that fails leaves nothing that looks
 * like its results, and a folder that cannot be written fails the run at once instead of after the analysis.
 * Rejects with `InputError`: `INVALID_ARGUMENT` when a file is in the way of the folder, `PERMISSION_DENIED`
 * when it cannot be written; other failures as they are.
 */
export async function prepareOutputDir(outDir: string): Promise<void> {
  await ensureOutputDir(outDir);
  await removeResults(outDir, (name, err) => {
    if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable) {
      throw new InputError(
        Status.PERMISSION_DENIED,
        `Cannot write results: an earlier run's ${name} cannot be removed: permission denied (${outDir})`,
        { cause: err },
      );
    }
    throw err;
  });
}

/**
 * Removes an earlier run's result files from `outDir` when the folder exists, creating nothing: a run that
 * fails before it may prepare its folder (a missing input or database) still leaves no earlier results there
 * that would pass for its own. Failures are ignored: the run's own error is the one reported.
 */
export async function clearEarlierResults(outDir: string): Promise<void> {
  try {
    if (!(await Deno.stat(outDir)).isDirectory) return;
  } catch {
    return; // no folder, nothing of an earlier run
  }
  await removeResults(outDir, () => {});
}

/**
 * Removes the result files in `outDir`: results.json first, alone, so that the set stops looking complete at
 * once, then the rest together (each removal is a trip to Deno's I/O threads). A file that is not there is
 * skipped; `onError` decides about other failures (it throws to fail), the first in the files' order.
 */
async function removeResults(outDir: string, onError: (name: string, err: unknown) => void): Promise<void> {
  const sep = outDir.endsWith("/") ? "" : "/";
  const remove = async (name: string) => {
    try {
      await Deno.remove(`${outDir}${sep}${name}`);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) onError(name, err);
    }
  };
  const [first, ...rest] = [...OUTPUT_FILES].reverse();
  await remove(first);
  await allInOrder(rest.map(remove));
}

/** Creates `outDir` and its parents, with the errors of {@link prepareOutputDir}; removes nothing. */
export async function ensureOutputDir(outDir: string): Promise<void> {
  try {
    await Deno.mkdir(outDir, { recursive: true });
  } catch (err) {
    if (fileInTheWay(err)) {
      throw new InputError(
        Status.INVALID_ARGUMENT,
        `Cannot write results: the output folder's path is taken by a file (${outDir})`,
        { cause: err },
      );
    }
    if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable) {
      throw new InputError(Status.PERMISSION_DENIED, `Cannot write results: permission denied (${outDir})`, {
        cause: err,
      });
    }
    const message = (err as Error).message; // Deno's names the path it tried
    throw new Error(
      `Cannot create the output folder: ${message}${message.includes(outDir) ? "" : ` (${outDir})`}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Writes every output file of `result` into `outDir` (created if needed) and returns their paths, results.json
 * last. Files are first written into `outDir/.tmp-<random>/`, flushed, then renamed into place one by one with
 * results.json renamed last (a stale results.json is removed first), so a reader that sees results.json sees a
 * complete set. On any failure the temp folder is removed and results.json is absent.
 */
export async function writeOutputs(
  outDir: string,
  result: SampleResult,
  meta: HamronizationMeta = {},
): Promise<string[]> {
  await Deno.mkdir(outDir, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: outDir, prefix: ".tmp-" });
  const contents: Record<(typeof OUTPUT_FILES)[number], () => string> = {
    "genes.tsv": () => genesTsv(result),
    "mutations.tsv": () => mutationsTsv(result),
    "hamronization.tsv": () => hamronizationTsv(result, meta),
    "results.json": () => resultsJson(result),
  };
  const sep = outDir.endsWith("/") ? "" : "/";
  try {
    // a stale results.json goes first: whatever fails below, none is left that looks like this run's
    await Deno.remove(`${outDir}${sep}results.json`).catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
    // all four written and flushed at once (their flushes share the disk's commits); every write has settled
    // before the temp folder can be removed
    const written = await Promise.allSettled(
      OUTPUT_FILES.map(async (name) => await writeDurable(`${tmp}/${name}`, contents[name]())),
    );
    const failed = written.find((w) => w.status === "rejected");
    if (failed) throw failed.reason;
    const paths: string[] = [];
    for (const name of OUTPUT_FILES) {
      const dest = `${outDir}${sep}${name}`;
      await Deno.rename(`${tmp}/${name}`, dest);
      paths.push(dest);
    }
    return paths;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
