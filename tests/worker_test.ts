// JobWorker on the real engine, without Kafka or Redis: what a job's inputs and output folder must be, and that
// a failed job leaves nothing in its folder that looks complete (neither results nor a completion marker).
import assert from "node:assert/strict";
import { Database } from "../ffi/mod.ts";
import { engineUnavailable, RF } from "./reads.ts";
import type { Job } from "../src/jobs/schema.ts";
import { JobWorker, type JobWorkerOptions, MARKER_FILE, type ProgressSink } from "../src/jobs/worker.ts";

const unavailable = engineUnavailable("worker_test", `${RF}/beta-lactam.fsa`);

const sink: ProgressSink = { publish: () => {}, resetAttempt: () => {} };

/** A CPU worker on `db` whose progress goes nowhere; `o` overrides its options. */
function cpuWorker(db: Database, o: Partial<JobWorkerOptions> = {}): JobWorker {
  return new JobWorker({
    dbCache: { get: () => Promise.resolve(db) },
    bus: sink,
    backend: "cpu",
    threads: 1,
    deviceId: 0,
    workerId: "w",
    ...o,
  });
}

/** Runs `fn` in a fresh folder holding `pairs` read pairs, with a ResFinder database; removes the folder. */
async function withSample(
  pairs: number,
  fn: (s: { dir: string; r1: string; r2: string; db: Database }) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bg-worker-" });
  try {
    const { r1, r2 } = await writeReads(dir, pairs);
    using db = await Database.build({ resfinder: RF });
    await fn({ dir, r1, r2, db });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Error-free 100 bp pairs over the first allele of beta-lactam.fsa, in R1/R2 files under `dir`. */
async function writeReads(dir: string, pairs: number): Promise<{ r1: string; r2: string }> {
  const fsa = await Deno.readTextFile(`${RF}/beta-lactam.fsa`);
  const seq = fsa.split(">")[1].split("\n").slice(1).join("").toUpperCase();
  let a = "", b = "";
  for (let i = 0; i < pairs; i++) {
    const start = (i * 7) % (seq.length - 100);
    a += `@r${i}/1\n${seq.slice(start, start + 100)}\n+\n${"I".repeat(100)}\n`;
    b += `@r${i}/2\n${seq.slice(start, start + 100)}\n+\n${"I".repeat(100)}\n`;
  }
  await Deno.writeTextFile(`${dir}/W_R1.fastq`, a);
  await Deno.writeTextFile(`${dir}/W_R2.fastq`, b);
  return { r1: `${dir}/W_R1.fastq`, r2: `${dir}/W_R2.fastq` };
}

Deno.test({
  name: "JobWorker: FIFO inputs, and an output path taken by a file, fail at once as permanent input errors",
  ignore: unavailable !== "",
  fn: () =>
    withSample(20, async ({ dir, r1, r2, db }) => {
      const worker = cpuWorker(db);
      // nobody writes to this FIFO: had the engine opened it, the job would wait for ever
      assert.equal((await new Deno.Command("mkfifo", { args: [`${dir}/p_R1.fq`] }).output()).code, 0);
      await Deno.writeTextFile(`${dir}/taken`, "x");
      const cases: [Partial<Job>, string][] = [
        [
          { path_to_r1: `${dir}/p_R1.fq` },
          `Cannot read R1: expected a regular file, found a FIFO (named pipe) (${dir}/p_R1.fq)`,
        ],
        [
          { output_path: `${dir}/taken` },
          `Cannot write results: the output folder's path is taken by a file (${dir}/taken)`,
        ],
      ];
      for (const [change, message] of cases) {
        const job: Job = {
          job_id: "j1",
          sample_id: "S",
          path_to_r1: r1,
          path_to_r2: r2,
          output_path: `${dir}/out`,
          ...change,
        };
        const outcome = await Promise.race([
          worker.run(job, { attempt: 0 }),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the job hung")), 10_000)),
        ]);
        assert.equal(outcome.status, "failed");
        if (outcome.status !== "failed") continue;
        assert.equal(outcome.error.errorClass, "permanent");
        assert.equal(outcome.error.code, "BG_ERR_INVALID_ARGUMENT");
        assert.equal(outcome.error.message, message);
      }
    }),
});

Deno.test({
  name:
    "JobWorker: a job that fails in a folder holding another job's results leaves neither results nor marker",
  ignore: unavailable !== "",
  fn: () =>
    withSample(40, async ({ dir, r1, r2, db }) => {
      const worker = cpuWorker(db);
      const out = `${dir}/out`;
      const first = await worker.run(
        { job_id: "first", sample_id: "S", path_to_r1: r1, path_to_r2: r2, output_path: out },
        { attempt: 0 },
      );
      assert.equal(first.status, "completed");
      await Deno.stat(`${out}/${MARKER_FILE}`);
      await Deno.stat(`${out}/results.json`);
      // another job into the same folder, with R2 one record short
      const short = (await Deno.readTextFile(r2)).split("\n").slice(0, -5).join("\n") + "\n";
      await Deno.writeTextFile(`${dir}/short_R2.fastq`, short);
      const second = await worker.run(
        {
          job_id: "second",
          sample_id: "S",
          path_to_r1: r1,
          path_to_r2: `${dir}/short_R2.fastq`,
          output_path: out,
        },
        { attempt: 0 },
      );
      assert.equal(second.status, "failed");
      if (second.status === "failed") assert.equal(second.error.code, "BG_ERR_PAIR_MISMATCH");
      assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), []);
    }),
});

