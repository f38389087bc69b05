import assert from "node:assert/strict";
import { parseJob } from "./schema.ts";

const valid = {
  job_id: "job-1",
  sample_id: "S1",
  path_to_r1: "/data/S1_R1.fastq.gz",
  path_to_r2: "/data/S1_R2.fastq.gz",
  output_path: "/out/S1",
};

Deno.test("a job with the required fields and optional ones parses", () => {
  const r = parseJob(
    JSON.stringify({ ...valid, owner: "alice", tenant: "lab", priority: 2, metadata: { a: 1 } }),
  );
  assert.ok(r.ok);
  assert.equal(r.job.owner, "alice");
  assert.deepEqual(r.job.metadata, { a: 1 });
});

Deno.test("schema errors name every missing or invalid field", () => {
  const { path_to_r1: _r1, ...noR1 } = valid;
  const r = parseJob(JSON.stringify({ ...noR1, sample_id: "", priority: "high" }));
  assert.ok(!r.ok);
  assert.match(r.error, /path_to_r1: path_to_r1 is required/);
  assert.match(r.error, /sample_id: sample_id is empty/);
  assert.match(r.error, /priority: Expected number, received string/);
});

Deno.test("invalid JSON, empty messages and non-objects are refused with a message", () => {
  const bad = parseJob("{not json");
  assert.ok(!bad.ok);
  assert.match(bad.error, /^Invalid job JSON: /);
  const empty = parseJob(null);
  assert.ok(!empty.ok);
  assert.match(empty.error, /empty message/);
  const arr = parseJob("[1,2]");
  assert.ok(!arr.ok);
  assert.match(arr.error, /found an array/);
});

Deno.test("job_id with path characters is refused", () => {
  const r = parseJob(JSON.stringify({ ...valid, job_id: "../etc" }));
  assert.ok(!r.ok);
  assert.match(r.error, /job_id: job_id may hold only/);
});

Deno.test("species is an optional non-empty list of names; a bad entry is named by its index", () => {
  const r = parseJob(JSON.stringify({ ...valid, species: ["escherichia_coli", "klebsiella"] }));
  assert.ok(r.ok);
  assert.deepEqual(r.job.species, ["escherichia_coli", "klebsiella"]);
  const empty = parseJob(JSON.stringify({ ...valid, species: [] }));
  assert.ok(!empty.ok);
  assert.match(empty.error, /species: species is empty/);
  const bad = parseJob(JSON.stringify({ ...valid, species: ["escherichia_coli", "e coli"] }));
  assert.ok(!bad.ok);
  assert.match(bad.error, /species\.1: species names hold only/);
  const notList = parseJob(JSON.stringify({ ...valid, species: "escherichia_coli" }));
  assert.ok(!notList.ok);
  assert.match(notList.error, /species: Expected array, received string/);
});
