#!/usr/bin/env bash
# Configures and builds weft into ./build (Release). Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# C and C++ compile through ccache where it is installed (scripts/install-deps.sh installs it):
# a rebuild after a checkout or `git clean` costs seconds, and scripts/clean-machine-check.sh lends
# the host's cache to the clean root. CCACHE_BASEDIR makes the paths of this checkout relative, so
# another clone of the same sources (another directory, the clean root) hits the same entries;
# CCACHE_COMPILERCHECK=content identifies the compiler by its bytes rather than by its file's
# date, which differs between two installs of the same package. A miss, a header that is not
# there or a different compiler simply compiles: a cache hit is the object the compiler would make.
launcher=()
if command -v ccache >/dev/null; then
  cached="env;CCACHE_BASEDIR=$PWD;CCACHE_COMPILERCHECK=content;ccache"
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER="$cached" -DCMAKE_CXX_COMPILER_LAUNCHER="$cached")
fi
if [[ ! -f build/CMakeCache.txt ]]; then
  cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "$@"
elif (($#)); then
  cmake -S . -B build "$@"
fi
cmake --build build --parallel "$(nproc)"
