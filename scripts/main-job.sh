#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the main job — the
# weft-trained IGC-L24M2-D8 in models/ (trained by the command in docs/results.md) evaluated on
# the Fashion-MNIST test set that Debian's dataset-fashion-mnist installs, printing its accuracy
# and speed. The weights file names its graph, data, classes and input normalisation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
build/bin/weft eval --weights models/fashion-mnist-igc-l24m2-d8.safetensors --batch 100
