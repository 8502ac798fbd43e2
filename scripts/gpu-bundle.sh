#!/usr/bin/env bash
# Bundles the GPU checks (cuda_test, router_bench) and moesim itself, with the shared libraries
# they link that a bare GPU machine may lack, into build/gpu/ (git-ignored). Run it after
# ./scripts/test.sh; the `device` tool then carries build/gpu over (cuda/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

out=build/gpu
rm -rf "$out"
mkdir -p "$out/lib"
for binary in build/release/tests/cuda_test build/release/bench/router_bench build/release/moesim; do
  [[ -x $binary ]] || { echo "gpu-bundle: $binary is missing: run ./scripts/test.sh first" >&2; exit 1; }
  cp "$binary" "$out/"
  # Every resolved library but the C runtime's own, which must match the target's loader.
  ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux*) ;;
      *) cp -n "$lib" "$out/lib/" ;;
    esac
  done
done
echo "gpu-bundle: $(du -sh "$out" | cut -f1) in $out; on the GPU machine:"
echo "  LD_LIBRARY_PATH=\$PWD/$out/lib $out/cuda_test --gtest_filter='*GpuRouter*'"
echo "  LD_LIBRARY_PATH=\$PWD/$out/lib $out/router_bench --benchmark_filter=Gpu --benchmark_repetitions=3"
