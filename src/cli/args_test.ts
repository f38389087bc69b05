import assert from "node:assert/strict";
import { summariseInfo } from "./db.ts";
import {
  CancelledError,
  DatabaseError,
  DeviceError,
  EngineError,
  InputError,
  Status,
} from "../../ffi/mod.ts";
import {
  exitCodeFor,
  type FlagSpec,
  formatError,
  HelpRequested,
  parseFlags,
  usage,
  UsageError,
} from "./args.ts";

const SPEC = {
  r1: { type: "string", required: true, placeholder: "FILE", help: "R1" },
  threads: { type: "integer", min: 0, help: "threads" },
  "min-identity": { type: "number", min: 0, max: 100, help: "identity" },
  backend: { type: "string", choices: ["auto", "cpu", "cuda"], help: "backend" },
  species: { type: "list", help: "species" },
  verbose: { type: "boolean", help: "verbose" },
} as const satisfies Record<string, FlagSpec>;

function usageError(argv: string[], message: string) {
  assert.throws(() => parseFlags(argv, SPEC), (e) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.equal(e.message, message);
    return true;
  });
}

Deno.test("parseFlags reads --flag value, --flag=value, lists, numbers and booleans", () => {
  const f = parseFlags(
    ["--r1", "a.fq", "--threads=4", "--min-identity", "95.5", "--species", "a,b", "--species=c", "--verbose"],
    SPEC,
  );
  assert.deepEqual(f, {
    r1: "a.fq",
    threads: 4,
    "min-identity": 95.5,
    species: ["a", "b", "c"],
    verbose: true,
  });
  assert.deepEqual(parseFlags(["--r1=-x.fq"], SPEC), { r1: "-x.fq" });
});

Deno.test("parseFlags errors name the flag and what was found", () => {
  usageError([], "Missing required flag --r1");
  usageError(["--r1"], "--r1 expects a value (FILE)");
  usageError(["--r1", "--threads", "2"], "--r1 expects a value (FILE)");
  usageError(
    ["--r1", "a", "--nope", "1"],
    "Unknown flag --nope (expected one of --r1, --threads, " +
      "--min-identity, --backend, --species, --verbose)",
  );
  usageError(["--r1", "a", "--threads", "two"], '--threads expects an integer, found "two"');
  usageError(["--r1", "a", "--threads", "1.5"], '--threads expects an integer, found "1.5"');
  usageError(["--r1", "a", "--threads", "-1"], "--threads must be at least 0, found -1");
  usageError(["--r1", "a", "--min-identity", "101"], "--min-identity must be between 0 and 100, found 101");
  usageError(["--r1", "a", "--min-identity", ""], '--min-identity expects a number, found ""');
  usageError(["--r1", "a", "--backend", "gpu"], '--backend must be one of auto, cpu, cuda, found "gpu"');
  usageError(["--r1", "a", "--r1", "b"], "--r1 is given more than once");
  usageError(["--r1", "a", "stray"], 'Unexpected argument "stray" (flags start with --)');
  usageError(["--r1", "a", "--species", "a,,b"], '--species expects a comma-separated list, found "a,,b"');
  usageError(["--r1", "a", "--verbose=yes"], "--verbose takes no value");
  assert.throws(() => parseFlags(["--r1", "a", "--help"], SPEC), HelpRequested);
});

Deno.test("usage lists every flag with its placeholder and marks required ones", () => {
  const text = usage("analyze", SPEC);
  assert.match(text, /^Usage: biogpu analyze \[flags\]/);
  assert.match(text, /--r1 FILE +R1 \(required\)/);
  assert.match(text, /--backend auto\|cpu\|cuda +backend\n/);
  assert.match(text, /--verbose +verbose/);
});

Deno.test("exit codes: 2 usage, 3 input, 4 database, 5 device, 130 cancelled, 1 other", () => {
  assert.equal(exitCodeFor(new UsageError("x")), 2);
  assert.equal(exitCodeFor(new InputError(Status.CORRUPT_GZIP, "x")), 3);
  assert.equal(exitCodeFor(new DatabaseError(Status.BAD_INDEX, "x")), 4);
  assert.equal(exitCodeFor(new DeviceError(Status.DEVICE_OOM, "x")), 5);
  assert.equal(exitCodeFor(new CancelledError()), 130);
  assert.equal(exitCodeFor(new EngineError(Status.INTERNAL, "x")), 1);
  assert.equal(exitCodeFor(new Error("x")), 1);
});

Deno.test("formatError prefixes error: and shows the cause of a load failure", () => {
  assert.equal(
    formatError(new InputError(Status.FILE_NOT_FOUND, "Cannot read R1: file does not exist (/x)")),
    "error: Cannot read R1: file does not exist (/x)",
  );
  assert.equal(
    formatError(new Error("Cannot load libbiogpu: tried /a", { cause: new Error("undefined symbol: bg_x") })),
    "error: Cannot load libbiogpu: tried /a\n  cause: undefined symbol: bg_x",
  );
});

Deno.test("db build summary lists counts and species, leaves out timings and sets warnings apart", () => {
  const { lines, warnings } = summariseInfo({
    resfinder_alleles: 3144,
    species: ["escherichia_coli", "salmonella"],
    build_seconds: 0.25,
    warnings: ["w1", "w2"],
    nested: { a: 1 },
  });
  assert.deepEqual(lines, ["  resfinder_alleles: 3144", "  species: escherichia_coli, salmonella"]);
  assert.deepEqual(warnings, ["w1", "w2"]);
});
