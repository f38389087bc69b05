/**
 * BioGPU Stream command line: wiring only.
 *
 * @module
 */

import { analyzeCommand } from "./src/cli/analyze.ts";
import { dbCommand } from "./src/cli/db.ts";
import { versionCommand } from "./src/cli/version.ts";

type Command = (args: readonly string[]) => Promise<number>;

/** Subcommands. Adding one is one line. */
const commands: Record<string, Command> = {
  db: dbCommand,
  analyze: analyzeCommand,
  version: versionCommand,
  serve: async (args) => (await import("./src/service/cli.ts")).serveCommand(args),
  dlq: async (args) => (await import("./src/service/cli.ts")).dlqCommand(args),
};

const USAGE = `Usage: biogpu <command> [flags]

Commands:
  db build   Build the AMR database index from ResFinder/PointFinder folders
  analyze    Analyse one paired FASTQ sample
  serve      Run the job service (Kafka intake, Redis progress, WebSocket :8765, HTTP :8001)
  dlq        List or replay dead-lettered jobs (dlq list | dlq replay [--job-id ID])
  version    Show program and engine versions

Run "biogpu <command> --help" for the flags of a command.`;

/** Runs the command line; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`error: Unknown command "${name}" (expected one of ${Object.keys(commands).join(", ")})`);
    return 2;
  }
  return await command(rest);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
