#!/usr/bin/env bash
# Times `weft bench` at 1 thread, at 2 fixed threads (--fixed-threads) and at up to 2 threads
# sized to the free cores (the default), beside one busy process and on otherwise idle cores,
# alternating the configurations round by round (a shared machine's speed drifts between rounds).
# Prints one line per run: round, load, network, mode, configuration, median ms per batch.
#
#   scripts/threads-under-load.sh [WEFT] [ROUNDS] [NETS...]
#
# WEFT defaults to build/bin/weft, ROUNDS to 5, NETS to igc-l24m2-d20 regconv-w16-d20. Batch 64.
# The medians of the rounds and their ratios are in docs/performance.md ("CPU round four").
set -euo pipefail
weft=${1:-build/bin/weft}
rounds=${2:-5}
shift $(( $# < 2 ? $# : 2 ))
nets=("$@")
((${#nets[@]})) || nets=(igc-l24m2-d20 regconv-w16-d20)

busy_pid=
stop_busy() {
    [[ -z $busy_pid ]] && return
    kill "$busy_pid" 2>/dev/null
    wait "$busy_pid" 2>/dev/null || true
    busy_pid=
}
trap stop_busy EXIT

run() {  # round load net mode label args...
    local round=$1 load=$2 net=$3 mode=$4 label=$5
    shift 5
    local train=()
    [[ $mode == train ]] && train=(--train)
    local ms
    ms=$("$weft" bench "$net" --batch 64 "${train[@]}" "$@" --json --quiet |
        python3 -c 'import json,sys; print(round(json.load(sys.stdin)["ms_per_batch"], 1))')
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$load" "$net" "$mode" "$label" "$ms"
}

printf 'round\tload\tnet\tmode\tthreads\tms\n'
for ((r = 1; r <= rounds; ++r)); do
    for load in busy idle; do
        if [[ $load == busy ]]; then
            sh -c 'while :; do :; done' &
            busy_pid=$!
        fi
        for net in "${nets[@]}"; do
            for mode in train infer; do
                if [[ $load == busy ]]; then run "$r" $load "$net" $mode 1 --threads 1; fi
                run "$r" $load "$net" $mode 2-fixed --threads 2 --fixed-threads
                run "$r" $load "$net" $mode 2-adapting --threads 2
            done
        done
        stop_busy
    done
done
