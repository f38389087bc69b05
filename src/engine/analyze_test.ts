import assert from "node:assert/strict";
import { CancelledError, Database, engineInfo, InputError, type Progress } from "../../ffi/mod.ts";
import { analyzeSample, defaultSampleId } from "./analyze.ts";

Deno.test("defaultSampleId strips the folder, FASTQ suffixes and the R1 marker", () => {
  assert.equal(defaultSampleId("/data/S1_R1.fastq.gz"), "S1");
  assert.equal(defaultSampleId("S2_1.fq.gz"), "S2");
  assert.equal(defaultSampleId("run/S3_R1.fastq"), "S3");
  assert.equal(defaultSampleId("S4_1.fq"), "S4");
  assert.equal(defaultSampleId("S5_S5_L001_R1_001.fastq.gz"), "S5_S5_L001");
  assert.equal(defaultSampleId("plain.fastq.gz"), "plain");
  assert.equal(defaultSampleId("sample_R12.fastq.gz"), "sample_R12");
  assert.equal(defaultSampleId("_R1.fastq.gz"), "_R1");
});

// No engine is needed: these fail before a run is created.
const noDb = {} as Database;

Deno.test("analyzeSample with an already aborted signal rejects with CancelledError and writes nothing", async () => {
  const out = await Deno.makeTempDir();
  try {
    const ac = new AbortController();
    ac.abort(new Error("stop"));
    await assert.rejects(
      analyzeSample({ db: noDb, r1: "a", r2: "b", outDir: `${out}/x`, sampleId: "S", signal: ac.signal }),
      (e) => e instanceof CancelledError && e.code === "BG_ERR_CANCELLED",
    );
    await assert.rejects(Deno.stat(`${out}/x`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("analyzeSample refuses a sample id that would break the TSV files", async () => {
  for (const sampleId of ["", "  ", "a\tb", "a\nb"]) {
    await assert.rejects(
      analyzeSample({ db: noDb, r1: "a", r2: "b", outDir: "/nonexistent", sampleId }),
      (e) => e instanceof InputError && e.code === "BG_ERR_INVALID_ARGUMENT",
    );
  }
});

// ---- With the real engine (plumbing only; detection is tested in tests/) --------------------------------

const unavailable = (() => {
  try {
    engineInfo();
    return "";
  } catch (err) {
    return (err as Error).message;
  }
})();
if (unavailable) console.error(`analyze_test: engine tests ignored: ${unavailable}`);

/** Writes `pairs` error-free 100 bp read pairs tiled over the first allele of beta-lactam.fsa. */
async function writeReads(dir: string, pairs: number): Promise<{ r1: string; r2: string }> {
  const fsa = await Deno.readTextFile("/usr/share/resfinder/db/beta-lactam.fsa");
  const seq = fsa.split(">")[1].split("\n").slice(1).join("").toUpperCase();
  const comp: Record<string, string> = { A: "T", C: "G", G: "C", T: "A" };
  const rc = (s: string) => [...s].reverse().map((c) => comp[c] ?? "N").join("");
  let a = "", b = "";
  for (let i = 0; i < pairs; i++) {
    const start = (i * 7) % (seq.length - 250);
    const frag = seq.slice(start, start + 250);
    const q = "I".repeat(100);
    a += `@r${i}/1\n${frag.slice(0, 100)}\n+\n${q}\n`;
    b += `@r${i}/2\n${rc(frag).slice(0, 100)}\n+\n${q}\n`;
  }
  await Deno.writeTextFile(`${dir}/T_R1.fastq`, a);
  await Deno.writeTextFile(`${dir}/T_R2.fastq`, b);
  return { r1: `${dir}/T_R1.fastq`, r2: `${dir}/T_R2.fastq` };
}

Deno.test({
  name: "analyzeSample writes the four files, adds sample_id and wall time, and reports progress up to done",
  ignore: unavailable !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-analyze-" });
    try {
      const { r1, r2 } = await writeReads(dir, 200);
      using db = await Database.build({ resfinder: "/usr/share/resfinder/db" });
      const seen: Progress[] = [];
      const { result, files } = await analyzeSample({
        db,
        r1,
        r2,
        outDir: `${dir}/out`,
        sampleId: "T",
        options: { backend: "cpu", threads: 2 },
        onProgress: (p) => seen.push(p),
        progressIntervalMs: 5,
      });
      assert.equal(result.sample_id, "T");
      assert.equal(result.input.read_pairs, 200);
      assert.ok(result.timing.seconds > 0);
      assert.deepEqual(files.map((f) => f.slice(f.lastIndexOf("/") + 1)), [
        "genes.tsv",
        "mutations.tsv",
        "hamronization.tsv",
        "results.json",
      ]);
      const written = JSON.parse(await Deno.readTextFile(`${dir}/out/results.json`));
      assert.equal(written.sample_id, "T");
      assert.equal(written.timing.seconds, result.timing.seconds);
      const genes = (await Deno.readTextFile(`${dir}/out/genes.tsv`)).trimEnd().split("\n");
      assert.equal(genes.length, 1 + result.genes.length);
      assert.ok(seen.length > 0);
      assert.equal(seen.at(-1)!.stage, "done");
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i].fraction >= seen[i - 1].fraction);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "aborting analyzeSample rejects with CancelledError and leaves no results.json",
  ignore: unavailable !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-cancel-" });
    try {
      const { r1, r2 } = await writeReads(dir, 50);
      using db = await Database.build({ resfinder: "/usr/share/resfinder/db" });
      const ac = new AbortController();
      const pending = analyzeSample({ db, r1, r2, outDir: `${dir}/out`, sampleId: "T", signal: ac.signal });
      ac.abort();
      await assert.rejects(pending, CancelledError);
      await assert.rejects(Deno.stat(`${dir}/out/results.json`), Deno.errors.NotFound);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a run that fails leaves none of an earlier run's result files in its folder",
  ignore: unavailable !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-stale-" });
    try {
      const { r1, r2 } = await writeReads(dir, 100);
      using db = await Database.build({ resfinder: "/usr/share/resfinder/db" });
      const outDir = `${dir}/out`;
      const first = await analyzeSample({ db, r1, r2, outDir, sampleId: "T" });
      assert.equal(first.files.length, 4);
      // the same folder again, with an R1 whose 60th record is cut short
      const cut = (await Deno.readTextFile(r1)).split("\n").slice(0, 238).join("\n") + "\n";
      await Deno.writeTextFile(`${dir}/cut_R1.fastq`, cut);
      await assert.rejects(
        analyzeSample({ db, r1: `${dir}/cut_R1.fastq`, r2, outDir, sampleId: "T" }),
        (e) => e instanceof InputError && /truncated record|ended after/.test(e.message),
      );
      for (const name of ["results.json", "genes.tsv", "mutations.tsv", "hamronization.tsv"]) {
        await assert.rejects(Deno.stat(`${outDir}/${name}`), Deno.errors.NotFound, `${name} was left`);
      }
      assert.deepEqual([...Deno.readDirSync(outDir)], []);
      // so does one refused before the engine starts: a missing R1, or a folder given as R2
      for (const bad of [{ r1: `${dir}/nope_R1.fastq`, r2 }, { r1, r2: dir }]) {
        assert.equal((await analyzeSample({ db, r1, r2, outDir, sampleId: "T" })).files.length, 4);
        await assert.rejects(analyzeSample({ db, ...bad, outDir, sampleId: "T" }), InputError);
        assert.deepEqual([...Deno.readDirSync(outDir)], [], `after ${JSON.stringify(bad)}`);
      }
      // and a missing input with no folder yet creates none
      await assert.rejects(
        analyzeSample({ db, r1: `${dir}/nope_R1.fastq`, r2, outDir: `${dir}/new`, sampleId: "T" }),
        InputError,
      );
      await assert.rejects(Deno.stat(`${dir}/new`), Deno.errors.NotFound);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "an output folder whose path is taken by a file fails before the engine runs, as an InputError",
  ignore: unavailable !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-outfile-" });
    try {
      await Deno.writeTextFile(`${dir}/taken`, "not a folder");
      const { r1, r2 } = await writeReads(dir, 20);
      using db = await Database.build({ resfinder: "/usr/share/resfinder/db" });
      for (const outDir of [`${dir}/taken`, `${dir}/taken/sub`]) {
        const seen: Progress[] = [];
        await assert.rejects(
          analyzeSample({
            db,
            r1,
            r2,
            outDir,
            sampleId: "T",
            onProgress: (p) => seen.push(p),
          }),
          (e) =>
            e instanceof InputError && e.code === "BG_ERR_INVALID_ARGUMENT" &&
            e.message === `Cannot write results: the output folder's path is taken by a file (${outDir})`,
        );
        assert.equal(seen.length, 0); // the engine never started
      }
      assert.equal(await Deno.readTextFile(`${dir}/taken`), "not a folder");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Feeds `text` into the FIFO at `path`, then holds it open (a stalled writer) until `release` resolves. */
async function feedFifo(path: string, text: string, release: Promise<void>): Promise<void> {
  const f = await Deno.open(path, { write: true });
  try {
    const bytes = new TextEncoder().encode(text);
    for (let off = 0; off < bytes.length;) off += await f.write(bytes.subarray(off));
    await release;
  } finally {
    f.close();
  }
}

Deno.test({
  name: "FIFO input: input.bytes counts what was read; a cancel reaches a run whose writer has stalled",
  ignore: unavailable !== "",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-fifo-" });
    try {
      const { r1, r2 } = await writeReads(dir, 100);
      const [t1, t2] = [await Deno.readTextFile(r1), await Deno.readTextFile(r2)];
      using db = await Database.build({ resfinder: "/usr/share/resfinder/db" });
      const mkfifo = async (p: string) => {
        const out = await new Deno.Command("mkfifo", { args: [p] }).output();
        assert.equal(out.code, 0);
      };
      // writers that finish: the same result as the files, and the bytes that came through the pipes
      await mkfifo(`${dir}/a_R1.fq`);
      await mkfifo(`${dir}/a_R2.fq`);
      const feeders = Promise.all([
        feedFifo(`${dir}/a_R1.fq`, t1, Promise.resolve()),
        feedFifo(`${dir}/a_R2.fq`, t2, Promise.resolve()),
      ]);
      const piped = await analyzeSample({
        db,
        r1: `${dir}/a_R1.fq`,
        r2: `${dir}/a_R2.fq`,
        outDir: `${dir}/a`,
        sampleId: "T",
      });
      await feeders;
      const filed = await analyzeSample({ db, r1, r2, outDir: `${dir}/b`, sampleId: "T" });
      assert.equal(piped.result.input.read_pairs, 100);
      assert.equal(piped.result.input.bytes, t1.length + t2.length);
      assert.equal(piped.result.input.bytes, filed.result.input.bytes);
      assert.deepEqual(piped.result.genes, filed.result.genes);

      // writers that stall after their data: aborting ends the run within a second, with nothing written
      await mkfifo(`${dir}/s_R1.fq`);
      await mkfifo(`${dir}/s_R2.fq`);
      let release = () => {};
      const released = new Promise<void>((resolve) => release = resolve);
      const stalled = Promise.all([
        feedFifo(`${dir}/s_R1.fq`, t1, released),
        feedFifo(`${dir}/s_R2.fq`, t2, released),
      ]);
      const ac = new AbortController();
      const pending = analyzeSample({
        db,
        r1: `${dir}/s_R1.fq`,
        r2: `${dir}/s_R2.fq`,
        outDir: `${dir}/s`,
        sampleId: "T",
        signal: ac.signal,
      });
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      ac.abort();
      await assert.rejects(pending, CancelledError);
      const took = performance.now() - t0;
      release();
      await stalled;
      assert.ok(took < 1000, `the cancel took ${took.toFixed(0)} ms`);
      await assert.rejects(Deno.stat(`${dir}/s/results.json`), Deno.errors.NotFound);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
