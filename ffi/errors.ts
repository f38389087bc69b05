/**
 * Status codes of libbiogpu and the typed errors they become.
 *
 * `Status` mirrors `bg_status_t` in cuda/include/biogpu.h. `unwrap()` is the one place where a status turns
 * into an exception; callers catch the family they can act on (`InputError`, `DatabaseError`, `DeviceError`,
 * `CancelledError`) or the base `EngineError`.
 *
 * @module
 */

/** Mirror of `bg_status_t`. */
export const Status = {
  OK: 0,
  INVALID_ARGUMENT: 1,
  FILE_NOT_FOUND: 2,
  PERMISSION_DENIED: 3,
  IO: 4,
  CORRUPT_GZIP: 5,
  MALFORMED_FASTQ: 6,
  PAIR_MISMATCH: 7,
  EMPTY_INPUT: 8,
  BAD_DATABASE: 9,
  BAD_INDEX: 10,
  HOST_OOM: 11,
  DEVICE_OOM: 12,
  DEVICE_UNAVAILABLE: 13,
  CANCELLED: 14,
  INTERNAL: 15,
} as const;

/** Name of a status constant, e.g. `"CORRUPT_GZIP"`. */
export type StatusName = keyof typeof Status;

/** Returns the C name of a status (`"BG_ERR_CORRUPT_GZIP"`, `"BG_OK"`), or `"BG_UNKNOWN"`. */
export function statusCode(status: number): string {
  if (status === Status.OK) return "BG_OK";
  for (const [name, value] of Object.entries(Status)) {
    if (value === status) return `BG_ERR_${name}`;
  }
  return "BG_UNKNOWN";
}

/** Any failure reported by the engine. `code` is the C name of the status, e.g. `"BG_ERR_CORRUPT_GZIP"`. */
export class EngineError extends Error {
  /** Numeric `bg_status_t`. */
  readonly status: number;
  /** C name of the status (`bg_status_name`). */
  readonly code: string;

  constructor(status: number, message: string, options?: ErrorOptions & { code?: string }) {
    super(message, options);
    this.name = "EngineError";
    this.status = status;
    this.code = options?.code ?? statusCode(status);
  }
}

/** The input (reads, options, paths) is wrong: missing, unreadable, corrupt, malformed, mismatched or empty. */
export class InputError extends EngineError {
  constructor(status: number, message: string, options?: ErrorOptions & { code?: string }) {
    super(status, message, options);
    this.name = "InputError";
  }
}

/** The database sources or index file are missing, damaged or of another version. */
export class DatabaseError extends EngineError {
  constructor(status: number, message: string, options?: ErrorOptions & { code?: string }) {
    super(status, message, options);
    this.name = "DatabaseError";
  }
}

/** The GPU ran out of memory or no usable CUDA device exists. */
export class DeviceError extends EngineError {
  constructor(status: number, message: string, options?: ErrorOptions & { code?: string }) {
    super(status, message, options);
    this.name = "DeviceError";
  }
}

/** The run was cancelled (`Run.cancel()` or an aborted signal). */
export class CancelledError extends EngineError {
  constructor(message = "Run cancelled", options?: ErrorOptions) {
    super(Status.CANCELLED, message, options);
    this.name = "CancelledError";
  }
}

const INPUT_STATUSES: ReadonlySet<number> = new Set([
  Status.INVALID_ARGUMENT,
  Status.FILE_NOT_FOUND,
  Status.PERMISSION_DENIED,
  Status.CORRUPT_GZIP,
  Status.MALFORMED_FASTQ,
  Status.PAIR_MISMATCH,
  Status.EMPTY_INPUT,
]);

/** Statuses that name a database problem when they come from a database call (the path is the database). */
const DATABASE_FILE_STATUSES: ReadonlySet<number> = new Set([
  Status.FILE_NOT_FOUND,
  Status.PERMISSION_DENIED,
  Status.IO,
]);

/** Where a status came from: a database call turns file errors into `DatabaseError`. */
export type ErrorContext = "run" | "database";

/**
 * Builds the typed error for a non-OK status. `message` is the engine's message (bg_*_errmsg); when empty,
 * the status name stands in.
 */
