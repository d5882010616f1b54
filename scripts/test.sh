#!/usr/bin/env bash
# The README's second command: install what is missing, build, and run the whole test suite
# (which replays every fuzz seed and reproducer, ctest label fuzz_regressions); then each libFuzzer
# harness for a bounded time (scripts/fuzz.sh, clang + ASan + UBSan), as CI does
# (docs/robustness.md). WEFT_FUZZ_SECONDS sets the time per fuzzer (default 60; 0 skips the
# stage). WEFT_ASAN=1 also runs the whole suite under ASan + UBSan (scripts/asan.sh); it is not
# part of the default run yet: its full-suite time on a 2-core machine has not been measured.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure --parallel "$(nproc)" --timeout 900
if [[ "${WEFT_ASAN:-0}" == 1 ]]; then
  stage_start=$SECONDS
  bash scripts/asan.sh
  echo "test.sh: ASan/UBSan stage took $((SECONDS - stage_start)) s"
fi
if [[ "${WEFT_FUZZ_SECONDS:-60}" != 0 ]]; then
  stage_start=$SECONDS
  bash scripts/fuzz.sh "${WEFT_FUZZ_SECONDS:-60}"
  echo "test.sh: fuzz stage took $((SECONDS - stage_start)) s"
fi
