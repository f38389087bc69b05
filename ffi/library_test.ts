import assert from "node:assert/strict";
import { checkAbi, cString, libraryCandidates, readUtf8 } from "./library.ts";
import { ABI_VERSION } from "./symbols.ts";

Deno.test("checkAbi refuses a library of another ABI version with a message naming both versions", () => {
  checkAbi(ABI_VERSION, "/lib/libbiogpu.so");
  assert.throws(() => checkAbi(ABI_VERSION + 1, "/lib/libbiogpu.so"), (e) => {
    assert.ok(e instanceof Error);
    assert.match(e.message, /^Cannot use \/lib\/libbiogpu\.so: libbiogpu ABI version 3 does not match/);
    assert.match(e.message, /expects \(2\)/);
    return true;
  });
  assert.throws(() => checkAbi(1, "x", 7), /ABI version 1 does not match .* \(7\)/);
});

Deno.test("BIOGPU_LIB, when set, is the only library candidate", () => {
  const old = Deno.env.get("BIOGPU_LIB");
  try {
    Deno.env.set("BIOGPU_LIB", "/opt/x/libbiogpu.so");
    assert.deepEqual(libraryCandidates(), ["/opt/x/libbiogpu.so"]);
    Deno.env.delete("BIOGPU_LIB");
    const def = libraryCandidates();
    assert.equal(def[0], new URL("../cuda/build/libbiogpu.so", import.meta.url).pathname);
  } finally {
    if (old === undefined) Deno.env.delete("BIOGPU_LIB");
    else Deno.env.set("BIOGPU_LIB", old);
  }
});

Deno.test("a missing library gives 'Cannot load libbiogpu' with the dlopen failure as cause", async () => {
  const code = `
    import { engineInfo } from "./ffi/mod.ts";
    try { engineInfo(); console.log("loaded"); }
    catch (e) { console.log(JSON.stringify({ message: e.message, cause: e.cause?.message ?? null })); }`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    cwd: new URL("..", import.meta.url).pathname,
    env: { BIOGPU_LIB: "/nonexistent/libbiogpu.so" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.match(r.message, /^Cannot load libbiogpu: tried \/nonexistent\/libbiogpu\.so/);
  assert.match(r.cause, /nonexistent/);
});

Deno.test("cString is NUL-terminated UTF-8 and refuses embedded NULs", () => {
  assert.deepEqual([...cString("aé")], [0x61, 0xc3, 0xa9, 0]);
  assert.throws(() => cString("a\0b", "R1 path"), /R1 path must not contain a NUL/);
  const buf = cString("hello");
  assert.equal(readUtf8(Deno.UnsafePointer.of(buf)!, 5), "hello");
});
