import assert from "node:assert/strict";
import { formatBytes, formatCount, formatProgress, ProgressBar } from "./progress_bar.ts";

Deno.test("formatBytes uses binary units with one decimal", () => {
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(3 * 1024 ** 3), "3.0 GiB");
});

Deno.test("formatCount groups thousands exactly as toLocaleString(en-US) does", () => {
  const values = [
    0,
    7,
    999,
    1000,
    1001,
    99_999,
    100_000,
    999_999,
    1_000_000,
    1_234_567,
    2 ** 31,
    2 ** 32 + 1,
  ];
  for (let digits = 1; digits <= 16; digits++) values.push(10 ** (digits - 1), 10 ** digits - 1);
  values.push(Number.MAX_SAFE_INTEGER, 1.5, 2 ** 60, -1, -1000, -1_234_567);
  for (const v of values) assert.equal(formatCount(v), v.toLocaleString("en-US"), `formatCount(${v})`);
  assert.equal(formatCount(1_234_567), "1,234,567");
});

Deno.test("formatProgress draws a bar proportional to fraction with stage, bytes and pairs", () => {
  const line = formatProgress(
    {
      stage: "screening",
      pairsDone: 1234567,
      bytesDone: 1024 ** 3,
      bytesTotal: 4 * 1024 ** 3,
      fraction: 0.25,
    },
    20,
  );
  assert.equal(line, "screening   [#####...............]  25%  1.0 GiB/4.0 GiB  1,234,567 pairs");
  assert.match(
    formatProgress({ stage: "done", pairsDone: 0, bytesDone: 0, bytesTotal: 0, fraction: 7 }, 4),
    /^done {8}\[####\] 100% {2}0 pairs$/,
  );
  assert.match(
    formatProgress({ stage: "idle", pairsDone: 0, bytesDone: 0, bytesTotal: 0, fraction: NaN }, 4),
    /\[\.\.\.\.\] {3}0%/,
  );
});

Deno.test("ProgressBar redraws in place and clear() erases the line once", () => {
  let written = "";
  const out = { writeSync: (p: Uint8Array) => (written += new TextDecoder().decode(p), p.length) };
  const bar = new ProgressBar(out);
  bar.clear();
  assert.equal(written, "");
  bar.update({ stage: "loading", pairsDone: 0, bytesDone: 0, bytesTotal: 10, fraction: 0 });
  assert.ok(written.startsWith("\rloading"));
  assert.ok(written.endsWith("\x1b[K"));
  written = "";
  bar.clear();
  bar.clear();
  assert.equal(written, "\r\x1b[K");
});

Deno.test("ProgressBar fits the terminal's width, and takes 80 columns when the terminal says 0", () => {
  const p = {
    stage: "screening" as const,
    pairsDone: 300_492,
    bytesDone: 5 << 20,
    bytesTotal: 10 << 20,
    fraction: 0.5,
  };
  for (const [columns, width] of [[0, 80], [60, 60], [200, 200]]) {
    let written = "";
    const out = { writeSync: (b: Uint8Array) => (written += new TextDecoder().decode(b), b.length) };
    new ProgressBar(out, () => columns).update(p);
    const line = written.slice(1, -3); // without "\r" and "\x1b[K"
    assert.ok(line.length <= width - 1, `${columns}: ${line.length} characters`);
    if (columns !== 60) assert.ok(line.endsWith("300,492 pairs"), `${columns}: ${line}`);
  }
});
