/**
 * `biogpu db build`: builds the AMR database index from ResFinder (and PointFinder) folders.
 *
 * @module
 */

import { Database } from "../../ffi/mod.ts";
import { type FlagSpec, HelpRequested, parseFlags, reportError, usage, UsageError } from "./args.ts";
import { formatBytes } from "../engine/progress_bar.ts";

/** Flags of `db build`. */
export const DB_BUILD_FLAGS = {
  resfinder: {
    type: "string",
    required: true,
    placeholder: "DIR",
    help: "ResFinder database folder (*.fsa)",
  },
  pointfinder: { type: "string", placeholder: "DIR", help: "PointFinder database folder (species folders)" },
  species: { type: "list", placeholder: "A,B", help: "PointFinder species to include (default: all)" },
  out: { type: "string", required: true, placeholder: "FILE", help: "Index file to write" },
  verbose: { type: "boolean", help: "Print every build warning (default: the first 5 and a count)" },
} as const satisfies Record<string, FlagSpec>;

/** Lines summarising a database's info JSON: numbers and lists as `key: value`, warnings apart. */
export function summariseInfo(info: Record<string, unknown>): { lines: string[]; warnings: string[] } {
  const lines: string[] = [];
  let warnings: string[] = [];
  for (const [key, value] of Object.entries(info)) {
    if (key === "warnings") {
      warnings = Array.isArray(value) ? value.map(String) : [String(value)];
    } else if (key.endsWith("_seconds")) {
      continue;
    } else if (typeof value === "number" || typeof value === "string") {
      lines.push(`  ${key}: ${value}`);
    } else if (Array.isArray(value)) {
      lines.push(`  ${key}: ${value.length ? value.join(", ") : "(none)"}`);
    }
  }
  return { lines, warnings };
}

/** Runs `db <subcommand> …`; returns the exit code. */
export async function dbCommand(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== "build") {
    if (sub === undefined || sub === "--help" || sub === "-h") {
      console.log(usage("db build", DB_BUILD_FLAGS));
      return sub === undefined ? 2 : 0;
    }
    return reportError(new UsageError(`Unknown db subcommand "${sub}" (expected build)`));
  }
  try {
    const flags = parseFlags(rest, DB_BUILD_FLAGS);
    if (flags.species && !flags.pointfinder) {
      throw new UsageError("--species selects PointFinder species: it needs --pointfinder");
    }
    const started = performance.now();
    using db = await Database.build({
      resfinder: flags.resfinder,
      pointfinder: flags.pointfinder,
      species: flags.species,
    });
    await db.save(flags.out);
    const seconds = (performance.now() - started) / 1000;
    const size = (await Deno.stat(flags.out)).size;
    const { lines, warnings } = summariseInfo(db.info());
    const shown = flags.verbose ? warnings : warnings.slice(0, 5);
    for (const w of shown) console.error(`warning: ${w}`);
    if (shown.length < warnings.length) {
      console.error(`warning: … and ${warnings.length - shown.length} more (use --verbose to list all)`);
    }
    console.log(`Database written to ${flags.out} (${formatBytes(size)}) in ${seconds.toFixed(1)} s`);
    for (const line of lines) console.log(line);
    return 0;
  } catch (err) {
    if (err instanceof HelpRequested) {
      console.log(usage("db build", DB_BUILD_FLAGS));
      return 0;
    }
    return reportError(err);
  }
}
