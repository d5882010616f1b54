#!/usr/bin/env bash
# Times weft and a PyTorch reference of the same networks in one run on this machine and prints
# one table (the performance targets are ratios measured this way).
#
#   scripts/bench-vs-torch.sh TORCH_REFERENCE.py [BATCH] [THREADS] [NETS...]
#
# TORCH_REFERENCE.py takes --kind igc|reg --L --M --W --depth --batch --threads [--train] and
# prints "... X ms/iter ..." (Debian's python3-torch runs it); NETS are then zoo ids of the plain
# CIFAR families it knows (igc-lLmM-dD, regconv-wW-dD). TORCH_REFERENCE `graph` instead rebuilds
# each network in PyTorch from weft's own graph (scripts/torch_graph_bench.py), so NETS may be any
# zoo id or graph file. Default NETS: igc-l24m2-d20 regconv-w16-d20.
# TRAIN=1 times whole training steps (forward, backward, SGD) on both sides instead. ITERS sets
# the PyTorch side's timed iterations (default 20), WARMUP its untimed ones (graph reference only,
# default 3): the Table 7 networks take seconds per batch. The last column is weft's arithmetic rate.
set -euo pipefail
ref=${1:?usage: $0 TORCH_REFERENCE.py|graph [BATCH] [THREADS] [NETS...]}
batch=${2:-64}
threads=${3:-2}
shift $(( $# < 3 ? $# : 3 ))
nets=("$@")
((${#nets[@]})) || nets=(igc-l24m2-d20 regconv-w16-d20)
weft=${WEFT:-$(dirname "$0")/../build/bin/weft}
python=${PYTHON:-/usr/bin/python3}
mode=(); label=infer
if [[ "${TRAIN:-0}" == 1 ]]; then mode=(--train); label=train; fi

iters=${ITERS:-20}
printf "%-18s %6s %8s %6s %12s %12s %8s %10s\n" net batch threads mode "weft ms" "torch ms" "speedup" "weft GF/s"
graph_json=$(mktemp --suffix=.json)
trap 'rm -f "$graph_json"' EXIT
for net in "${nets[@]}"; do
  if [[ $ref == graph ]]; then
    "$weft" viz "$net" -o "$graph_json" >/dev/null
    ref_command=("$python" "$(dirname "$0")/torch_graph_bench.py" "$graph_json" --warmup "${WARMUP:-3}")
  elif [[ $net =~ ^igc-l([0-9]+)m([0-9]+)-d([0-9]+)$ ]]; then
    args=(--kind igc --L "${BASH_REMATCH[1]}" --M "${BASH_REMATCH[2]}" --depth "${BASH_REMATCH[3]}")
  elif [[ $net =~ ^regconv-w([0-9]+)-d([0-9]+)$ ]]; then
    args=(--kind reg --W "${BASH_REMATCH[1]}" --depth "${BASH_REMATCH[2]}")
  else
    echo "unsupported net $net (use the graph reference for it)" >&2; exit 2
  fi
  [[ $ref == graph ]] || ref_command=("$python" "$ref" "${args[@]}")
  json=$("$weft" bench "$net" --batch "$batch" --threads "$threads" "${mode[@]}" --json)
  w=$(sed -n 's/.*"ms_per_batch": \([0-9.]*\).*/\1/p' <<<"$json")
  gf=$(sed -n 's/.*"gflops": \([0-9.]*\).*/\1/p' <<<"$json")
  t=$(OMP_NUM_THREADS=$threads "${ref_command[@]}" --batch "$batch" --threads "$threads" --iters "$iters" "${mode[@]}" \
      | sed -n 's/.* \([0-9.]*\) ms\/iter.*/\1/p')
  printf "%-18s %6s %8s %6s %12.2f %12.2f %7.2fx %10.1f\n" "$net" "$batch" "$threads" "$label" "$w" "$t" \
    "$(awk -v t="$t" -v w="$w" 'BEGIN{print t/w}')" "$gf"
done
