#!/usr/bin/env bash
# The README's second command, and CI's: install what is missing, build, and run the whole test
# suite (which replays every fuzz seed and reproducer, ctest label fuzz_regressions); then the
# whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer in build-asan
# (scripts/asan.sh); then each libFuzzer harness for a bounded time (scripts/fuzz.sh, clang +
# ASan + UBSan). docs/robustness.md has what each stage costs. WEFT_ASAN=0 skips the sanitizer
# stage; WEFT_FUZZ_SECONDS sets the time per fuzzer (default 60; 0 skips that stage).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure --parallel "$(nproc)" --timeout 900
if [[ "${WEFT_ASAN:-1}" != 0 ]]; then
  stage_start=$SECONDS
  bash scripts/asan.sh
  echo "test.sh: ASan/UBSan stage took $((SECONDS - stage_start)) s"
fi
if [[ "${WEFT_FUZZ_SECONDS:-60}" != 0 ]]; then
  stage_start=$SECONDS
  bash scripts/fuzz.sh "${WEFT_FUZZ_SECONDS:-60}"
  echo "test.sh: fuzz stage took $((SECONDS - stage_start)) s"
fi
