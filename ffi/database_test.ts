// Database tests against the real engine and the installed ResFinder/PointFinder databases.
// Ignored (with the reason printed) when libbiogpu cannot be loaded.
import assert from "node:assert/strict";
import { Database, DatabaseError, engineInfo, engineStatusName, Status, statusCode } from "./mod.ts";

const RESFINDER = "/usr/share/resfinder/db";
const POINTFINDER = "/usr/share/doc/resfinder/examples/db_pointfinder";

const unavailable = (() => {
  try {
    engineInfo();
    return "";
  } catch (err) {
    return (err as Error).message;
  }
})();
if (unavailable) console.error(`database_test: engine tests ignored: ${unavailable}`);
const ignore = unavailable !== "";

function counts(info: Record<string, unknown>): Record<string, number> {
  // Integer counts only: timings (`*_seconds`) differ between build and load.
  return Object.fromEntries(
    Object.entries(info).filter(([k, v]) => Number.isInteger(v) && !k.endsWith("_seconds")),
  ) as Record<
    string,
    number
  >;
}

Deno.test({
  name: "the engine's status names match the Status mirror",
  ignore,
  fn() {
    for (const value of Object.values(Status)) assert.equal(engineStatusName(value), statusCode(value));
    assert.equal(engineStatusName(99), "BG_UNKNOWN");
  },
});

Deno.test({
  name: "engineInfo reports the ABI this code expects and a version",
  ignore,
  fn() {
    const info = engineInfo();
    assert.equal(info.abi, 2);
    assert.match(info.version, /^\d+\.\d+\.\d+/);
    assert.equal(typeof info.cudaCompiled, "boolean");
    assert.ok(info.cudaDevices >= 0);
    if (!info.cudaCompiled) assert.equal(info.cudaDevices, 0);
  },
});

Deno.test({
  name: "a database built from ResFinder and PointFinder saves and loads back with the same counts",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-db-" });
    try {
      using built = await Database.build({
        resfinder: RESFINDER,
        pointfinder: POINTFINDER,
        species: ["escherichia_coli"],
      });
      const info = counts(built.info());
      assert.ok(Object.keys(info).length > 0, JSON.stringify(built.info()));
      assert.ok(Object.values(info).some((n) => n > 0), JSON.stringify(info));
      await built.save(`${dir}/amr.bgdb`);
      assert.ok((await Deno.stat(`${dir}/amr.bgdb`)).size > 0);
      using loaded = await Database.load(`${dir}/amr.bgdb`);
      assert.deepEqual(counts(loaded.info()), info);

      // A damaged index: the first half of a good one.
      const bytes = await Deno.readFile(`${dir}/amr.bgdb`);
      await Deno.writeFile(`${dir}/truncated.bgdb`, bytes.subarray(0, bytes.length >> 1));
      await assert.rejects(Database.load(`${dir}/truncated.bgdb`), (e) => {
        assert.ok(e instanceof DatabaseError, String(e));
        assert.equal(e.code, "BG_ERR_BAD_INDEX");
        assert.ok(e.message.length > 0);
        return true;
      });
      // Not an index at all.
      await Deno.writeTextFile(`${dir}/garbage.bgdb`, "this is not an index\n".repeat(100));
      await assert.rejects(
        Database.load(`${dir}/garbage.bgdb`),
        (e) => e instanceof DatabaseError && e.code === "BG_ERR_BAD_INDEX",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "building from a folder without ResFinder files is a DatabaseError",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bg-empty-" });
    try {
      await assert.rejects(Database.build({ resfinder: dir }), (e) => {
        assert.ok(e instanceof DatabaseError, String(e));
        assert.equal(e.code, "BG_ERR_BAD_DATABASE");
        return true;
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("building from a missing folder is a DatabaseError naming the path", async () => {
  await assert.rejects(Database.build({ resfinder: "/nonexistent/rf" }), (e) => {
    assert.ok(e instanceof DatabaseError);
    assert.equal(e.code, "BG_ERR_FILE_NOT_FOUND");
    assert.equal(e.message, "Cannot read ResFinder folder: directory does not exist (/nonexistent/rf)");
    return true;
  });
  await assert.rejects(
    Database.build({ resfinder: RESFINDER, pointfinder: "/nonexistent/pf" }),
    (e) => e instanceof DatabaseError && e.message.includes("/nonexistent/pf"),
  );
  await assert.rejects(
    Database.build({ resfinder: RESFINDER, species: ["a,b"] }),
    (e) => e instanceof DatabaseError && e.code === "BG_ERR_INVALID_ARGUMENT",
  );
  await assert.rejects(
    Database.load("/nonexistent/amr.bgdb"),
    (e) =>
      e instanceof DatabaseError &&
      e.message === "Cannot read database: file does not exist (/nonexistent/amr.bgdb)",
  );
});
