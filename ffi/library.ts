/**
 * Loads libbiogpu once and checks its ABI version.
 *
 * Search order: the `BIOGPU_LIB` environment variable (when set, it is the only candidate, so a wrong
 * override is reported rather than silently replaced), then `cuda/build/libbiogpu.so` relative to this
 * module, then `libbiogpu.so` next to the executable (a `deno compile` binary shipped with the library).
 *
 * @module
 */

import { ABI_VERSION, type Symbols, symbols } from "./symbols.ts";

let loaded: { lib: Deno.DynamicLibrary<typeof symbols>; path: string } | undefined;

/** Paths tried, in order, to open libbiogpu. */
export function libraryCandidates(): string[] {
  let override: string | undefined;
  try {
    override = Deno.env.get("BIOGPU_LIB");
  } catch {
    // No --allow-env: fall through to the default locations.
  }
  if (override) return [override];
  const out: string[] = [];
  const here = new URL("../cuda/build/libbiogpu.so", import.meta.url);
  if (here.protocol === "file:") out.push(decodeURIComponent(here.pathname));
  if (Deno.build.standalone) {
    // A `deno compile` binary: the library ships next to the executable.
    try {
      const exe = Deno.execPath();
      const dir = exe.slice(0, exe.lastIndexOf("/") + 1);
      out.push(`${dir}libbiogpu.so`, `${dir}lib/libbiogpu.so`);
    } catch {
      // No --allow-read for execPath: skip.
    }
  }
  return [...new Set(out)];
}

/**
 * Refuses a library whose ABI differs from the one this code was written for.
 * `found` is `bg_abi_version()` of the library at `path`.
 */
export function checkAbi(found: number, path: string, expected: number = ABI_VERSION): void {
  if (found !== expected) {
    throw new Error(
      `Cannot use ${path}: libbiogpu ABI version ${found} does not match the version this program expects ` +
        `(${expected}); rebuild the library with \`deno task build:native\` or point BIOGPU_LIB at a matching one`,
    );
  }
}

/** Opens the library (once per process) and returns its symbols. Throws `Error("Cannot load …", { cause })`. */
export function lib(): Symbols {
  return load().lib.symbols;
}

/** Path of the loaded library (loading it when needed). */
export function libraryPath(): string {
  return load().path;
}

function load(): { lib: Deno.DynamicLibrary<typeof symbols>; path: string } {
  if (loaded) return loaded;
  const candidates = libraryCandidates();
  const failures: Error[] = [];
  for (const path of candidates) {
    let opened: Deno.DynamicLibrary<typeof symbols>;
    try {
      opened = Deno.dlopen(path, symbols);
    } catch (err) {
      failures.push(err instanceof Error ? err : new Error(String(err)));
      continue;
    }
    try {
      checkAbi(opened.symbols.bg_abi_version(), path);
    } catch (err) {
      opened.close();
      throw err;
    }
    loaded = { lib: opened, path };
    return loaded;
  }
  const cause = failures.length === 1
    ? failures[0]
    : new AggregateError(failures, failures.map((e, i) => `${candidates[i]}: ${e.message}`).join("; "));
  throw new Error(
    `Cannot load libbiogpu: tried ${candidates.join(", ") || "no path"}; build it with ` +
      "`deno task build:native` or set BIOGPU_LIB",
    { cause },
  );
}

/** Closes the library; for tests only. Handles made before must not be used afterwards. */
export function unloadForTests(): void {
  loaded?.lib.close();
  loaded = undefined;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A NUL-terminated UTF-8 copy of `s`, to pass as a `const char *` ("buffer"). Rejects embedded NULs. */
export function cString(s: string, what = "string"): Uint8Array<ArrayBuffer> {
  if (s.includes("\0")) throw new TypeError(`${what} must not contain a NUL character`);
  const bytes = encoder.encode(s);
  const buf = new Uint8Array(bytes.length + 1);
  buf.set(bytes);
  return buf;
}

/** Reads a `const char *` result; NULL reads as "". */
export function readCString(ptr: Deno.PointerValue): string {
  return ptr === null ? "" : Deno.UnsafePointerView.getCString(ptr);
}

/** Reads `len` bytes at `ptr` as UTF-8. */
export function readUtf8(ptr: Deno.PointerObject, len: number): string {
  if (len === 0) return "";
  return decoder.decode(new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, len)));
}
