import assert from "node:assert/strict";
import { BUILDER_REVISION, sourcesKey } from "./db_cache.ts";

Deno.test("the cache key follows the sources' contents, the species and the builder's revision", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.fsa`, ">x_1_A\nACGT\n");
    const o = { reference: dir };
    const key = await sourcesKey(o);
    assert.match(key, /^[0-9a-f]{64}$/);
    assert.equal(await sourcesKey(o), key, "same sources, same key");
    assert.equal(await sourcesKey(o, BUILDER_REVISION), key);
    // an index built by an earlier builder is not reused: it may name alleles differently
    assert.notEqual(await sourcesKey(o, BUILDER_REVISION - 1), key);
    assert.notEqual(await sourcesKey({ reference: dir, species: ["escherichia_coli"] }), key);
    await Deno.writeTextFile(`${dir}/a.fsa`, "> x_1_A\nACGT\n");
    assert.notEqual(await sourcesKey(o), key, "a changed source file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
