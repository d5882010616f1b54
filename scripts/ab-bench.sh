#!/usr/bin/env bash
# Compares two weft builds (or one build under two environments) on one `weft bench` command, in
# alternating rounds on the same machine: on a shared machine the load moves between minutes, so
# only measurements taken side by side are compared (docs/performance.md).
#
#   scripts/ab-bench.sh ROUNDS A B -- BENCH_ARGS...
#
# A and B are each a weft binary, optionally preceded by VAR=VALUE settings, as one word:
# "WEFT_SMALL_GROUPS_INPUT=padded build/bin/weft". Each round runs A then B with
# `bench BENCH_ARGS --json --quiet`; the output is each side's median and minimum milliseconds
# per batch (or per training step) and the median of the rounds' B/A ratios.
set -euo pipefail
if [[ $# -lt 4 || $4 != "--" ]]; then
  echo "usage: $0 ROUNDS A B -- BENCH_ARGS... (A, B: '[VAR=VALUE ...] path/to/weft')" >&2
  exit 2
fi
rounds=$1 a=$2 b=$3
shift 4
if [[ ! $rounds =~ ^[1-9][0-9]*$ ]]; then
  echo "$0: ROUNDS must be a positive whole number, not '$rounds'" >&2
  exit 2
fi

# One run of side $1: its milliseconds per batch.
run() {
  local side=$1 json
  shift
  # shellcheck disable=SC2086  # the side's words are its settings and its binary
  if ! json=$(env $side bench "$@" --json --quiet); then
    echo "$0: '$side bench $*' failed" >&2
    exit 1
  fi
  python3 -c 'import json, sys; print(json.loads(sys.argv[1])["ms_per_batch"])' "$json"
}

as=() bs=()
for ((r = 1; r <= rounds; r++)); do
  as+=("$(run "$a" "$@")")
  bs+=("$(run "$b" "$@")")
  echo "round $r/$rounds: A ${as[-1]} ms, B ${bs[-1]} ms" >&2
done
python3 - "$a" "$b" "${as[*]}" "${bs[*]}" <<'EOF'
import statistics, sys
a, b = sys.argv[1], sys.argv[2]
xs = [float(v) for v in sys.argv[3].split()]
ys = [float(v) for v in sys.argv[4].split()]
for name, v in ((a, xs), (b, ys)):
    print(f"{name}: median {statistics.median(v):.2f} ms, min {min(v):.2f} ms")
print(f"B/A: {statistics.median(y / x for x, y in zip(xs, ys)):.3f} (median of {len(xs)} rounds' ratios)")
EOF
