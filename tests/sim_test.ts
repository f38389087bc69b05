/**
 * Tests of the read simulator itself: determinism, FASTQ validity, strand and mate geometry, gzip variants,
 * the reference-data loaders and the mutation helpers.
 */

import nodeAssert from "node:assert/strict";
import * as sim from "./sim.ts";
import { planFixture, refIndex, SPECS } from "./fixtures.ts";
import { gunzipSync } from "node:zlib";

const assert: (v: unknown, msg?: string) => asserts v = nodeAssert.ok;
const assertEquals: <T>(a: unknown, b: T, msg?: string) => asserts a is T = nodeAssert.deepEqual;
const assertNotEquals = nodeAssert.notDeepEqual;
const assertThrows = nodeAssert.throws;

function smallPlan(o: Partial<sim.SimOptions> = {}): sim.Plan {
  const rng = new sim.Rng(9);
  const sources = [
    { name: "a", seq: sim.randomDna(rng, 2000), depth: 10 },
    { name: "b", seq: sim.randomDna(rng, 900), pairs: 25 },
  ];
  return sim.planFragments(sources, { seed: 42, ...o });
}

interface Rec {
  name: string;
  comment: string;
  seq: string;
  qual: string;
}

function parseFastq(data: Uint8Array): Rec[] {
  const lines = new TextDecoder().decode(data).split("\n");
  assertEquals(lines.pop(), "", "FASTQ ends with a newline");
  assertEquals(lines.length % 4, 0, "FASTQ has 4 lines per record");
  const out: Rec[] = [];
  for (let i = 0; i < lines.length; i += 4) {
    assert(lines[i].startsWith("@"), `record ${i / 4} header starts with @`);
    assertEquals(lines[i + 2], "+");
    const sp = lines[i].indexOf(" ");
    out.push({
      name: sp < 0 ? lines[i].slice(1) : lines[i].slice(1, sp),
      comment: sp < 0 ? "" : lines[i].slice(sp + 1),
      seq: lines[i + 1],
      qual: lines[i + 3],
    });
  }
  return out;
}

Deno.test("rng is deterministic in its seed and uniform enough", () => {
  const a = new sim.Rng(1), b = new sim.Rng(1), c = new sim.Rng(2);
  const xs = Array.from({ length: 1000 }, () => a.next());
  assertEquals(xs, Array.from({ length: 1000 }, () => b.next()));
  assertNotEquals(xs, Array.from({ length: 1000 }, () => c.next()));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  assert(xs.every((x) => x >= 0 && x < 1));
});

Deno.test("same plan and seed render byte-identical FASTQ; another seed differs", () => {
  const x = sim.renderAll(smallPlan());
  const y = sim.renderAll(smallPlan());
  assertEquals(x.r1, y.r1);
  assertEquals(x.r2, y.r2);
  const z = sim.renderAll(smallPlan({ seed: 43 }));
  assertNotEquals(x.r1, z.r1);
});

Deno.test("rendering in chunks gives the same bytes as in one go", () => {
  const whole = sim.renderAll(smallPlan());
  const r = new sim.Renderer(smallPlan());
  const p1: Uint8Array[] = [], p2: Uint8Array[] = [];
  while (!r.done) {
    const c = r.chunk(7);
    p1.push(c.r1);
    p2.push(c.r2);
  }
  assertEquals(sim.concat(p1), whole.r1);
  assertEquals(sim.concat(p2), whole.r2);
});

Deno.test("FASTQ records are valid: paired names, CASAVA comments, equal seq and quality lengths", () => {
  const plan = smallPlan({ readLength: [100, 150, 250] });
  const { r1, r2 } = sim.renderAll(plan);
  const a = parseFastq(r1), b = parseFastq(r2);
  assertEquals(a.length, plan.count);
  assertEquals(b.length, plan.count);
  const names = new Set<string>();
  for (let i = 0; i < a.length; i++) {
    assertEquals(a[i].name, b[i].name);
    assert(/^SIM:1:FC:1:1:\d+:\d+$/.test(a[i].name), a[i].name);
    assertEquals(a[i].comment, "1:N:0:ACGT");
    assertEquals(b[i].comment, "2:N:0:ACGT");
    names.add(a[i].name);
    for (const r of [a[i], b[i]]) {
      assertEquals(r.seq.length, r.qual.length);
      assert(/^[ACGTNacgtn]+$/.test(r.seq), r.seq);
      assert(/^[!-J]+$/.test(r.qual), r.qual);
    }
    assert(Math.abs(a[i].seq.length - plan.len1[i]) <= 4, "read length near the planned one");
  }
  assertEquals(names.size, a.length, "read names are unique");
});

