/**
 * Deno bindings of libbiogpu, the BioGPU Stream AMR engine. This folder is the only code that touches
 * pointers; everything else imports from here.
 *
 * @example
 * ```ts
 * import { Database, Run } from "./ffi/mod.ts";
 * using db = await Database.load("amr.bgdb");
 * using run = new Run(db);
 * const result = await run.analyze("x_R1.fastq.gz", "x_R2.fastq.gz", { backend: "auto" });
 * console.log(result.genes.map((g) => g.gene));
 * ```
 *
 * @module
 */

import { lib, readCString } from "./library.ts";
import { ABI_VERSION } from "./symbols.ts";

export {
  allInOrder,
  CancelledError,
  checkPath,
  checkPaths,
  DatabaseError,
  DeviceError,
  EngineError,
  errorFor,
  InputError,
  Status,
  statusCode,
  type StatusName,
} from "./errors.ts";
export { type BuildOptions, Database } from "./database.ts";
export {
  type EngineResult,
  type GeneCall,
  type MutationCall,
  type Progress,
  Run,
  type RunOptions,
  type SiteCall,
  type Stage,
  STAGES,
} from "./run.ts";
export { checkAbi, libraryPath } from "./library.ts";
export { ABI_VERSION };

/** What the loaded engine is and can do. */
export interface EngineInfo {
  /** `bg_abi_version()`. */
  abi: number;
  /** `bg_version_string()`. */
  version: string;
  /** Built with the CUDA backend. */
  cudaCompiled: boolean;
  /** Usable CUDA devices now (0 when none or not compiled in). */
  cudaDevices: number;
}

/** Loads the engine (if not yet) and describes it. Throws `Error("Cannot load libbiogpu …")` when missing. */
export function engineInfo(): EngineInfo {
  const s = lib();
  return {
    abi: s.bg_abi_version(),
    version: readCString(s.bg_version_string()),
    cudaCompiled: s.bg_cuda_compiled() !== 0,
    cudaDevices: s.bg_cuda_device_count(),
  };
}

/** The engine's own name of a status (`bg_status_name`), e.g. `"BG_ERR_CORRUPT_GZIP"`. */
export function engineStatusName(status: number): string {
  return readCString(lib().bg_status_name(status));
}
