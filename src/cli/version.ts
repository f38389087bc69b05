/**
 * `biogpu version`: the program's and the engine's versions and CUDA availability.
 *
 * @module
 */

import config from "../../deno.json" with { type: "json" };
import { engineInfo, libraryPath } from "../../ffi/mod.ts";
import { HelpRequested, parseFlags, reportError } from "./args.ts";

/** Version of this program (deno.json). */
export const APP_VERSION: string = config.version;

/** Prints versions; exit code 1 (with the reason) when the engine cannot be loaded. */
export function versionCommand(args: readonly string[]): Promise<number> {
  try {
    parseFlags(args, {});
  } catch (err) {
    if (err instanceof HelpRequested) {
      console.log(
        "Usage: biogpu version\n\nPrints the program's and the engine's versions and CUDA availability.",
      );
      return Promise.resolve(0);
    }
    return Promise.resolve(reportError(err));
  }
  console.log(`biogpu-stream ${APP_VERSION}`);
  try {
    const info = engineInfo();
    const cuda = info.cudaCompiled ? `CUDA compiled, ${info.cudaDevices} device(s)` : "CUDA not compiled";
    console.log(`engine ${info.version} (ABI ${info.abi}, ${cuda}) from ${libraryPath()}`);
    return Promise.resolve(0);
  } catch (err) {
    return Promise.resolve(reportError(err));
  }
}
