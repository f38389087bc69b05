/**
 * Child of bad_input_test.ts's unreadable-file test when the tests run as root (CI does): started without
 * the capabilities that let root read any file, it analyses R1/R2 into OUT with the index DB and prints
 * the outcome as one JSON line (`{"ok":true}` or the error's class, code and message).
 *
 * Usage: deno run -A tests/permission_child.ts DB R1 R2 OUT
 */

import { Database, EngineError } from "../ffi/mod.ts";
import { analyzeSample } from "../src/engine/analyze.ts";

const [dbPath, r1, r2, outDir] = Deno.args;
const db = await Database.load(dbPath);
try {
  await analyzeSample({ db, r1, r2, outDir, sampleId: "S", options: { backend: "cpu" } });
  console.log(JSON.stringify({ ok: true }));
} catch (e) {
  const err = e as Error;
  console.log(JSON.stringify({
    class: err.constructor.name,
    code: e instanceof EngineError ? e.code : null,
    message: err.message,
  }));
} finally {
  db.close();
}
