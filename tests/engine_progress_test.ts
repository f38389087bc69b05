// Progress is readable while a run proceeds, and cancel stops a running analysis within 1 s.
import assert from "node:assert/strict";
import { CancelledError, Database, type Progress, Run } from "../ffi/mod.ts";
import { loadResFinder, revcomp, Rng } from "./sim.ts";

/** Writes `pairs` read pairs drawn from one allele (a slow, all-candidate sample for the mapper). */
async function writeSample(dir: string, seq: Uint8Array, pairs: number): Promise<[string, string]> {
  const rng = new Rng(11);
  const enc = new TextEncoder();
  const L = 150, q = "I".repeat(L);
  const r1: string[] = [], r2: string[] = [];
  const dec = new TextDecoder();
  for (let i = 0; i < pairs; i++) {
    const start = Math.floor(rng.next() * (seq.length - 350));
    const frag = seq.subarray(start, start + 350);
    r1.push(`@p${i} 1:N:0:A\n${dec.decode(frag.subarray(0, L))}\n+\n${q}\n`);
    r2.push(`@p${i} 2:N:0:A\n${dec.decode(revcomp(frag.subarray(350 - L)))}\n+\n${q}\n`);
  }
  const p1 = `${dir}/s_R1.fastq`, p2 = `${dir}/s_R2.fastq`;
  await Deno.writeFile(p1, enc.encode(r1.join("")));
  await Deno.writeFile(p2, enc.encode(r2.join("")));
  return [p1, p2];
}

Deno.test("progress advances during a run and cancel stops it within 1 s", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bg-progress-" });
  try {
    const alleles = await loadResFinder();
    const tem = alleles.get("blaTEM-1B_1_AY458016");
    assert.ok(tem, "blaTEM-1B is in the ResFinder database");
    const [r1, r2] = await writeSample(dir, tem.seq, 120_000);
    using db = await Database.build({ resfinder: "/usr/share/resfinder/db" });
    using run = new Run(db);
    const pending = run.analyze(r1, r2, { threads: 2, batchPairs: 4096 });
    const seen: Progress[] = [];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const p = run.progress();
      seen.push(p);
      if (p.stage === "screening" && p.pairsDone > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const last = seen.at(-1)!;
    assert.equal(last.stage, "screening", `stages seen: ${[...new Set(seen.map((p) => p.stage))]}`);
    assert.ok(last.pairsDone > 0 && last.pairsDone < 120_000, `pairs done ${last.pairsDone}`);
    assert.ok(last.bytesTotal > 0 && last.bytesDone <= last.bytesTotal);
    for (let i = 1; i < seen.length; i++) {
      assert.ok(seen[i].fraction >= seen[i - 1].fraction, "fraction never decreases");
    }
    const t0 = performance.now();
    run.cancel();
    await assert.rejects(pending, CancelledError);
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `cancelled after ${ms.toFixed(0)} ms`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
