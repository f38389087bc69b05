/**
 * One run at a time in a job's output folder. A job redelivered to another worker while its first run is still
 * ending (a rebalance), or two jobs that name the same `output_path`, would otherwise write one folder at once.
 * The lock is a file created exclusively in the folder (`.biogpu.lock`: job, worker, host, pid, time), kept
 * fresh by its holder (its modification time is touched every few seconds) and removed at the end. A lock
 * whose holder stopped touching it (a crashed worker, on any host sharing the folder) is stale and taken over,
 * at once when its holder ran on this host and its process is gone.
 *
 * @module
 */

/** Name of the lock file in an output folder. */
export const LOCK_FILE = ".biogpu.lock";

/** The folder is being written by another live run; retried as transient. */
export class OutputBusyError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OutputBusyError";
  }
}

/** Options of {@link lockOutput}. */
export interface LockOptions {
  /** How long to wait for another run to leave the folder before giving up (default 15 s). */
  waitMs?: number;
  /** A lock untouched for this long is stale (default 60 s). */
  staleMs?: number;
  /** How often the holder touches its lock (default 10 s; less than `staleMs`). */
  heartbeatMs?: number;
  /** Aborting stops the wait (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Called once if the lock is found taken over or gone while held (a stall past `staleMs`, say). */
  onLost?: () => void;
}

/** A held lock; `release()` is idempotent and removes the file only while it is still this holder's. */
export interface OutputLock {
  readonly path: string;
  release(): Promise<void>;
}

interface LockContent {
  token: string;
  job_id: string;
  worker_id: string;
  host: string;
  pid: number;
  acquired_at: string;
}

async function readLock(path: string): Promise<{ content: Partial<LockContent>; mtime: number } | null> {
  try {
    const [text, info] = await Promise.all([Deno.readTextFile(path), Deno.stat(path)]);
    let content: Partial<LockContent> = {};
    try {
      content = JSON.parse(text);
    } catch {
      // A lock cut short by a crash between its creation and its write: judged by its age alone.
    }
    return { content, mtime: info.mtime?.getTime() ?? 0 };
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** Tokens of the locks this process holds now. */
const held = new Set<string>();

/**
 * Whether the lock's holder is known to be gone without waiting for it to go stale: it ran on this host and
 * its process has ended, or it names this very process but is not one of its live locks (a restarted
 * container's process often gets its predecessor's pid).
 */
async function holderGone(content: Partial<LockContent>): Promise<boolean> {
  if (content.host !== Deno.hostname() || typeof content.pid !== "number") return false;
  if (content.pid === Deno.pid) return !held.has(content.token ?? "");
  if (Deno.build.os !== "linux") return false;
  try {
    await Deno.stat(`/proc/${content.pid}`);
    return false;
  } catch (err) {
    return err instanceof Deno.errors.NotFound;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Takes the lock of `dir` (which must exist) for `owner`, waiting up to `waitMs` for a live holder to release
 * it. Rejects with {@link OutputBusyError} naming the holder when the wait ends first.
 *
 * @example
 * ```ts
 * const lock = await lockOutput("/results/S1", { job_id: "j1", worker_id: "w1" });
 * try {
 *   // write the folder
 * } finally {
 *   await lock.release();
 * }
 * ```
 */
export async function lockOutput(
  dir: string,
  owner: { job_id: string; worker_id: string },
  o: LockOptions = {},
): Promise<OutputLock> {
  const waitMs = o.waitMs ?? 15_000, staleMs = o.staleMs ?? 60_000;
  const heartbeatMs = Math.min(o.heartbeatMs ?? 10_000, staleMs / 3);
  const path = `${dir}/${LOCK_FILE}`;
  const content: LockContent = {
    token: crypto.randomUUID(),
    ...owner,
    host: Deno.hostname(),
    pid: Deno.pid,
    acquired_at: new Date().toISOString(),
  };
  const started = Date.now();
  for (;;) {
    try {
      await Deno.writeTextFile(path, JSON.stringify(content) + "\n", { createNew: true });
      break;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    const current = await readLock(path);
    if (current === null) continue; // released meanwhile
    if (Date.now() - current.mtime > staleMs || await holderGone(current.content)) {
      // Stale: move it aside (one taker can move a given file), and remove it only if it is still the stale
      // lock; a fresh lock another taker created meanwhile is put back.
      const aside = `${path}.stale-${content.token}`;
      try {
        await Deno.rename(path, aside);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue;
        throw err;
      }
      const moved = await readLock(aside);
      if (moved && moved.content.token !== current.content.token) {
        await Deno.link(aside, path).catch(() => {}); // back, unless yet another lock exists by now
      }
      await Deno.remove(aside).catch(() => {});
      continue;
    }
    if (Date.now() - started >= waitMs) {
      const h = current.content;
      throw new OutputBusyError(
        `Output folder is in use by job ${h.job_id ?? "?"} on worker ${h.worker_id ?? "?"} (host ${
          h.host ?? "?"
        }, ` +
          `since ${h.acquired_at ?? "?"}); waited ${Math.round(waitMs / 1000)} s (${dir})`,
      );
    }
    await sleep(Math.min(250, waitMs), o.signal);
  }
  held.add(content.token);
  let released = false, lost = false;
  const heartbeat = setInterval(async () => {
    const now = await readLock(path).catch(() => null);
    if (released || lost) return;
    if (now?.content.token !== content.token) { // taken over or removed while held: say so, touch nothing
      lost = true;
      clearInterval(heartbeat);
      o.onLost?.();
      return;
    }
    const t = new Date();
    await Deno.utime(path, t, t).catch(() => {});
  }, heartbeatMs);
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      try {
        const now = await readLock(path).catch(() => null);
        if (now?.content.token !== content.token) return; // taken over as stale: no longer ours to remove
        await Deno.remove(path).catch((err) => {
          if (!(err instanceof Deno.errors.NotFound)) throw err;
        });
      } finally {
        held.delete(content.token); // only now: until removed, it is this process's live lock
      }
    },
  };
}
