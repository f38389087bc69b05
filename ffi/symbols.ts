/**
 * The FFI symbols table of libbiogpu, one entry per function of cuda/include/biogpu.h.
 * The C declaration is in the comment beside each entry. Long calls are `nonblocking`.
 *
 * @module
 */

/** ABI version this build of the Deno side is written against (`BG_ABI_VERSION`). */
export const ABI_VERSION = 2;

/** Symbols of libbiogpu. */
export const symbols = {
  // uint32_t bg_abi_version(void)
  bg_abi_version: { parameters: [], result: "u32" },
  // const char *bg_version_string(void)
  bg_version_string: { parameters: [], result: "pointer" },
  // const char *bg_status_name(int32_t status)
  bg_status_name: { parameters: ["i32"], result: "pointer" },
  // int32_t bg_cuda_compiled(void)
  bg_cuda_compiled: { parameters: [], result: "i32" },
  // int32_t bg_cuda_device_count(void)
  bg_cuda_device_count: { parameters: [], result: "i32" },

  // bg_db_t *bg_db_new(void)
  bg_db_new: { parameters: [], result: "pointer" },
  // void bg_db_free(bg_db_t *db)
  bg_db_free: { parameters: ["pointer"], result: "void" },
  // bg_status_t bg_db_build(bg_db_t *db, const char *resfinder_dir, const char *pointfinder_dir,
  //                         const char *species_csv)
  bg_db_build: { parameters: ["pointer", "buffer", "buffer", "buffer"], result: "i32", nonblocking: true },
  // bg_status_t bg_db_save(bg_db_t *db, const char *path)
  bg_db_save: { parameters: ["pointer", "buffer"], result: "i32", nonblocking: true },
  // bg_status_t bg_db_load(bg_db_t *db, const char *path)
  bg_db_load: { parameters: ["pointer", "buffer"], result: "i32", nonblocking: true },
  // const char *bg_db_info_json(bg_db_t *db)
  bg_db_info_json: { parameters: ["pointer"], result: "pointer" },
  // const char *bg_db_errmsg(const bg_db_t *db)
  bg_db_errmsg: { parameters: ["pointer"], result: "pointer" },

  // void bg_run_options_init(bg_run_options_t *opts)
  bg_run_options_init: { parameters: ["buffer"], result: "void" },
  // bg_status_t bg_run_options_check(const bg_run_options_t *opts, char *msg, size_t msg_len)
  bg_run_options_check: { parameters: ["buffer", "buffer", "usize"], result: "i32" },

  // bg_run_t *bg_run_new(const bg_db_t *db)
  bg_run_new: { parameters: ["pointer"], result: "pointer" },
  // void bg_run_free(bg_run_t *run)
  bg_run_free: { parameters: ["pointer"], result: "void" },
  // bg_status_t bg_run_analyze(bg_run_t *run, const bg_run_options_t *opts, const char *r1_path,
  //                            const char *r2_path)
  bg_run_analyze: { parameters: ["pointer", "buffer", "buffer", "buffer"], result: "i32", nonblocking: true },
  // bg_status_t bg_run_progress(const bg_run_t *run, bg_progress_t *out)
  bg_run_progress: { parameters: ["pointer", "buffer"], result: "i32" },
  // void bg_run_cancel(bg_run_t *run)
  bg_run_cancel: { parameters: ["pointer"], result: "void" },
  // const char *bg_run_result_json(const bg_run_t *run, size_t *len)
  bg_run_result_json: { parameters: ["pointer", "buffer"], result: "pointer" },
  // const char *bg_run_errmsg(const bg_run_t *run)
  bg_run_errmsg: { parameters: ["pointer"], result: "pointer" },
  // bg_status_t bg_run_last_status(const bg_run_t *run)
  bg_run_last_status: { parameters: ["pointer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened library's callable symbols. */
export type Symbols = Deno.DynamicLibrary<typeof symbols>["symbols"];
