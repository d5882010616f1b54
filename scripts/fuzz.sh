#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ with clang (ASan + UBSan) into ./build-fuzz and runs each
# for SECONDS (default 30) on a copy of its seed corpus. Exits non-zero when any harness finds
# something (crash, sanitizer report, leak, uncaught non-weft::Error exception, >10 s on one
# input, >2 GB); libFuzzer leaves the reproducer as build-fuzz/findings/<harness>/crash-* etc.
# A reproducer belongs in fuzz/regressions/<harness>/ once fixed: ctest replays it from there.
# Extra libFuzzer flags: WEFT_FUZZ_FLAGS="-jobs=2 -workers=2" bash scripts/fuzz.sh 600
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
harnesses=(fuzz_graph_file fuzz_safetensors fuzz_dataset_readers)

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f build-fuzz/CMakeCache.txt ]]; then
  # Tests off: the fuzz build only needs the harnesses and the operator schemas they load.
  CC=clang CXX=clang++ cmake -S . -B build-fuzz "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DWEFT_FUZZ=ON -DWEFT_BUILD_TESTS=OFF -DWEFT_CUDA=OFF
fi
cmake --build build-fuzz --parallel "${WEFT_BUILD_JOBS:-$(nproc)}" --target "${harnesses[@]}"

# Leaks are findings (detect_leaks is on by default in libFuzzer builds); a UBSan report aborts so
# libFuzzer records it as a crash with its input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp:print_suppressions=0}
status=0
for harness in "${harnesses[@]}"; do
  work=build-fuzz/corpus/$harness findings=build-fuzz/findings/$harness
  # Findings of an earlier run stay until the next run of the same harness.
  rm -rf "$findings"
  mkdir -p "$work" "$findings"
  # New inputs go to the working corpus in build-fuzz, never into the committed seeds.
  cp -n fuzz/corpus/"$harness"/* "$work"/ 2>/dev/null || true
  echo "fuzz.sh: $harness for ${seconds}s"
  rc=0
  # shellcheck disable=SC2086  # WEFT_FUZZ_FLAGS is a list of flags
  build-fuzz/fuzz/"$harness" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$findings/" -print_final_stats=1 ${WEFT_FUZZ_FLAGS:-} \
    >build-fuzz/"$harness".log 2>&1 || rc=$?
  tail -n 20 build-fuzz/"$harness".log
  if ((rc != 0)) || compgen -G "$findings/*" >/dev/null; then
    echo "fuzz.sh: $harness FOUND A PROBLEM (exit $rc): see build-fuzz/$harness.log and $findings/" >&2
    status=1
  fi
done
exit $status