export function errorFor(
  status: number,
  message: string,
  context: ErrorContext = "run",
  options?: ErrorOptions & { code?: string },
): EngineError {
  const code = options?.code ?? statusCode(status);
  const text = message.trim() || `Engine failed with ${code}`;
  const opts = { ...options, code };
  if (status === Status.CANCELLED) {
    const e = new CancelledError(text, opts);
    return e;
  }
  if (status === Status.BAD_DATABASE || status === Status.BAD_INDEX) {
    return new DatabaseError(status, text, opts);
  }
  if (context === "database" && DATABASE_FILE_STATUSES.has(status)) {
    return new DatabaseError(status, text, opts);
  }
  if (INPUT_STATUSES.has(status)) return new InputError(status, text, opts);
  if (status === Status.DEVICE_OOM || status === Status.DEVICE_UNAVAILABLE) {
    return new DeviceError(status, text, opts);
  }
  return new EngineError(status, text, opts);
}

/**
 * Returns when `status` is OK, else throws the typed error. `message` is read lazily so the
 * handle's error text is only fetched on failure.
 *
 * @example
 * ```ts
 * unwrap(await lib.bg_db_load(h, path), () => errmsg(h), "database");
 * ```
 */
export function unwrap(status: number, message: () => string, context: ErrorContext = "run"): void {
  if (status !== Status.OK) throw errorFor(status, message(), context);
}

type ErrorClass = new (status: number, message: string, options?: ErrorOptions) => EngineError;

/** What a path that is neither a regular file nor a folder is, in a message. */
function special(info: Deno.FileInfo): string {
  if (info.isFifo) return "a FIFO (named pipe)";
  if (info.isSocket) return "a socket";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  return "neither a file nor a folder";
}

/**
 * Checks that `path` exists and is a `kind` before handing it to the engine, so the message names what was
 * expected and what was found: "Cannot read R1: file does not exist (/data/x_R1.fastq.gz)". `"file"` is
 * anything but a folder (a FIFO or `/dev/stdin` too, as a command line may pass); `"regular file"` only a
 * regular file, as a service's jobs need: opening a FIFO waits for a writer that may never come.
 */
export async function checkPath(
  path: string,
  kind: "file" | "regular file" | "directory",
  label: string,
  ErrorType: ErrorClass = InputError,
): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      const noun = kind === "directory" ? "directory" : "file";
      throw new ErrorType(Status.FILE_NOT_FOUND, `Cannot read ${label}: ${noun} does not exist (${path})`, {
        cause: err,
      });
    }
    if (err instanceof Deno.errors.PermissionDenied || err instanceof Deno.errors.NotCapable) {
      throw new ErrorType(Status.PERMISSION_DENIED, `Cannot read ${label}: permission denied (${path})`, {
        cause: err,
      });
    }
    throw new ErrorType(Status.IO, `Cannot read ${label}: ${(err as Error).message} (${path})`, {
      cause: err,
    });
  }
  const isDir = info.isDirectory;
  if (kind === "directory" && !isDir) {
    throw new ErrorType(
      Status.INVALID_ARGUMENT,
      `Cannot read ${label}: expected a directory, found a file (${path})`,
    );
  }
  if (kind !== "directory" && isDir) {
    throw new ErrorType(
      Status.INVALID_ARGUMENT,
      `Cannot read ${label}: expected a file, found a directory (${path})`,
    );
  }
  if (kind === "regular file" && !info.isFile) {
    throw new ErrorType(
      Status.INVALID_ARGUMENT,
      `Cannot read ${label}: expected a regular file, found ${special(info)} (${path})`,
    );
  }
}

/**
 * {@link checkPath} for several paths at once: the checks run concurrently (each is a trip to Deno's I/O
 * threads), and the error thrown is the first failing path's in the order given, as if checked one by one.
 */
export async function checkPaths(
  checks: readonly (readonly [path: string, kind: "file" | "regular file" | "directory", label: string])[],
  ErrorType: ErrorClass = InputError,
): Promise<void> {
  await allInOrder(checks.map(([p, k, l]) => checkPath(p, k, l, ErrorType)));
}

/**
 * Waits for every promise, then throws the first rejection in the order given (not the first in time), so
 * that work done concurrently fails as it would have one step after another.
 */
export async function allInOrder(promises: readonly Promise<unknown>[]): Promise<void> {
  for (const s of await Promise.allSettled(promises)) if (s.status === "rejected") throw s.reason;
}