Deno.test({
  name:
    "JobWorker: two runs of one job in one folder at once (a redelivery while it runs): one analyses, one waits",
  ignore: unavailable !== "",
  fn: () =>
    withSample(2000, async ({ dir, r1, r2, db }) => {
      let engineRuns = 0;
      // the database arrives after `delayMs`: a run holds its folder at least that long
      const worker = (id: string, waitMs: number, delayMs = 0) =>
        cpuWorker(db, {
          dbCache: {
            get: async () => {
              engineRuns++;
              await new Promise((r) => setTimeout(r, delayMs));
              return db;
            },
          },
          workerId: id,
          outputLock: { waitMs },
        });
      const job = { job_id: "j", sample_id: "S", path_to_r1: r1, path_to_r2: r2, output_path: `${dir}/out` };
      const outcomes = await Promise.all([
        worker("a", 30_000, 300).run(job, { attempt: 0 }),
        worker("b", 30_000, 300).run(job, { attempt: 0 }),
      ]);
      assert.deepEqual(outcomes.map((o) => o.status), ["completed", "completed"]);
      const duplicates = outcomes.map((o) => o.status === "completed" && o.duplicate).sort();
      assert.deepEqual(duplicates, [false, true]);
      assert.equal(engineRuns, 1);
      assert.deepEqual([...Deno.readDirSync(`${dir}/out`)].map((e) => e.name).sort(), [
        "biogpu_job.json",
        "genes.tsv",
        "hamronization.tsv",
        "mutations.tsv",
        "results.json",
      ]);

      // another job naming the same folder while a run holds it: a transient failure once the wait ends
      const other = { ...job, job_id: "k", output_path: `${dir}/shared` };
      const [first, second] = await Promise.all([
        worker("a", 30_000, 1000).run({ ...other, job_id: "k1" }, { attempt: 0 }),
        new Promise((r) => setTimeout(r, 200)).then(() =>
          worker("b", 100).run({ ...other, job_id: "k2" }, { attempt: 0 })
        ),
      ]);
      assert.equal(first.status, "completed");
      assert.equal(second.status, "failed");
      if (second.status === "failed") {
        assert.equal(second.error.errorClass, "transient");
        assert.equal(second.error.code, "OUTPUT_BUSY");
        assert.match(second.error.message, /in use by job k1 on worker a/);
      }
    }),
});
