/**
 * A one-line terminal progress bar for runs (stderr, TTY only).
 *
 * @module
 */

import type { Progress } from "../../ffi/mod.ts";

/** Human size with binary units: 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} ${units[i]}` : `${v.toFixed(1)} ${units[i]}`;
}

/**
 * An integer with commas between thousands, as `toLocaleString("en-US")` writes it: 1234567 → "1,234,567". Written
 * by hand because the first `toLocaleString` call loads ICU, ~11 ms of a short run. Other numbers (fractions,
 * beyond 2^53) go to `toLocaleString`.
 */
export function formatCount(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString("en-US");
  const digits = String(Math.abs(n));
  const head = digits.length % 3 || 3;
  let out = digits.slice(0, head);
  for (let i = head; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return n < 0 ? `-${out}` : out;
}

/**
 * One progress line, e.g. `screening   [#########...........]  45%  1.2 GiB/2.7 GiB  1,234,567 pairs`.
 * `barWidth` is the number of cells between the brackets.
 */
export function formatProgress(p: Progress, barWidth = 30): string {
  const fraction = Math.min(1, Math.max(0, Number.isFinite(p.fraction) ? p.fraction : 0));
  const filled = Math.round(fraction * barWidth);
  const bar = "#".repeat(filled) + ".".repeat(barWidth - filled);
  const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
  const bytes = p.bytesTotal > 0 ? `  ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}` : "";
  return `${p.stage.padEnd(11)} [${bar}] ${pct}${bytes}  ${formatCount(p.pairsDone)} pairs`;
}

/** Writes progress lines in place (carriage return + clear to end of line) to a terminal stream. */
export class ProgressBar {
  readonly #out: { writeSync(p: Uint8Array): number };
  readonly #columns: () => number;
  readonly #encoder = new TextEncoder();
  #drawn = false;

  /** `columns` gives the terminal's width (default: `Deno.consoleSize()`'s); 0 or a failure means 80. */
  constructor(
    out: { writeSync(p: Uint8Array): number } = Deno.stderr,
    columns: () => number = () => Deno.consoleSize().columns,
  ) {
    this.#out = out;
    this.#columns = columns;
  }

  /** Redraws the line for `p`. */
  update(p: Progress): void {
    let width = 80;
    try {
      // a terminal that does not know its size (`script`, some serial consoles) says 0 columns
      width = this.#columns() || 80;
    } catch {
      // Not a terminal: keep 80.
    }
    const barWidth = Math.max(10, Math.min(40, width - 1 - formatProgress(p, 0).length));
    this.#write(`\r${formatProgress(p, barWidth).slice(0, width - 1)}\x1b[K`);
    this.#drawn = true;
  }

  /** Clears the line so that later output starts on a clean line. Idempotent. */
  clear(): void {
    if (this.#drawn) this.#write("\r\x1b[K");
    this.#drawn = false;
  }

  #write(s: string): void {
    const bytes = this.#encoder.encode(s);
    let off = 0;
    while (off < bytes.length) off += this.#out.writeSync(bytes.subarray(off));
  }
}
