#!/usr/bin/env bash
# GPU check (`deno task test:gpu`, or `bash scripts/gpu_check.sh` on the lent GPU machine, which has
# nvcc, make and python3 but no Deno, no network and no Debian AMR packages).
#
#   bash scripts/gpu_check.sh prepare   here: bundle the ResFinder/PointFinder files and ISA-L into gpu-bundle/
#   bash scripts/gpu_check.sh [run]     build with nvcc, run the conformance suite (CPU 1 thread, CPU all
#                                       threads, every CUDA device, plain and bgzip input, bgzip with and
#                                       without inflate helper threads: byte-identical results) and the
#                                       engine benchmark (read pairs/s per backend and input, a lab-like
#                                       sample with 99 % background and a family-heavy one; the bgzip pair
#                                       through the reader alone with 0-8 helper threads per file); ~2-4 minutes
# With the device tool: run `prepare` here, then run the script there with carry ["gpu-bundle"].
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
B=gpu-bundle
case "${1:-run}" in
  prepare)
    rm -rf "$B" && mkdir -p "$B/resfinder" "$B/pointfinder" "$B/isal/include" "$B/isal/lib"
    cp /usr/share/resfinder/db/*.fsa /usr/share/resfinder/db/{phenotypes.txt,config,history.txt} "$B/resfinder/"
    cp -r /usr/share/doc/resfinder/examples/db_pointfinder/{escherichia_coli,VERSION} "$B/pointfinder/"
    cp -r /usr/include/isa-l /usr/include/isa-l.h "$B/isal/include/"
    cp -P /usr/lib/x86_64-linux-gnu/libisal.so* "$B/isal/lib/"
    du -sh "$B"
    ;;
  run)
    isal=()
    [[ -d "$B/isal" ]] && isal=(ISAL_DIR="$PWD/$B/isal")
    rf=/usr/share/resfinder/db pf=/usr/share/doc/resfinder/examples/db_pointfinder
    [[ -d "$B/resfinder" ]] && rf="$PWD/$B/resfinder" pf="$PWD/$B/pointfinder"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    make -s -C cuda clean
    make -s -C cuda -j"$(nproc)" all build/tests/conformance "${isal[@]}"
    echo "== conformance (60k pairs)"
    cuda/build/tests/conformance --resfinder "$rf" --pointfinder "$pf" --pairs 60000
    echo "== benchmark (${BENCH_PAIRS:-2000000} pairs, 99 % background as in a lab sample)"
    cuda/build/tests/conformance --resfinder "$rf" --pointfinder "$pf" --bench "${BENCH_PAIRS:-2000000}" --background 0.99
    echo "== benchmark (${BENCH_PAIRS:-2000000} pairs, 90 % background: family-heavy, mapping-bound)"
    cuda/build/tests/conformance --resfinder "$rf" --pointfinder "$pf" --bench "${BENCH_PAIRS:-2000000}"
    ;;
  *) echo "usage: $0 [prepare|run]" >&2; exit 2 ;;
esac
