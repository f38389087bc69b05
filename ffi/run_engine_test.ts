// Run tests against the real engine (plumbing only: detection is tested in tests/).
// Ignored (with the reason printed) when libbiogpu cannot be loaded.
import assert from "node:assert/strict";
import { CancelledError, Database, engineInfo, InputError, Run } from "./mod.ts";
import { runOptionsStruct } from "./run.ts";

const unavailable = (() => {
  try {
    engineInfo();
    return "";
  } catch (err) {
    return (err as Error).message;
  }
})();
if (unavailable) console.error(`run_engine_test: engine tests ignored: ${unavailable}`);
const ignore = unavailable !== "";

Deno.test({
  name: "bg_run_options_check rejects an out-of-range threshold with InputError naming the field",
  ignore,
  fn() {
    runOptionsStruct({ minIdentity: 95, threads: 1 });
    assert.throws(() => runOptionsStruct({ minIdentity: 150 }), (e) => {
      assert.ok(e instanceof InputError, String(e));
      assert.equal(e.code, "BG_ERR_INVALID_ARGUMENT");
      assert.match(e.message, /identity/i);
      return true;
    });
    assert.throws(
      () => runOptionsStruct({ threads: -3 }),
      (e) => e instanceof InputError && /thread/i.test(e.message),
    );
  },
});

Deno.test({
  name: "a run reports idle progress, refuses a missing R1 with its path, and closes idempotently",
  ignore,
  async fn() {
    using db = await Database.build({ resfinder: "/usr/share/resfinder/db" });
    const run = new Run(db);
    assert.deepEqual(run.progress(), {
      stage: "idle",
      pairsDone: 0,
      bytesDone: 0,
      bytesTotal: 0,
      fraction: 0,
    });
    await assert.rejects(run.analyze("/nonexistent/x_R1.fq", "/nonexistent/x_R2.fq"), (e) => {
      assert.ok(e instanceof InputError);
      assert.equal(e.code, "BG_ERR_FILE_NOT_FOUND");
      assert.equal(e.message, "Cannot read R1: file does not exist (/nonexistent/x_R1.fq)");
      return true;
    });
    // Closing the database first only defers its free: the run still works.
    db.close();
    assert.throws(() => db.info(), /Database is closed/);
    assert.equal(run.progress().stage, "idle");
    // A cancel that arrives before the engine call starts is not lost.
    const fsa = "/usr/share/resfinder/db/beta-lactam.fsa";
    const pending = run.analyze(fsa, fsa);
    run.cancel();
    await assert.rejects(pending, CancelledError);
    assert.equal(run.busy, false);
    run.close();
    run.close();
    assert.throws(() => run.progress(), /Run is closed/);
  },
});

Deno.test({
  name:
    "analyze calls onStart once, after the engine call is made and before it settles; a throwing hook is ignored",
  ignore,
  async fn() {
    using db = await Database.build({ resfinder: "/usr/share/resfinder/db" });
    using run = new Run(db);
    const dir = await Deno.makeTempDir();
    try {
      const read = "ACGT".repeat(25);
      const fq = (mate: number) =>
        Array.from({ length: 50 }, (_, i) => `@r${i}/${mate}\n${read}\n+\n${"I".repeat(100)}\n`).join("");
      await Deno.writeTextFile(`${dir}/r1.fq`, fq(1));
      await Deno.writeTextFile(`${dir}/r2.fq`, fq(2));
      const seen: string[] = [];
      let settled = false;
      const result = run.analyze(`${dir}/r1.fq`, `${dir}/r2.fq`, { threads: 1 }, () => {
        seen.push(`busy ${run.busy}, settled ${settled}`);
        throw new Error("a hook that fails");
      });
      result.finally(() => settled = true).catch(() => {});
      const r = await result;
      assert.deepEqual(seen, ["busy true, settled false"]);
      assert.equal(r.input.read_pairs, 50);
      // refused before the engine is called (a missing input): no hook
      await assert.rejects(
        run.analyze(`${dir}/none.fq`, `${dir}/r2.fq`, {}, () => seen.push("again")),
        InputError,
      );
      assert.equal(seen.length, 1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
