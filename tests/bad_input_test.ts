/**
 * Bad input through the FFI: each failure rejects with its own error class and status code, with a message
 * naming the file and the problem; nothing that looks complete is left in the output folder; the process
 * and the run survive and the next good analysis works.
 */

import nodeAssert from "node:assert/strict";
import { Database, DatabaseError, type EngineError, InputError, Run } from "../ffi/mod.ts";
import { analyzeSample } from "../src/engine/analyze.ts";
import { fixture, testDatabase } from "./fixtures.ts";
import * as sim from "./sim.ts";

const assert: (v: unknown, msg?: string) => asserts v = nodeAssert.ok;
const assertEquals: <T>(a: unknown, b: T, msg?: string) => asserts a is T = nodeAssert.deepEqual;

const dir = await Deno.makeTempDir({ prefix: "bad_input_test_" });

/** A small valid sample: R1/R2 FASTQ text. */
function goodReads(pairs = 40, seed = 77): { r1: Uint8Array; r2: Uint8Array } {
  const rng = new sim.Rng(seed);
  const plan = sim.planFragments([{ name: "x", seq: sim.randomDna(rng, 3000), pairs }], { seed });
  return sim.renderAll(plan);
}

async function write(name: string, data: Uint8Array | string): Promise<string> {
  const path = `${dir}/${name}`;
  if (typeof data === "string") await Deno.writeTextFile(path, data);
  else await Deno.writeFile(path, data);
  return path;
}

interface Expect {
  cls: typeof EngineError;
  code: string;
  /** Must appear in the message (the offending file). */
  names: string;
  /** The problem, in words. */
  problem: RegExp;
}

/** Runs an analysis via analyzeSample into a fresh out dir and checks the rejection and the out dir. */
async function expectReject(r1: string, r2: string, e: Expect): Promise<void> {
  const db = await testDatabase();
  const outDir = `${dir}/out-${crypto.randomUUID()}`;
  let err: unknown;
  try {
    await analyzeSample({ db, r1, r2, outDir, sampleId: "S", options: { backend: "cpu" } });
  } catch (x) {
    err = x;
  }
  assert(err instanceof e.cls, `expected ${e.cls.name}, got ${err}`);
  assertEquals((err as EngineError).code, e.code, `code (message: ${(err as Error).message})`);
  const msg = (err as Error).message;
  assert(msg.includes(e.names.slice(e.names.lastIndexOf("/") + 1)), `message names the file: ${msg}`);
  assert(e.problem.test(msg), `message says the problem (${e.problem}): ${msg}`);
  await assertNoResults(outDir);
}

/** Nothing that looks complete in an analysis' out dir after a failure: no results.json, no tables. */
async function assertNoResults(outDir: string): Promise<void> {
  let left: string[] = [];
  try {
    for await (const x of Deno.readDir(outDir)) left.push(x.name);
  } catch {
    left = [];
  }
  assert(!left.includes("results.json"), `no results.json after a failure (found ${left.join(", ")})`);
  assert(!left.some((n) => /\.tsv$/.test(n)), `no result tables after a failure (found ${left.join(", ")})`);
}

const good = goodReads();
const goodR1 = await write("good_R1.fastq", good.r1);
const goodR2 = await write("good_R2.fastq", good.r2);

Deno.test("missing R1 rejects with BG_ERR_FILE_NOT_FOUND naming the file", async () => {
  await expectReject(`${dir}/nope_R1.fastq.gz`, goodR2, {
    cls: InputError,
    code: "BG_ERR_FILE_NOT_FOUND",
    names: "nope_R1.fastq.gz",
    problem: /not exist|not found|no such/i,
  });
});

const unreadable = await write("locked_R2.fastq", good.r2);
await Deno.chmod(unreadable, 0o000);
let rootReads = false;
try {
  (await Deno.open(unreadable)).close();
  rootReads = true;
} catch {
  rootReads = false;
}

