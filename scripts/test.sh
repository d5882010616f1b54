#!/usr/bin/env bash
# The README's second command, and CI's: install what is missing, build, and run the whole test
# suite (which replays every fuzz seed and reproducer, ctest label fuzz_regressions); then the
# whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer in build-asan
# (scripts/asan.sh); then each libFuzzer harness for a bounded time (scripts/fuzz.sh, clang +
# ASan + UBSan); then, as root, the README's two commands again in a fresh Debian 12 root
# (scripts/clean-machine-check.sh), which fails when an install step is missing. docs/ci.md has
# what each stage costs. WEFT_ASAN=0 skips the sanitizer stage; WEFT_FUZZ_SECONDS sets the time per
# fuzzer (default 20; 0 skips that stage); WEFT_CLEAN_MACHINE=0 skips the clean-machine stage;
# WEFT_SUITE_EXCLUDE=REGEX leaves the tests with matching ctest labels out of the test suite stage.
set -euo pipefail
cd "$(dirname "$0")/.."
stage_start=$SECONDS
bash scripts/install-deps.sh
bash scripts/build.sh
echo "test.sh: install check and build took $((SECONDS - stage_start)) s"
stage_start=$SECONDS
exclude=()
[[ -n "${WEFT_SUITE_EXCLUDE:-}" ]] && exclude=(-LE "$WEFT_SUITE_EXCLUDE")
ctest --test-dir build --output-on-failure --parallel "$(nproc)" --timeout 900 "${exclude[@]}"
echo "test.sh: test suite took $((SECONDS - stage_start)) s"
if [[ "${WEFT_ASAN:-1}" != 0 ]]; then
  stage_start=$SECONDS
  bash scripts/asan.sh
  echo "test.sh: ASan/UBSan stage took $((SECONDS - stage_start)) s"
fi
if [[ "${WEFT_FUZZ_SECONDS:-20}" != 0 ]]; then
  stage_start=$SECONDS
  bash scripts/fuzz.sh "${WEFT_FUZZ_SECONDS:-20}"
  echo "test.sh: fuzz stage took $((SECONDS - stage_start)) s"
fi
# The clean-machine stage needs root (debootstrap, chroot); elsewhere it says why it did not run.
if [[ "${WEFT_CLEAN_MACHINE:-1}" != 0 ]]; then
  if [[ $(id -u) -eq 0 ]]; then
    stage_start=$SECONDS
    bash scripts/clean-machine-check.sh
    echo "test.sh: clean-machine stage took $((SECONDS - stage_start)) s"
  else
    echo "test.sh: clean-machine stage skipped: it needs root (debootstrap and chroot)"
  fi
fi
