/**
 * A small argv parser for the subcommands, and the mapping of errors to exit codes and messages.
 *
 * @module
 */

import { CancelledError, DatabaseError, DeviceError, InputError } from "../../ffi/mod.ts";

/** Wrong command-line use; exit code 2. */
export class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** `--help` / `-h` was given. */
export class HelpRequested extends Error {
  constructor() {
    super("Help requested");
    this.name = "HelpRequested";
  }
}

/** One flag of a subcommand. */
export interface FlagSpec {
  /** `string`, `integer`, `number`, `list` (comma-separated, repeatable) or `boolean` (no value). */
  type: "string" | "integer" | "number" | "list" | "boolean";
  required?: boolean;
  /** Allowed values of a string flag. */
  choices?: readonly string[];
  /** Inclusive bounds of a numeric flag. */
  min?: number;
  max?: number;
  /** Value placeholder in the usage text, e.g. `DIR`. */
  placeholder?: string;
  help: string;
}

type FlagValue<F extends FlagSpec> = F["type"] extends "integer" | "number" ? number
  : F["type"] extends "list" ? string[]
  : F["type"] extends "boolean" ? boolean
  : string;

/** Parsed flags: required ones are always present, others may be undefined. */
export type Flags<S extends Record<string, FlagSpec>> = {
  [K in keyof S]: S[K]["required"] extends true ? FlagValue<S[K]> : FlagValue<S[K]> | undefined;
};

function convert(name: string, spec: FlagSpec, raw: string): string | number | string[] {
  const flag = `--${name}`;
  switch (spec.type) {
    case "integer":
    case "number": {
      const n = raw.trim() === "" ? NaN : Number(raw);
      if (!Number.isFinite(n) || (spec.type === "integer" && !Number.isInteger(n))) {
        throw new UsageError(
          `${flag} expects ${spec.type === "integer" ? "an integer" : "a number"}, found "${raw}"`,
        );
      }
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        const range = spec.max === undefined
          ? `at least ${spec.min}`
          : spec.min === undefined
          ? `at most ${spec.max}`
          : `between ${spec.min} and ${spec.max}`;
        throw new UsageError(`${flag} must be ${range}, found ${raw}`);
      }
      return n;
    }
    case "list": {
      const items = raw.split(",").map((s) => s.trim());
      if (items.some((s) => s === "")) {
        throw new UsageError(`${flag} expects a comma-separated list, found "${raw}"`);
      }
      return items;
    }
    default:
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new UsageError(`${flag} must be one of ${spec.choices.join(", ")}, found "${raw}"`);
      }
      if (raw === "") throw new UsageError(`${flag} expects a value, found an empty string`);
      return raw;
  }
}

/**
 * Parses `--name value`, `--name=value` and boolean `--name` flags. Throws `UsageError` naming the flag for an
 * unknown flag, a missing value, a bad number, a repeated flag, a stray argument or a missing required flag;
 * throws `HelpRequested` for `--help` / `-h`.
 */
export function parseFlags<S extends Record<string, FlagSpec>>(argv: readonly string[], spec: S): Flags<S> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") throw new HelpRequested();
    if (!arg.startsWith("--") || arg === "--") {
      throw new UsageError(`Unexpected argument "${arg}" (flags start with --)`);
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const flag = spec[name];
    if (!flag) {
      const known = Object.keys(spec).map((k) => `--${k}`).join(", ");
      throw new UsageError(
        `Unknown flag --${name} (${known ? `expected one of ${known}` : "this command takes none"})`,
      );
    }
    let raw: string;
    if (flag.type === "boolean") {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      out[name] = true;
      continue;
    }
    if (eq >= 0) raw = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) {
        throw new UsageError(`--${name} expects a value${flag.placeholder ? ` (${flag.placeholder})` : ""}`);
      }
      raw = next;
      i++;
    }
    const value = convert(name, flag, raw);
    if (flag.type === "list") {
      out[name] = [...((out[name] as string[] | undefined) ?? []), ...(value as string[])];
    } else {
      if (name in out) throw new UsageError(`--${name} is given more than once`);
      out[name] = value;
    }
  }
  for (const [name, flag] of Object.entries(spec)) {
    if (flag.required && !(name in out)) throw new UsageError(`Missing required flag --${name}`);
  }
  return out as Flags<S>;
}

/** Usage text of a subcommand, listing its flags. */
export function usage(command: string, spec: Record<string, FlagSpec>): string {
  const rows = Object.entries(spec).map(([name, f]) => {
    const value = f.type === "boolean"
      ? ""
      : ` ${f.placeholder ?? (f.choices ? f.choices.join("|") : "VALUE")}`;
    return [`  --${name}${value}`, `${f.help}${f.required ? " (required)" : ""}`];
  });
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return `Usage: biogpu ${command} [flags]\n\nFlags:\n${
    rows.map(([l, r]) => l.padEnd(width) + r).join("\n")
  }\n`;
}

/** Exit codes: 0 ok, 1 other, 2 usage, 3 input, 4 database, 5 device, 130 cancelled. */
export const ExitCode = {
  OK: 0,
  OTHER: 1,
  USAGE: 2,
  INPUT: 3,
  DATABASE: 4,
  DEVICE: 5,
  CANCELLED: 130,
} as const;

/** The exit code for an error. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return ExitCode.USAGE;
  if (err instanceof CancelledError) return ExitCode.CANCELLED;
  if (err instanceof InputError) return ExitCode.INPUT;
  if (err instanceof DatabaseError) return ExitCode.DATABASE;
  if (err instanceof DeviceError) return ExitCode.DEVICE;
  return ExitCode.OTHER;
}

/** The one-line (or, with a cause, two-line) message for an error: `error: Cannot read R1: …`. */
export function formatError(err: unknown): string {
  if (!(err instanceof Error)) return `error: ${String(err)}`;
  let text = `error: ${err.message}`;
  if (err.message.startsWith("Cannot load") && err.cause instanceof Error) {
    text += `\n  cause: ${err.cause.message}`;
  }
  return text;
}

/** Prints the error on stderr and returns its exit code. */
export function reportError(err: unknown): number {
  console.error(formatError(err));
  return exitCodeFor(err);
}
