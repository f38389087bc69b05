/**
 * Conformance suite: the same fixtures through every engine configuration usable here must give identical
 * results: the same detections, the same counts, the same floating figures to 1e-9 relative.
 *
 * Configurations: CPU with 1 thread (the reference), CPU with 2 threads, CPU with all cores, CPU with small
 * batches, and CUDA when `engineInfo().cudaDevices > 0`.
 */

import nodeAssert from "node:assert/strict";
import { engineInfo, type EngineResult, type RunOptions } from "../ffi/mod.ts";
import {
  analyzeFixture,
  ART_SPEC,
  artFixture,
  comparable,
  type Fixture,
  fixture,
  type FixtureName,
  SPECS,
} from "./fixtures.ts";

const assert: (v: unknown, msg?: string) => asserts v = nodeAssert.ok;

/** Compares two JSON values: same shape and strings, integers equal, floats to `rel` relative. */
export function diffJson(a: unknown, b: unknown, rel = 1e-9, path = "$"): string[] {
  if (typeof a === "number" && typeof b === "number") {
    if (a === b) return [];
    const scale = Math.max(Math.abs(a), Math.abs(b));
    return Math.abs(a - b) <= rel * scale ? [] : [`${path}: ${a} != ${b}`];
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [`${path}: length ${a.length} != ${b.length}`];
    return a.flatMap((x, i) => diffJson(x, b[i], rel, `${path}[${i}]`));
  }
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
    if (ka.join() !== kb.join()) return [`${path}: keys ${ka.join(",")} != ${kb.join(",")}`];
    return ka.flatMap((k) =>
      diffJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], rel, `${path}.${k}`)
    );
  }
  return Object.is(a, b) ? [] : [`${path}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`];
}

const info = engineInfo();
const configs: { label: string; options: RunOptions }[] = [
  { label: "cpu threads=1", options: { backend: "cpu", threads: 1 } },
  { label: "cpu threads=2", options: { backend: "cpu", threads: 2 } },
  { label: "cpu threads=all", options: { backend: "cpu", threads: 0 } },
  { label: "cpu threads=2 batch=97", options: { backend: "cpu", threads: 2, batchPairs: 97 } },
  { label: "auto", options: { backend: "auto", threads: 2 } },
];
if (info.cudaDevices > 0) {
  configs.push({ label: "cuda", options: { backend: "cuda" } });
  configs.push({ label: "cuda batch=97", options: { backend: "cuda", batchPairs: 97 } });
}

const names = Object.keys(SPECS) as FixtureName[];

/** Runs a fixture through every configuration and compares each result with the first's. */
async function assertConforms(name: string, f: Fixture): Promise<void> {
  let ref: EngineResult | undefined;
  for (const c of configs) {
    const r = await analyzeFixture(f, c.options);
    if (c.options.backend === "cpu") assertEqualsBackend(r, "cpu", c.label);
    if (c.options.backend === "cuda") assertEqualsBackend(r, "cuda", c.label);
    if (c.options.threads) assert(r.engine.threads === c.options.threads, `${c.label}: engine.threads`);
    if (!ref) {
      ref = r;
      assert(r.genes.length + r.mutations.length > 0, `${name}: the fixture yields detections`);
      continue;
    }
    const d = diffJson(comparable(r), comparable(ref));
    assert(d.length === 0, `${name}, ${c.label} vs ${configs[0].label}:\n${d.slice(0, 20).join("\n")}`);
  }
}

for (const name of names) {
  Deno.test(`${name}: every backend and thread count gives identical results (${configs.map((c) => c.label).join(", ")})`, async () => {
    await assertConforms(name, await fixture(name));
  });
}

Deno.test("ART reads (three read lengths, indels): every backend and thread count gives identical results", async () => {
  await assertConforms("art", await artFixture(ART_SPEC));
});

function assertEqualsBackend(r: EngineResult, backend: string, label: string): void {
  assert(r.engine.backend === backend, `${label}: engine.backend is ${r.engine.backend}`);
}

Deno.test("repeated runs on one backend are identical (no order or timing dependence)", async () => {
  const f = await fixture("genes", "multigz");
  const a = await analyzeFixture(f, { backend: "cpu", threads: 2 });
  const b = await analyzeFixture(f, { backend: "cpu", threads: 2 });
  const d = diffJson(comparable(a), comparable(b), 0);
  assert(d.length === 0, d.join("\n"));
});

Deno.test("the scalar forms give the SIMD forms' results (a process with BIOGPU_NO_SIMD=1)", async () => {
  for (const name of ["genes", "pointfinder"] as FixtureName[]) {
    const f = await fixture(name);
    const simd = comparable(await analyzeFixture(f, { backend: "cpu", threads: 2 }));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./simd_child.ts", import.meta.url).pathname, f.r1, f.r2],
      env: { BIOGPU_NO_SIMD: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(out.success, `${name}: child failed: ${new TextDecoder().decode(out.stderr).slice(-2000)}`);
    const scalar = JSON.parse(new TextDecoder().decode(out.stdout));
    assert(simd.genes.length + simd.mutations.length > 0, `${name}: the fixture yields detections`);
    const d = diffJson(scalar, simd, 0);
    assert(d.length === 0, `${name}, scalar vs SIMD:\n${d.slice(0, 20).join("\n")}`);
  }
});

Deno.test("the comparison itself flags a 1e-8 relative float difference and a changed count", () => {
  const x = { genes: [{ depth: 1.0, reads: 3 }] };
  assert(diffJson(x, { genes: [{ depth: 1.0 + 1e-12, reads: 3 }] }).length === 0);
  assert(diffJson(x, { genes: [{ depth: 1.0 + 1e-8, reads: 3 }] }).length === 1);
  assert(diffJson(x, { genes: [{ depth: 1.0, reads: 4 }] }).length === 1);
  assert(diffJson(x, { genes: [] }).length === 1);
});

if (info.cudaDevices === 0) {
  Deno.test({
    name: "cuda backend (no usable CUDA device here: not run)",
    ignore: true,
    fn() {},
  });
}
