/**
 * `Database`: ResFinder alleles, PointFinder genes and mutation catalogue, and the k-mer index (`bg_db_t`).
 *
 * @module
 */

import { checkPath, DatabaseError, EngineError, Status, unwrap } from "./errors.ts";
import { cString, lib, readCString } from "./library.ts";

/** Options of `Database.build`. */
export interface BuildOptions {
  /** Folder of ResFinder `*.fsa` + `phenotypes.txt`. */
  resfinder: string;
  /** PointFinder root (species folders); omitted for none. */
  pointfinder?: string;
  /** PointFinder species folder names; omitted or empty for every species found. */
  species?: string[];
}

/** Handle access for `Run` (same package only; not re-exported by mod.ts). */
export const databaseInternals: {
  /** Returns the handle and counts one user; throws when closed. */
  acquire(db: Database): Deno.PointerObject;
  /** Drops one user; frees the handle when closed and unused. */
  release(db: Database): void;
} = {} as never;

/**
 * A loaded or built AMR database. Free it with `close()` (or `using`); a database closed while runs or
 * calls still use it is freed when the last of them ends.
 *
 * @example
 * ```ts
 * using db = await Database.load("amr.bgdb");
 * console.log(db.info());
 * ```
 */
export class Database {
  #handle: Deno.PointerObject | null;
  #users = 0;
  #closed = false;
  /** Buffers handed to in-flight nonblocking calls; kept referenced until each settles. */
  readonly #inflight = new Set<Uint8Array[]>();

  static {
    databaseInternals.acquire = (db) => db.#acquire();
    databaseInternals.release = (db) => db.#release();
  }

  private constructor(handle: Deno.PointerObject) {
    this.#handle = handle;
  }

  static #create(): Database {
    const h = lib().bg_db_new();
    if (h === null) throw new EngineError(Status.HOST_OOM, "Cannot create database: out of memory");
    return new Database(h);
  }

  /** Builds a database from ResFinder (and optionally PointFinder) source folders. */
  static async build(o: BuildOptions): Promise<Database> {
    await checkPath(o.resfinder, "directory", "ResFinder folder", DatabaseError);
    if (o.pointfinder) await checkPath(o.pointfinder, "directory", "PointFinder folder", DatabaseError);
    for (const s of o.species ?? []) {
      if (!s.trim() || s.includes(",")) {
        throw new DatabaseError(
          Status.INVALID_ARGUMENT,
          `Species name must be non-empty without commas: "${s}"`,
        );
      }
    }
    const resfinder = cString(o.resfinder, "ResFinder path");
    const pointfinder = cString(o.pointfinder ?? "", "PointFinder path");
    const species = cString((o.species ?? []).map((s) => s.trim()).join(","), "species");
    const db = Database.#create();
    try {
      await db.#call(
        [resfinder, pointfinder, species],
        (h) => lib().bg_db_build(h, resfinder, pointfinder, species),
      );
    } catch (err) {
      db.close();
      throw err;
    }
    return db;
  }

  /** Loads a database index file written by `save()`. A damaged file gives `DatabaseError` `BG_ERR_BAD_INDEX`. */
  static async load(path: string): Promise<Database> {
    try {
      await checkPath(path, "file", "database", DatabaseError);
    } catch (err) {
      if (err instanceof DatabaseError && err.status === Status.INVALID_ARGUMENT) {
        throw new DatabaseError(
          Status.INVALID_ARGUMENT,
          `Cannot read database: expected an index file made by \`db build\`, found a folder (${path})`,
        );
      }
      throw err;
    }
    const cpath = cString(path, "database path");
    const db = Database.#create();
    try {
      await db.#call([cpath], (h) => lib().bg_db_load(h, cpath));
    } catch (err) {
      db.close();
      throw err;
    }
    return db;
  }

  /** Writes the database as one versioned index file (atomically: temp name, then rename). */
  async save(path: string): Promise<void> {
    const cpath = cString(path, "database path");
    await this.#call([cpath], (h) => lib().bg_db_save(h, cpath));
  }

  /** Summary counts (alleles, genes, mutations, species, warnings) as reported by the engine. */
  info(): Record<string, unknown> {
    const h = this.#acquire();
    try {
      const text = readCString(lib().bg_db_info_json(h));
      const parsed: unknown = JSON.parse(text || "{}");
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new EngineError(Status.INTERNAL, `Database info is not a JSON object: ${text.slice(0, 80)}`);
      }
      return parsed as Record<string, unknown>;
    } finally {
      this.#release();
    }
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Releases the database. Idempotent; the native handle is freed once no run or call uses it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#maybeFree();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async #call(keep: Uint8Array[], fn: (h: Deno.PointerObject) => Promise<number>): Promise<void> {
    const h = this.#acquire();
    this.#inflight.add(keep);
    try {
      const status = await fn(h);
      unwrap(status, () => readCString(lib().bg_db_errmsg(h)), "database");
    } finally {
      this.#inflight.delete(keep);
      this.#release();
    }
  }

  #acquire(): Deno.PointerObject {
    if (this.#closed || this.#handle === null) throw new TypeError("Database is closed");
    this.#users++;
    return this.#handle;
  }

  #release(): void {
    this.#users--;
    this.#maybeFree();
  }

  #maybeFree(): void {
    if (this.#closed && this.#users === 0 && this.#handle !== null) {
      const h = this.#handle;
      this.#handle = null;
      lib().bg_db_free(h);
    }
  }
}