Deno.test("unreadable R2 rejects with BG_ERR_PERMISSION_DENIED naming the file", async () => {
  if (!rootReads) {
    await expectReject(goodR1, unreadable, {
      cls: InputError,
      code: "BG_ERR_PERMISSION_DENIED",
      names: unreadable,
      problem: /permission/i,
    });
    return;
  }
  // Root reads mode-000 files (CI runs as root): the analysis runs in a child process started without the
  // capabilities that bypass file permissions (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH).
  const dbPath = `${dir}/permission.bgdb`;
  await (await testDatabase()).save(dbPath);
  const outDir = `${dir}/out-permission`;
  const child = new URL("./permission_child.ts", import.meta.url).pathname;
  const out = await new Deno.Command("setpriv", {
    args: [
      "--bounding-set=-dac_override,-dac_read_search",
      Deno.execPath(),
      "run",
      "-A",
      child,
      dbPath,
      goodR1,
      unreadable,
      outDir,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert(out.success, `the child ran (setpriv from util-linux is needed as root): ${stderr}`);
  const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "{}");
  assertEquals(r.class, "InputError", `error class (${JSON.stringify(r)})`);
  assertEquals(r.code, "BG_ERR_PERMISSION_DENIED", `code (${r.message})`);
  assert(String(r.message).includes("locked_R2.fastq"), `message names the file: ${r.message}`);
  assert(/permission/i.test(String(r.message)), `message says the problem: ${r.message}`);
  await assertNoResults(outDir);
});

Deno.test("truncated gzip rejects with BG_ERR_CORRUPT_GZIP naming the file", async () => {
  const f = await fixture("genes", "gz");
  const whole = await Deno.readFile(f.r1);
  const cut = await write("cut_R1.fastq.gz", whole.subarray(0, Math.floor(whole.length * 0.6)));
  await expectReject(cut, f.r2, {
    cls: InputError,
    code: "BG_ERR_CORRUPT_GZIP",
    names: cut,
    problem: /gzip|truncat|unexpected end|corrupt/i,
  });
  // A flipped byte inside one member of a multi-member file is a corrupt stream too.
  const mg = sim.multiGzip(good.r1, 4096);
  const flipped = mg.slice();
  flipped[Math.floor(flipped.length / 2)] ^= 0xff;
  const bad = await write("flip_R1.fastq.gz", flipped);
  await expectReject(bad, goodR2, {
    cls: InputError,
    code: "BG_ERR_CORRUPT_GZIP",
    names: bad,
    problem: /gzip|corrupt|crc|invalid|inflate/i,
  });
});

Deno.test("sequence and quality of different lengths reject with BG_ERR_MALFORMED_FASTQ", async () => {
  const lines = new TextDecoder().decode(good.r1).split("\n");
  lines[4 * 5 + 3] = lines[4 * 5 + 3].slice(0, -3); // record 6: quality 3 short
  const bad = await write("qual_R1.fastq", lines.join("\n"));
  await expectReject(bad, goodR2, {
    cls: InputError,
    code: "BG_ERR_MALFORMED_FASTQ",
    names: bad,
    problem: /quality|length/i,
  });
});

Deno.test("R1 and R2 with different record counts reject with BG_ERR_PAIR_MISMATCH", async () => {
  const lines = new TextDecoder().decode(good.r2).split("\n");
  const short = await write("short_R2.fastq", lines.slice(0, 4 * 30).join("\n") + "\n");
  await expectReject(goodR1, short, {
    cls: InputError,
    code: "BG_ERR_PAIR_MISMATCH",
    names: "short_R2.fastq",
    problem: /count|fewer|more|ends|records|reads/i,
  });
});

Deno.test("R1 and R2 with different read names reject with BG_ERR_PAIR_MISMATCH", async () => {
  const text = new TextDecoder().decode(good.r2).replace("@SIM:1:FC:1:1:7:1 ", "@OTHER:1:FC:1:1:7:1 ");
  const renamed = await write("renamed_R2.fastq", text);
  await expectReject(goodR1, renamed, {
    cls: InputError,
    code: "BG_ERR_PAIR_MISMATCH",
    names: "renamed_R2.fastq",
    problem: /name/i,
  });
});

Deno.test("empty files reject with BG_ERR_EMPTY_INPUT", async () => {
  const e1 = await write("empty_R1.fastq", "");
  const e2 = await write("empty_R2.fastq", "");
  await expectReject(e1, e2, {
    cls: InputError,
    code: "BG_ERR_EMPTY_INPUT",
    names: e1,
    problem: /empty|no reads/i,
  });
  const gz1 = await write("empty_R1.fastq.gz", sim.gzip(new Uint8Array(0)));
  const gz2 = await write("empty_R2.fastq.gz", sim.gzip(new Uint8Array(0)));
  await expectReject(gz1, gz2, {
    cls: InputError,
    code: "BG_ERR_EMPTY_INPUT",
    names: gz1,
    problem: /empty|no reads/i,
  });
});

Deno.test("binary garbage rejects with BG_ERR_MALFORMED_FASTQ", async () => {
  const rng = new sim.Rng(13);
  const junk = new Uint8Array(20000);
  for (let i = 0; i < junk.length; i++) junk[i] = rng.int(256);
  junk[0] = 0x00; // neither '@' nor a gzip magic
  const g1 = await write("junk_R1.fastq", junk);
  await expectReject(g1, goodR2, {
    cls: InputError,
    code: "BG_ERR_MALFORMED_FASTQ",
    names: g1,
    problem: /fastq|binary|header|expected/i,
  });
});

Deno.test("a database from an empty folder rejects with BG_ERR_BAD_DATABASE naming the folder", async () => {
  const empty = await Deno.makeTempDir({ dir, prefix: "emptydb_" });
  let err: unknown;
  try {
    (await Database.build({ resfinder: empty })).close();
  } catch (x) {
    err = x;
  }
  assert(err instanceof DatabaseError, `got ${err}`);
  assertEquals(err.code, "BG_ERR_BAD_DATABASE");
  assert(err.message.includes(empty.slice(empty.lastIndexOf("/") + 1)), err.message);
  assert(/fsa|fasta|no .*allele|empty|phenotypes/i.test(err.message), err.message);
});

Deno.test("a damaged or foreign index file rejects with BG_ERR_BAD_INDEX", async () => {
  const db = await testDatabase();
  const path = `${dir}/amr.bgdb`;
  await db.save(path);
  const bytes = await Deno.readFile(path);
  const cases: [string, Uint8Array][] = [
    ["truncated.bgdb", bytes.subarray(0, Math.floor(bytes.length / 2))],
    [
      "flipped.bgdb",
      (() => {
        const b = bytes.slice();
        for (let i = Math.floor(b.length / 3); i < b.length; i += 4099) b[i] ^= 0x5a;
        return b;
      })(),
    ],
    [
      "header.bgdb",
      (() => {
        const b = bytes.slice();
        b[0] ^= 0xff;
        return b;
      })(),
    ],
    ["fasta.bgdb", new TextEncoder().encode(">x\nACGT\n")],
    ["empty.bgdb", new Uint8Array(0)],
  ];
  for (const [name, data] of cases) {
    const p = await write(name, data);
    let err: unknown;
    try {
      (await Database.load(p)).close();
    } catch (x) {
      err = x;
    }
    assert(err instanceof DatabaseError, `${name}: got ${err}`);
    assertEquals(err.code, "BG_ERR_BAD_INDEX", `${name}: ${err.message}`);
    assert(err.message.includes(name), `${name}: message names the file: ${err.message}`);
  }
  // The intact file still loads.
  (await Database.load(path)).close();
});

Deno.test("after every failure the same run still analyses good input", async () => {
  const db = await testDatabase();
  using run = new Run(db);
  const junk = await write("junk2_R1.fastq", "not a fastq file\n");
  await nodeAssert.rejects(run.analyze(junk, goodR2, { backend: "cpu" }), InputError);
  await nodeAssert.rejects(run.analyze(`${dir}/absent`, goodR2, { backend: "cpu" }), InputError);
  const r = await run.analyze(goodR1, goodR2, { backend: "cpu" });
  assertEquals(r.input.read_pairs, 40);
  assertEquals(r.genes, []);
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch {
    // Best effort.
  }
});