Deno.test("slash names end in /1 and /2", () => {
  const { r1, r2 } = sim.renderAll(smallPlan({ names: "slash" }));
  const a = parseFastq(r1), b = parseFastq(r2);
  assert(a.every((r) => r.name.endsWith("/1") && r.comment === ""));
  assert(b.every((r) => r.name.endsWith("/2")));
  assertEquals(a.map((r) => r.name.slice(0, -2)), b.map((r) => r.name.slice(0, -2)));
});

Deno.test("error-free reads: R1 is the fragment start, R2 the reverse complement of its end, both strands", () => {
  const plan = smallPlan({ errorRate: 0, indelRate: 0, nRate: 0, lowercaseRate: 0 });
  const { r1, r2 } = sim.renderAll(plan);
  const a = parseFastq(r1), b = parseFastq(r2);
  let rev = 0;
  for (let i = 0; i < plan.count; i++) {
    const src = plan.sources[plan.source[i]].seq;
    const [s1, s2] = sim.readSpans(plan, i);
    const fwd1 = sim.ascii(src.subarray(s1[0], s1[1]));
    const fwd2 = sim.ascii(src.subarray(s2[0], s2[1]));
    if (plan.reverse[i]) {
      rev++;
      assertEquals(a[i].seq, sim.ascii(sim.revcomp(sim.bytes(fwd1))));
      assertEquals(b[i].seq, fwd2);
    } else {
      assertEquals(a[i].seq, fwd1);
      assertEquals(b[i].seq, sim.ascii(sim.revcomp(sim.bytes(fwd2))));
    }
  }
  assert(rev > plan.count * 0.3 && rev < plan.count * 0.7, `reverse fragments: ${rev}/${plan.count}`);
  const onlyRev = smallPlan({ strand: "reverse" });
  assert(onlyRev.reverse.every((x) => x === 1));
});

Deno.test("error model: substitutions near the configured rate, more toward the read end; N and lowercase occur", () => {
  const rng = new sim.Rng(5);
  const src = { name: "x", seq: sim.randomDna(rng, 5000), pairs: 3000 };
  const plan = sim.planFragments([src], { seed: 7, errorRate: 0.01, indelRate: 0, strand: "forward" });
  const { r1 } = sim.renderAll(plan);
  const a = parseFastq(r1);
  let head = 0, tail = 0, total = 0, bases = 0, ns = 0, lower = 0;
  for (let i = 0; i < a.length; i++) {
    const ref = sim.ascii(src.seq.subarray(plan.start[i], plan.start[i] + a[i].seq.length));
    const s = a[i].seq.toUpperCase();
    if (s !== a[i].seq) lower++;
    for (let k = 0; k < s.length; k++) {
      if (s[k] === "N") {
        ns++;
        continue;
      }
      if (s[k] !== ref[k]) {
        total++;
        if (k < 50) head++;
        if (k >= 100) tail++;
      }
      bases++;
    }
  }
  const rate = total / bases;
  assert(rate > 0.007 && rate < 0.013, `substitution rate ${rate}`);
  assert(tail > 2 * head, `errors in the last 50 bases (${tail}) exceed the first 50 (${head})`);
  assert(ns > 0, "some N bases");
  assert(lower > 0, "some lowercase reads");
});

