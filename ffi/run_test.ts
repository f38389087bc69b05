import assert from "node:assert/strict";
import { InputError, Status } from "./errors.ts";
import {
  decodeProgress,
  decodeRunOptions,
  encodeRunOptions,
  PROGRESS_LAYOUT,
  RUN_OPTIONS_LAYOUT,
  type RunOptions,
} from "./run.ts";

const HEADER_DIR = new URL("../cuda/include/", import.meta.url).pathname;

/** Compiles and runs a C program against cuda/include/biogpu.h; returns its stdout. */
async function runC(source: string, stdin?: Uint8Array): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "bg-layout-" });
  try {
    await Deno.writeTextFile(`${dir}/t.c`, source);
    const cc = await new Deno.Command("cc", {
      args: ["-std=c99", "-Wall", "-Werror", "-I", HEADER_DIR, "-o", `${dir}/t`, `${dir}/t.c`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(cc.code, 0, new TextDecoder().decode(cc.stderr));
    const child = new Deno.Command(`${dir}/t`, { stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
    const w = child.stdin.getWriter();
    if (stdin) await w.write(stdin);
    await w.close();
    const out = await child.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return out.stdout;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("bg_run_options_t and bg_progress_t offsets match the C compiler", async () => {
  const out = await runC(`
#include <stdio.h>
#include <stddef.h>
#include "biogpu.h"
#define O(T, f) printf("\\"%s\\":%zu,", #f, offsetof(T, f))
int main(void) {
  printf("{\\"opts\\":{");
  O(bg_run_options_t, size); O(bg_run_options_t, backend); O(bg_run_options_t, threads);
  O(bg_run_options_t, device_id); O(bg_run_options_t, min_identity); O(bg_run_options_t, min_coverage);
  O(bg_run_options_t, min_depth); O(bg_run_options_t, min_allele_freq); O(bg_run_options_t, min_alt_reads);
  O(bg_run_options_t, batch_pairs); O(bg_run_options_t, min_point_identity); O(bg_run_options_t, species);
  printf("\\"sizeof\\":%zu},\\"progress\\":{", sizeof(bg_run_options_t));
  O(bg_progress_t, size); O(bg_progress_t, stage); O(bg_progress_t, pairs_done); O(bg_progress_t, bytes_done);
  O(bg_progress_t, bytes_total); O(bg_progress_t, fraction);
  printf("\\"sizeof\\":%zu}}", sizeof(bg_progress_t));
  return 0;
}`);
  const c = JSON.parse(new TextDecoder().decode(out));
  assert.deepEqual(c.opts, { ...RUN_OPTIONS_LAYOUT });
  assert.deepEqual(c.progress, { ...PROGRESS_LAYOUT });
});

Deno.test("encodeRunOptions writes each field where C reads it and leaves unset fields alone", async () => {
  const buf = new Uint8Array(RUN_OPTIONS_LAYOUT.sizeof);
  const view = new DataView(buf.buffer);
  view.setUint32(0, 576, true);
  view.setFloat64(RUN_OPTIONS_LAYOUT.min_depth, 3, true); // a "default" that must survive
  view.setInt32(RUN_OPTIONS_LAYOUT.batch_pairs, 16384, true);
  const o: RunOptions = {
    backend: "cuda",
    threads: 7,
    deviceId: 2,
    minIdentity: 97.5,
    minCoverage: 80.25,
    minAlleleFreq: 0.125,
    minAltReads: 4,
    minPointIdentity: 92.5,
    species: ["escherichia_coli", "klebsiella"],
  };
  encodeRunOptions(o, buf);
  const out = await runC(
    `
#include <stdio.h>
#include "biogpu.h"
int main(void) {
  bg_run_options_t o;
  if (fread(&o, sizeof o, 1, stdin) != 1) return 1;
  printf("{\\"size\\":%u,\\"backend\\":%d,\\"threads\\":%d,\\"device_id\\":%d,\\"min_identity\\":%.17g,"
         "\\"min_coverage\\":%.17g,\\"min_depth\\":%.17g,\\"min_allele_freq\\":%.17g,\\"min_alt_reads\\":%d,"
         "\\"batch_pairs\\":%d,\\"min_point_identity\\":%.17g,\\"species\\":\\"%s\\"}", o.size, o.backend, o.threads,
         o.device_id, o.min_identity, o.min_coverage, o.min_depth, o.min_allele_freq, o.min_alt_reads,
         o.batch_pairs, o.min_point_identity, o.species);
  return 0;
}`,
    buf,
  );
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out)), {
    size: 576,
    backend: 2,
    threads: 7,
    device_id: 2,
    min_identity: 97.5,
    min_coverage: 80.25,
    min_depth: 3,
    min_allele_freq: 0.125,
    min_alt_reads: 4,
    batch_pairs: 16384,
    min_point_identity: 92.5,
    species: "escherichia_coli,klebsiella",
  });
  assert.deepEqual(decodeRunOptions(buf), { size: 576, ...o, minDepth: 3, batchPairs: 16384 });
});

Deno.test("decodeProgress reads a bg_progress_t filled by C", async () => {
  const out = await runC(`
#include <stdio.h>
#include "biogpu.h"
int main(void) {
  bg_progress_t p = { sizeof(bg_progress_t), BG_STAGE_QUANTIFYING, 123456789012ull, 5000000000ull,
                      9000000000ull, 0.5625 };
  fwrite(&p, sizeof p, 1, stdout);
  return 0;
}`);
  assert.equal(out.length, PROGRESS_LAYOUT.sizeof);
  assert.deepEqual(decodeProgress(out), {
    stage: "quantifying",
    pairsDone: 123456789012,
    bytesDone: 5000000000,
    bytesTotal: 9000000000,
    fraction: 0.5625,
  });
});

Deno.test("encodeRunOptions rejects non-integer counts and unknown backends with InputError naming the option", () => {
  const buf = new Uint8Array(RUN_OPTIONS_LAYOUT.sizeof);
  const invalid = (e: unknown, name: string) =>
    e instanceof InputError && e.status === Status.INVALID_ARGUMENT && e.code === "BG_ERR_INVALID_ARGUMENT" &&
    e.message.includes(name);
  assert.throws(() => encodeRunOptions({ threads: 2.5 }, buf), (e) => invalid(e, "threads"));
  assert.throws(() => encodeRunOptions({ batchPairs: 2 ** 31 }, buf), (e) => invalid(e, "batchPairs"));
  assert.throws(() => encodeRunOptions({ minIdentity: NaN }, buf), (e) => invalid(e, "minIdentity"));
  assert.throws(
    () => encodeRunOptions({ backend: "gpu" as RunOptions["backend"] }, buf),
    (e) => invalid(e, "backend"),
  );
  assert.throws(() => encodeRunOptions({ species: ["escherichia coli"] }, buf), (e) => invalid(e, "species"));
  assert.throws(() => encodeRunOptions({ species: ["a,b"] }, buf), (e) => invalid(e, "species"));
  assert.throws(
    () => encodeRunOptions({ species: ["x".repeat(512)] }, buf),
    (e) => invalid(e, "at most 511"),
  );
  assert.throws(() => encodeRunOptions({}, new Uint8Array(40)), RangeError);
});
