#!/usr/bin/env bash
# Times weft and a PyTorch reference of the same networks in one run on this machine and prints
# one table (the performance targets are ratios measured this way).
#
#   scripts/bench-vs-torch.sh TORCH_REFERENCE.py [BATCH] [THREADS] [NETS...]
#
# TORCH_REFERENCE.py takes --kind igc|reg --L --M --W --depth --batch --threads [--train] and
# prints "... X ms/iter ..." (Debian's python3-torch runs it). NETS are zoo ids of the plain
# CIFAR families (igc-lLmM-dD, regconv-wW-dD); default: igc-l24m2-d20 regconv-w16-d20.
# TRAIN=1 times whole training steps (forward, backward, SGD) on both sides instead.
set -euo pipefail
ref=${1:?usage: $0 TORCH_REFERENCE.py [BATCH] [THREADS] [NETS...]}
batch=${2:-64}
threads=${3:-2}
shift $(( $# < 3 ? $# : 3 ))
nets=("$@")
((${#nets[@]})) || nets=(igc-l24m2-d20 regconv-w16-d20)
weft=${WEFT:-$(dirname "$0")/../build/bin/weft}
python=${PYTHON:-/usr/bin/python3}
mode=(); label=infer
if [[ "${TRAIN:-0}" == 1 ]]; then mode=(--train); label=train; fi

printf "%-18s %6s %8s %6s %12s %12s %8s\n" net batch threads mode "weft ms" "torch ms" "speedup"
for net in "${nets[@]}"; do
  if [[ $net =~ ^igc-l([0-9]+)m([0-9]+)-d([0-9]+)$ ]]; then
    args=(--kind igc --L "${BASH_REMATCH[1]}" --M "${BASH_REMATCH[2]}" --depth "${BASH_REMATCH[3]}")
  elif [[ $net =~ ^regconv-w([0-9]+)-d([0-9]+)$ ]]; then
    args=(--kind reg --W "${BASH_REMATCH[1]}" --depth "${BASH_REMATCH[2]}")
  else
    echo "unsupported net $net" >&2; exit 2
  fi
  w=$("$weft" bench "$net" --batch "$batch" --threads "$threads" "${mode[@]}" --json | sed -n 's/.*"ms_per_batch": \([0-9.]*\).*/\1/p')
  t=$(OMP_NUM_THREADS=$threads "$python" "$ref" "${args[@]}" --batch "$batch" --threads "$threads" --iters 20 "${mode[@]}" \
      | sed -n 's/.* \([0-9.]*\) ms\/iter.*/\1/p')
  printf "%-18s %6s %8s %6s %12.2f %12.2f %7.2fx\n" "$net" "$batch" "$threads" "$label" "$w" "$t" "$(awk -v t="$t" -v w="$w" 'BEGIN{print t/w}')"
done
