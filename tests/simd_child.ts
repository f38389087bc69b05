/**
 * Child of conformance_test.ts's SIMD test: started with BIOGPU_NO_SIMD=1 (the engine asks the CPU's SIMD level
 * once per process), it analyses R1/R2 with the test database on the CPU, 2 threads, and prints the result
 * without what legitimately differs between runs (timing, engine, input bytes) as one JSON line.
 *
 * Usage: BIOGPU_NO_SIMD=1 deno run -A tests/simd_child.ts R1 R2
 */

import { analyzeFixture, comparable, type Fixture } from "./fixtures.ts";

const [r1, r2] = Deno.args;
const f = { name: "child", dir: "", r1, r2 } as unknown as Fixture;
console.log(JSON.stringify(comparable(await analyzeFixture(f, { backend: "cpu", threads: 2 }))));
