#!/usr/bin/env bash
# Installs the Debian 12 packages weft needs to build and test, skipping the network entirely
# when everything is already present. Run as root (or with sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  # scripts/build.sh compiles through ccache; the clean-machine stage reuses the host's cache.
  ccache
  # oneDNN's CMake package (dnnl-config.cmake) calls find_package(OpenCL) and fails without its
  # headers and library, which Debian's libdnnl-dev only recommends; we install without recommends.
  libdnnl-dev ocl-icd-opencl-dev libyaml-cpp-dev libfmt-dev libboost-dev libboost-filesystem-dev
  libcli11-dev nlohmann-json3-dev zlib1g-dev liblzma-dev libpng-dev libjpeg62-turbo-dev
  googletest libgtest-dev
  graphviz libgraphviz-dev fonts-liberation2 dataset-fashion-mnist xz-utils
  # PNG pictures (confusion matrices, training curves, graph views) are their SVG rasterised.
  librsvg2-dev
  # scripts/fuzz.sh: clang with its libFuzzer/sanitizer runtimes and OpenMP (gcc's libgomp does
  # not serve clang); Debian only recommends the latter two, and we install without recommends.
  clang libclang-rt-14-dev libomp-14-dev
  # scripts/clean-machine-check.sh (the last stage of scripts/test.sh): a minimal Debian root.
  debootstrap
  # weft export / .onnx graphs: the ONNX protobuf schema (generated onnx.pb.h) and its library;
  # tests/onnx_test.cpp checks exported files with the ONNX checker (python3-onnx).
  libonnx-dev libprotobuf-dev protobuf-compiler python3-onnx
  # Data-parallel training (weft train --distributed, mpirun) and its tests: OpenMPI.
  libopenmpi-dev openmpi-bin
)
# Optional extras used by cross-check tests when present (python3-torch is large): set
# WEFT_WITH_TORCH=1 to install it as well.
if [[ "${WEFT_WITH_TORCH:-0}" == 1 ]]; then packages+=(python3-torch python3-numpy); fi
# The HTML viewer's browser test (tests/viz_test.cpp) drives headless Chromium when it is present
# and skips otherwise; Chromium is a few hundred MB, so set WEFT_WITH_CHROMIUM=1 to install it.
if [[ "${WEFT_WITH_CHROMIUM:-0}" == 1 ]]; then packages+=(chromium); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