Deno.test("gz and bgzip output inflate to the plain bytes; bgzip's members are BGZF-framed", async () => {
  const plan = smallPlan();
  const dir = await Deno.makeTempDir({ prefix: "sim_test_" });
  try {
    const plain = sim.renderAll(plan);
    for (const format of ["plain", "gz", "multigz"] as const) {
      await sim.writePairs(plan, `${dir}/${format}_1`, `${dir}/${format}_2`, { format, chunkPairs: 10 });
      const raw = await Deno.readFile(`${dir}/${format}_1`);
      const data = format === "plain" ? raw : new Uint8Array(gunzipSync(raw));
      assertEquals(data, plain.r1, format);
    }
    const multi = sim.multiGzip(plain.r1, 1000);
    // BGZF: members walked by the size in their BC field, each a gzip member with FEXTRA, then the EOF marker
    let members = 0, at = 0;
    while (at < multi.length) {
      const m = multi.subarray(at);
      assertEquals([...m.subarray(0, 4)], [0x1f, 0x8b, 8, 4], `member ${members} header`);
      assertEquals([...m.subarray(12, 16)], [0x42, 0x43, 2, 0], `member ${members} BC field`);
      const size = (m[16] | (m[17] << 8)) + 1;
      assertEquals(
        new Uint8Array(gunzipSync(m.subarray(0, size))).length,
        new DataView(m.buffer, m.byteOffset + size - 4, 4).getUint32(0, true),
      );
      at += size;
      members++;
    }
    assertEquals(at, multi.length);
    assertEquals([...multi.subarray(multi.length - 28)], [...sim.BGZF_EOF]);
    assert(members > Math.floor(plain.r1.length / 1000), `members: ${members}`);
    assertEquals(new Uint8Array(gunzipSync(multi)), plain.r1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ResFinder loader trims header spaces and keeps alleles in several classes once", async () => {
  const db = await sim.loadResFinder();
  assert(db.size > 3000, `${db.size} alleles`);
  for (const name of db.keys()) assertEquals(name, name.trimEnd());
  const tem = db.get("blaTEM-1B_1_AY458016");
  assert(tem);
  assertEquals(tem.gene, "blaTEM-1B");
  assertEquals(tem.seq.length, 861);
  assertEquals(db.get("aac(6')-Ib-cr_1_DQ303918")?.gene, "aac(6')-Ib-cr");
  const multi = [...db.values()].filter((a) => a.classes.length > 1);
  assert(multi.some((a) => a.gene === "OqxA"), "OqxA is in several class files");
});

Deno.test("PointFinder loaders read gzipped files and the catalogue's AA and NUC rows", async () => {
  const rpoB = await sim.loadPointFinderGene("rpoB");
  assert(rpoB.seq.length > 3000);
  const rows = await sim.loadPointFinderCatalogue();
  const s83 = rows.find((r) => r.gene === "gyrA" && r.position === 83);
  assertEquals(s83?.refNuc, "TCG");
  assertEquals(s83?.ref, "S");
  assertEquals(s83?.alts, ["L", "W", "A", "V"]);
  const prom = rows.find((r) => r.gene === "ampC-promoter-size-53bp" && r.position === -42);
  assertEquals(prom?.type, "NUC");
  assertEquals(prom?.ref, "C");
  const ampc = await sim.loadPointFinderGene("ampC-promoter-size-53bp");
  assertEquals(String.fromCharCode(ampc.seq[refIndex("ampC-promoter-size-53bp", -42)]), "C");
  const r23 = await sim.loadPointFinderGene("23S");
  assertEquals(String.fromCharCode(r23.seq[refIndex("23S", 2058)]), "A");
});

Deno.test("gyrA is found once in K-12 and the catalogued codons translate to the reference amino acids", async () => {
  const k12 = await sim.loadK12();
  assert(k12.length > 4_600_000);
  const gyrA = await sim.loadPointFinderGene("gyrA");
  const loci = sim.locate(k12, gyrA.seq);
  assertEquals(loci.length, 1);
  const region = sim.extractRegion(k12, loci[0], gyrA.seq.length, 100);
  assertEquals(
    sim.ascii(region.seq.subarray(region.offset, region.offset + gyrA.seq.length)),
    sim.ascii(gyrA.seq),
  );
  const rows = (await sim.loadPointFinderCatalogue()).filter((r) => r.gene === "gyrA");
  for (const r of rows) {
    const i = (r.position - 1) * 3;
    assertEquals(sim.translateCodon(sim.ascii(gyrA.seq.subarray(i, i + 3))), r.ref, `gyrA ${r.position}`);
  }
  const m = sim.mutateCodon(gyrA.seq, 0, 83, "TTG", "S");
  assertEquals(sim.translateCodon(sim.ascii(m.subarray(246, 249))), "L");
  assertEquals(sim.ascii(gyrA.seq.subarray(246, 249)), "TCG", "the source is not modified");
  assertThrows(() => sim.mutateCodon(gyrA.seq, 0, 83, "TTG", "D"));
  assertEquals(sim.locate(k12, sim.randomDna(new sim.Rng(3), 200)), []);
});

Deno.test("fixture plans are deterministic and their truth follows the planted sources", async () => {
  const a = await planFixture(SPECS.pointfinder);
  const b = await planFixture(SPECS.pointfinder);
  assertEquals(a.truth, b.truth);
  assertEquals(sim.renderAll(a.plan).r1, sim.renderAll(b.plan).r1);
  const names = a.truth.mutations.map((m) => `${m.gene}:${m.mutation}`).sort();
  assertEquals(names, ["23S:n.2058A>G", "ampC-promoter-size-53bp:n.-42C>T", "gyrA:S83L", "parC:S80I"]);
  const parC = a.truth.mutations.find((m) => m.gene === "parC")!;
  assert(parC.frequency > 0.2 && parC.frequency < 0.45, `parC S80I at ${parC.frequency}`);
  assert(a.truth.mutations.every((m) => m.reads >= 20));
  const g = await planFixture(SPECS.genes);
  assertEquals(
    g.truth.genes.map((x) => x.allele),
    SPECS.genes.sources.flatMap((s) => "allele" in s ? [s.allele] : []),
  );
  const tem = g.truth.genes[0];
  assert(tem.nearRelatives.includes("blaTEM-1A_1_HM749966"));
  assert(!tem.indistinguishable.length, "30x reads tell blaTEM-1B from its relatives");
});
