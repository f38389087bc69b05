// The command line as a user runs it (a subprocess per case). None of these cases needs the engine.
import assert from "node:assert/strict";
import { engineInfo } from "../../ffi/mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", `${ROOT}main.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("an unknown command exits 2 and lists the commands", async () => {
  const r = await cli("frobnicate");
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /^error: Unknown command "frobnicate" \(expected one of db, analyze, version, serve, dlq\)/,
  );
});

Deno.test("analyze without a required flag exits 2 naming the flag", async () => {
  const r = await cli("analyze", "--r1", "a.fq", "--r2", "b.fq", "--out", "o");
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "error: Missing required flag --db\n");
  assert.equal(r.stdout, "");
});

Deno.test("analyze with a missing database file exits 4 with the path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const args = ["analyze", "--r1", "a.fq", "--r2", "b.fq", "--db", `${dir}/none.bgdb`, "--out", `${dir}/o`];
    const r = await cli(...args);
    assert.equal(r.stderr, `error: Cannot read database: file does not exist (${dir}/none.bgdb)\n`);
    assert.equal(r.code, 4);
    assert.equal((await Array.fromAsync(Deno.readDir(dir))).length, 0, "no output folder made");
    // an earlier run's results in --out are removed (results.json first), other files kept
    await Deno.mkdir(`${dir}/o`);
    for (const f of ["results.json", "genes.tsv", "mutations.tsv", "hamronization.tsv", "notes.txt"]) {
      await Deno.writeTextFile(`${dir}/o/${f}`, "earlier run");
    }
    const again = await cli(...args);
    assert.equal(again.code, 4);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(`${dir}/o`))).map((e) => e.name), ["notes.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyze --db given a folder says an index file is expected", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await cli("analyze", "--r1", "a.fq", "--r2", "b.fq", "--db", dir, "--out", `${dir}/o`);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /expected an index file made by `db build`, found a folder/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("db build with a missing ResFinder folder exits 4 with the path", async () => {
  const r = await cli("db", "build", "--resfinder", "/nonexistent/resfinder", "--out", "/tmp/x.bgdb");
  assert.equal(r.code, 4);
  assert.equal(
    r.stderr,
    "error: Cannot read ResFinder folder: directory does not exist (/nonexistent/resfinder)\n",
  );
});

Deno.test("serve, dlq and version refuse unknown or valueless flags (exit 2) before doing anything", async () => {
  // before this check, `dlq replay --jobid X` ignored the typo and replayed every dead-lettered job
  const cases: [string[], string][] = [
    [
      ["dlq", "replay", "--jobid", "x"],
      "error: Unknown flag --jobid (expected one of --config, --log-level, --job-id)",
    ],
    [["dlq", "replay", "--job-id"], "error: --job-id expects a value (ID)"],
    [
      ["dlq", "list", "--bogus"],
      "error: Unknown flag --bogus (expected one of --config, --log-level, --job-id)",
    ],
    [["serve", "--bogus"], "error: Unknown flag --bogus (expected one of --config, --log-level)"],
    [
      ["serve", "--log-level", "loud"],
      'error: --log-level must be one of debug, info, warn, error, found "loud"',
    ],
    [["version", "--bogus"], "error: Unknown flag --bogus (this command takes none)"],
  ];
  for (const [args, message] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr, `${message}\n`, args.join(" "));
    assert.equal(r.stdout, "");
  }
  const help = await cli("version", "--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: biogpu version/);
});

Deno.test("analyze and db build refuse out-of-range numbers, a blank sample id and --species alone (exit 2)", async () => {
  const base = ["analyze", "--r1", "a.fq", "--r2", "b.fq", "--db", "x.idx", "--out", "o"];
  const cases: [string[], string][] = [
    [[...base, "--threads", "100000"], "error: --threads must be between 0 and 1024, found 100000"],
    [[...base, "--batch-pairs", "10"], "error: --batch-pairs must be between 64 and 4194304, found 10"],
    [
      [...base, "--min-alt-reads", "99999999999"],
      "error: --min-alt-reads must be between 0 and 2147483647, found 99999999999",
    ],
    [
      [...base, "--sample-id", "  "],
      'error: --sample-id must be non-empty without tabs or line breaks, found "  "',
    ],
    [
      [
        "db",
        "build",
        "--resfinder",
        "/usr/share/resfinder/db",
        "--species",
        "escherichia_coli",
        "--out",
        "x.idx",
      ],
      "error: --species selects PointFinder species: it needs --pointfinder",
    ],
  ];
  for (const [args, message] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr, `${message}\n`);
  }
});

Deno.test("--help prints the flags and exits 0", async () => {
  const r = await cli("analyze", "--help");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--min-identity PCT/);
  const db = await cli("db", "build", "--help");
  assert.equal(db.code, 0);
  assert.match(db.stdout, /--resfinder DIR/);
});

const unavailable = (() => {
  try {
    engineInfo();
    return "";
  } catch (err) {
    return (err as Error).message;
  }
})();
if (unavailable) console.error(`cli_test: engine tests ignored: ${unavailable}`);

Deno.test({
  name: "db build prints a summary and analyze then refuses a missing R1 with exit 3 and the path",
  ignore: unavailable !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-cli-" });
    try {
      const built = await cli(
        "db",
        "build",
        "--resfinder",
        "/usr/share/resfinder/db",
        "--pointfinder",
        "/usr/share/doc/resfinder/examples/db_pointfinder",
        "--species",
        "escherichia_coli",
        "--out",
        `${dir}/amr.bgdb`,
      );
      assert.equal(built.code, 0, built.stderr);
      assert.match(built.stdout, new RegExp(`^Database written to ${dir}/amr\\.bgdb \\(`));
      assert.match(built.stdout, /species: escherichia_coli/);
      const r = await cli(
        "analyze",
        "--r1",
        `${dir}/x_R1.fastq.gz`,
        "--r2",
        `${dir}/x_R2.fastq.gz`,
        "--db",
        `${dir}/amr.bgdb`,
        "--out",
        `${dir}/out`,
      );
      assert.equal(r.stderr, `error: Cannot read R1: file does not exist (${dir}/x_R1.fastq.gz)\n`);
      assert.equal(r.code, 3);
      await assert.rejects(Deno.stat(`${dir}/out`), Deno.errors.NotFound);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
