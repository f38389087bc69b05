/**
 * The service's one database. `REFERENCE_DB_PATH` names either an index file (loaded directly) or the
 * ResFinder folder; given folders, the index is built once and cached in `DB_CACHE_DIR` under a name keyed
 * by the SHA-256 of the sources' contents (plus species and engine ABI), so a changed database rebuilds and
 * an unchanged one loads in a moment.
 *
 * @example
 * ```ts
 * const cache = new DbCache({ reference: "/usr/share/resfinder/db", cacheDir: "/var/cache/biogpu" });
 * const db = await cache.get(); // built or loaded once, shared by every job
 * cache.close();
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import { ABI_VERSION, Database, DatabaseError, Status } from "../../ffi/mod.ts";
import { type Logger, silentLogger } from "../log.ts";

/** Options of {@link DbCache}. */
export interface DbCacheOptions {
  /** ResFinder folder or index file. */
  reference: string;
  /** PointFinder folder, if any (ignored when `reference` is an index file). */
  resistance?: string;
  /** PointFinder species to include; empty for all. */
  species?: string[];
  /** Where built indexes are kept. */
  cacheDir: string;
  log?: Logger;
}

/** Files of a source folder that do not feed the index: KMA's binary index files and helper scripts. */
const IGNORED = /\.(b|name|py|gz\.md|md)$|^(INSTALL\.py(\.gz)?|README\.md(\.gz)?)$/;

async function listFiles(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(rel ? `${root}/${rel}` : root)) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await listFiles(root, path));
    else if (e.isFile && !IGNORED.test(e.name) && !e.name.startsWith(".")) out.push(path);
  }
  return out.sort();
}

/**
 * Raised whenever `db build` makes a different index from the same sources, so that the indexes cached by an
 * earlier build are built again. 2 (2026-11-29): FASTA headers lose a leading space (ResFinder's
 * `> erm(N)_2_MZ015744`), and a config class name that lists classes is split into them. 3 (2026-12-07):
 * mechanisms of resistance (index format 4). 4 (2026-12-07): amino-acid insertion sites (index format 5). 5
 * (2026-12-07): variant targets of the catalogue's indels longer than the aligner's band (index format 6), and a
 * PointFinder gene file holding another gene (M. tuberculosis ethA's holds embA's) left out.
 */
export const BUILDER_REVISION = 5;

/**
 * SHA-256 (hex) over the names and contents of the source files, the species list, the engine ABI and the
 * builder's revision.
 */
export async function sourcesKey(
  o: { reference: string; resistance?: string; species?: string[] },
  revision = BUILDER_REVISION,
): Promise<string> {
  const h = createHash("sha256");
  h.update(`abi ${ABI_VERSION}\nbuilder ${revision}\nspecies ${(o.species ?? []).join(",")}\n`);
  for (const [label, root] of [["resfinder", o.reference], ["pointfinder", o.resistance]] as const) {
    if (!root) continue;
    for (const rel of await listFiles(root)) {
      const data = await Deno.readFile(`${root}/${rel}`);
      h.update(`${label}/${rel} ${data.length}\n`);
      h.update(data);
    }
  }
  return h.digest("hex");
}

/** Builds or loads the database once and hands the same instance to every caller. */
export class DbCache {
  readonly #o: DbCacheOptions;
  readonly #log: Logger;
  #db: Promise<Database> | undefined;
  #closed = false;
  /** Path of the index file in use, once known. */
  indexPath: string | undefined;

  constructor(o: DbCacheOptions) {
    this.#o = o;
    this.#log = o.log ?? silentLogger;
  }

  /** The database; the first call builds or loads it. A failure is not cached: the next call tries again. */
  get(): Promise<Database> {
    if (this.#closed) return Promise.reject(new TypeError("Database cache is closed"));
    if (!this.#db) {
      this.#db = this.#open();
      this.#db.catch(() => {
        this.#db = undefined;
      });
    }
    return this.#db;
  }

  /** True once the database has been loaded. */
  get loaded(): boolean {
    return this.indexPath !== undefined && this.#db !== undefined;
  }

  async #open(): Promise<Database> {
    const { reference } = this.#o;
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(reference);
    } catch (err) {
      throw new DatabaseError(
        Status.FILE_NOT_FOUND,
        `Cannot open REFERENCE_DB_PATH: ${
          err instanceof Deno.errors.NotFound ? "path does not exist" : (err as Error).message
        } (${reference})`,
        { cause: err },
      );
    }
    if (info.isFile) {
      const started = performance.now();
      const db = await Database.load(reference);
      this.indexPath = reference;
      this.#log.info("Database index loaded", {
        path: reference,
        ms: Math.round(performance.now() - started),
      });
      return db;
    }
    const species = this.#o.species ?? [];
    const key = await sourcesKey({ reference, resistance: this.#o.resistance, species });
    const path = `${this.#o.cacheDir}/amr-${key.slice(0, 24)}.bgdb`;
    try {
      const started = performance.now();
      const db = await Database.load(path);
      this.indexPath = path;
      this.#log.info("Database index loaded from cache", {
        path,
        ms: Math.round(performance.now() - started),
      });
      return db;
    } catch (err) {
      if (!(err instanceof DatabaseError) && !(err instanceof Deno.errors.NotFound)) throw err;
      // Missing or damaged cache entry: rebuild below.
    }
    const started = performance.now();
    this.#log.info("Building database index", {
      resfinder: reference,
      pointfinder: this.#o.resistance,
      species,
    });
    const db = await Database.build({
      resfinder: reference,
      pointfinder: this.#o.resistance || undefined,
      species: species.length ? species : undefined,
    });
    try {
      await Deno.mkdir(this.#o.cacheDir, { recursive: true });
      await db.save(path);
      this.indexPath = path;
      this.#log.info("Database index built and cached", {
        path,
        ms: Math.round(performance.now() - started),
      });
    } catch (err) {
      this.indexPath = "(memory)";
      this.#log.warn("Cannot cache the database index; using it from memory", { path, error: err });
    }
    return db;
  }

  /** Frees the database (once no job uses it). Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const p = this.#db;
    this.#db = undefined;
    if (!p) return;
    try {
      (await p).close();
    } catch {
      // Never opened: nothing to free.
    }
  }
}
