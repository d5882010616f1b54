#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the main job — an IGC
# network from graphs/ (IGC-L24M2, depth 20) on built-in input, printing what it computed and
# how fast.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
build/bin/weft run igc-l24m2-d20 --batch 64 --input random
