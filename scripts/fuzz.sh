#!/usr/bin/env bash
# Builds the libFuzzer targets (the fuzz preset: clang, ASan, UBSan) and runs each for SECONDS
# (default 60) on its corpus in build/fuzz/corpus/<target>, seeded from scenarios/ and the test
# fixtures on the first run. A finding stops the script with the fuzzer's report and the input
# it saved (crash-*, leak-*, timeout-*) in build/fuzz/findings/; turn each into a regression test.
#   scripts/fuzz.sh             # 60 s per target
#   scripts/fuzz.sh 600         # what an issue's "done" asks for
#   scripts/fuzz.sh 30 fuzz_trace_h5
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(fuzz_scenario fuzz_run fuzz_sweep fuzz_trace_csv fuzz_trace_h5 fuzz_nccl_tests_log fuzz_deepep_log fuzz_expert_loads fuzz_hf_config fuzz_trace_tables fuzz_torch_dump)
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target "${targets[@]}"
mkdir -p build/fuzz/findings
for t in "${targets[@]}"; do
  mkdir -p "build/fuzz/corpus/$t"
  echo "== $t: ${seconds} s"
  max_len=4096
  [ "$t" = fuzz_trace_h5 ] && max_len=16384  # the seed traces are 5 and 11 KB
  timeout=2
  # A whole run of a DeepSeek-V3-shaped seed takes about 1.5 s under the sanitizers, twice over.
  [ "$t" = fuzz_run ] && timeout=10
  # -rss_limit_mb: moesim refuses what would need more; -timeout: no input may take two seconds
  # (ten for whole runs).
  # allocator_may_return_null: a failed malloc returns NULL as it does outside ASan (libhdf5 asks
  # for absurd sizes on corrupt files and handles the NULL); moesim's own `new` still throws.
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp ./build/fuzz/tests/fuzz/"$t" "build/fuzz/corpus/$t" -max_total_time="$seconds" -max_len="$max_len" \
    -timeout="$timeout" -rss_limit_mb=2048 -artifact_prefix="build/fuzz/findings/$t-" -print_final_stats=1 2>&1 |
    grep -E "^(INFO: Seed|#[0-9]+.*DONE|stat::number_of_executed_units|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)" || true
  if ls build/fuzz/findings/"$t"-* >/dev/null 2>&1; then
    echo "fuzz: $t found an input that fails; see build/fuzz/findings/" >&2
    exit 1
  fi
done
echo "fuzz: no findings in ${#targets[@]} targets x ${seconds} s"
