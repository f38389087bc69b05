#!/usr/bin/env bash
# The engine's Deno tests against the library built with AddressSanitizer and UndefinedBehaviorSanitizer
# (`make -C cuda sanitize` builds it in cuda/build/sanitize): real samples through the FFI, so the mapping,
# quantification, mixture and report code runs under the sanitizers on real data, not only the C tests' inputs.
# The sanitizer runtimes are preloaded into Deno; leaks are not checked (Deno's own allocations would be).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
lib=cuda/build/sanitize/libbiogpu.so
make -s -C cuda sanitize-lib # up to date with the sources (a stale one would test old code)
preload="$(readlink -f "$(gcc -print-file-name=libasan.so)") $(readlink -f "$(gcc -print-file-name=libubsan.so)")"
ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  LD_PRELOAD="$preload" BIOGPU_LIB="$PWD/$lib" \
  deno test -A ffi/ src/engine/ tests/mixture_test.ts tests/adapter_test.ts tests/divergent_allele_test.ts \
  tests/engine_test.ts tests/art_test.ts tests/pointfinder_calls_test.ts tests/aa_insertion_test.ts tests/catalogue_test.ts \
  tests/long_indel_test.ts tests/species_test.ts tests/resfinder_alleles_test.ts \
  tests/bad_input_test.ts tests/conformance_test.ts tests/engine_progress_test.ts "$@"
