#!/usr/bin/env bash
# The prepared GPU check: everything a machine with one NVIDIA GPU (CUDA driver, PyTorch with its
# cuDNN and cuBLAS wheels, no network, no weft build) runs in one go to verify the cuda backend
# and kernels and to time weft against PyTorch on the same card. docs/cuda.md has the details.
#
#   bash scripts/gpu-check.sh prepare   here: builds build-gpu/ (CUDA on) and packs gpu-bundle/
#                                       (binaries, plugins, the Debian libraries they need,
#                                       Fashion-MNIST), which travels with the repository
#   bash scripts/gpu-check.sh run       there, from the repository root: unpacks, finds CUDA's
#                                       libraries through Python, then GPU tests, ONNX Runtime
#                                       against weft (docs/onnx.md), benchmark,
#                                       Fashion-MNIST training on the GPU, its evaluation on the
#                                       CPU; one table at the end, logs and JSON in $OUT
#   bash scripts/gpu-check.sh local     here: the same as run on a copy in a temporary directory,
#                                       as far as a machine without a GPU gets (it stops, with
#                                       status 0, where the CUDA driver is missing)
#
# `run` keeps to GPU_CHECK_SECONDS (default 480) in all: each stage has a budget, and a stage
# cut short says so in the table. Where the cuda backend cannot run, `run` stops with status 3
# naming the reason. GPU_CHECK_DEVICE=cpu rehearses every stage on the CPU instead (the script's
# own plumbing: the GPU tests then skip, and the numbers mean nothing), best with a smaller
# GPU_CHECK_BATCH (benchmark, default 256) and GPU_CHECK_TRAIN_LIMIT (images per split, default
# all) and GPU_CHECK_EPOCHS (default 15).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bundle=$root/gpu-bundle
build_name=build-gpu
# The ctest names of tests that need a GPU contain "cuda" (cuda_backend_test.*, sgd_cuda_test.*,
# *Cuda* cases); their binaries also hold the CPU tests they compare against.
gpu_tests_regex='[Cc][Uu][Dd][Aa]'
nets=(igc-l24m2-d20 regconv-w16-d20)
bench_batch=${GPU_CHECK_BATCH:-256}
# docs/results.md's Fashion-MNIST recipe.
train_epochs=${GPU_CHECK_EPOCHS:-15}
train_args=(igc-l24m2-d8 --set in_channels=1 --set size=28 --epochs "$train_epochs" --batch 64 --lr 0.1
            --schedule cosine --pad 2 --seed 1)
eval_args=()
if [[ -n ${GPU_CHECK_TRAIN_LIMIT:-} ]]; then
    train_args+=(--limit-train "$GPU_CHECK_TRAIN_LIMIT" --limit-test "$GPU_CHECK_TRAIN_LIMIT")
    eval_args+=(--limit "$GPU_CHECK_TRAIN_LIMIT")
fi
# Libraries never carried: the C library's family (every Linux has its own) and CUDA's (the GPU
# machine's driver and PyTorch's wheels provide them, in the versions that match the driver).
never_carried='^(linux-vdso|ld-linux-x86-64|libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil)\.so'
never_carried+='|^lib(cuda|cudart|cublas|cublasLt|cudnn[a-z_]*|nvrtc|nvJitLink|nccl)\.so'

say() { printf 'gpu-check: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }

# The ELF executables and shared libraries under the given directories (by their first four
# bytes: the GPU machine may have no `file`).
elf_files() {
    local f
    while IFS= read -r -d '' f; do
        [[ $(head -c 4 "$f") == $'\x7fELF' ]] && printf '%s\n' "$f"
    done < <(find "$@" -type f \( -name '*.so*' -o -perm -u+x \) -print0)
    return 0
}

# ---------------------------------------------------------------------------------------------
# prepare

prepare() {
    command -v nvcc >/dev/null || [[ -x /usr/local/cuda/bin/nvcc ]] || die "no nvcc: the CUDA toolkit is needed to build"
    local launcher=()
    if command -v ccache >/dev/null; then
        launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
    fi
    cmake -S . -B "$build_name" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWEFT_CUDA=ON "${launcher[@]}" >/dev/null
    cmake --build "$build_name" --parallel "$(nproc)" --target gpu_check_targets
    local stage
    stage=$(mktemp -d)
    pack_tree "$stage/$build_name"
    pack_libraries "$stage/$build_name"
    rm -rf "$bundle"
    mkdir -p "$bundle/fashion-mnist"
    say "compressing the tree (xz)"
    tar -C "$stage" -cf - "$build_name" | xz -T"$(nproc)" -6 >"$bundle/weft-gpu.tar.xz"
    rm -rf "$stage"
    # Recompressed with xz (the IDX reader takes either): 22.6 MB instead of gzip's 26.4 MB for
    # the training images, room the 64 MiB a device call carries needs.
    say "recompressing Fashion-MNIST (xz)"
    local idx
    for idx in /usr/share/datasets/fashion-mnist/*-ubyte.gz; do
        [[ -f $idx ]] || die "Fashion-MNIST is missing (Debian's dataset-fashion-mnist package)"
        zcat "$idx" | xz -9 -T"$(nproc)" >"$bundle/fashion-mnist/$(basename "$idx" .gz).xz"
    done
    local changes=
    git diff --quiet HEAD || changes=" with uncommitted changes"
    cat >"$bundle/manifest" <<EOF
source_dir=$root
commit=$(git rev-parse --short HEAD)$changes
prepared=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cuda_libraries=$(ldd "$build_name/lib/weft/plugins/libweft_backend_cuda.so" \
    $(ls "$build_name"/lib/libweft_nccl.so 2>/dev/null) |
    awk '$1 ~ /^lib(cudart|cublas|cublasLt|cudnn|nccl)\.so/ {print $1}' | sort -u | tr '\n' ' ')
EOF
    report_size
}

# The runner, plugins, graph files and the GPU tests' binaries of build-gpu, at the same relative
# paths (the tests know their build tree by its absolute path: `run` makes that path lead there).
pack_tree() {
    local tree=$1
    mkdir -p "$tree/bin" "$tree/lib" "$tree/tests"
    cp -a "$build_name/bin/weft" "$tree/bin/"
    cp -a "$build_name"/lib/libweft_core.so* "$build_name/lib/weft" "$tree/lib/"
    # The NCCL exchange, where the CUDA build found NCCL (tests/nccl_*cuda_test).
    if compgen -G "$build_name/lib/libweft_nccl.so*" >/dev/null; then
        cp -a "$build_name"/lib/libweft_nccl.so* "$tree/lib/"
    fi
    cp -a "$build_name/share" "$tree/"
    if [[ -d $build_name/tests/plugin_fixtures ]]; then cp -a "$build_name/tests/plugin_fixtures" "$tree/tests/"; fi
    # The tests that need the GPU, grouped by binary: "<binary>\t<working dir>\t<gtest filter>".
    ctest --test-dir "$build_name" --show-only=json-v1 -R "$gpu_tests_regex" >"$tree/ctest.json"
    python3 - "$build_name" "$tree/ctest.json" >"$tree/gpu-tests.tsv" <<'PY'
import json, os, sys
build = os.path.realpath(sys.argv[1])
by_binary = {}
for test in json.load(open(sys.argv[2]))["tests"]:
    command = test.get("command") or []
    filters = [a.split("=", 1)[1] for a in command[1:] if a.startswith("--gtest_filter=")]
    if not command or not filters:
        sys.exit("gpu-check: test %s is not a GoogleTest case: it cannot run without ctest" % test["name"])
    workdir = next((p["value"] for p in test.get("properties", []) if p["name"] == "WORKING_DIRECTORY"), build)
    key = (os.path.relpath(os.path.realpath(command[0]), build), os.path.relpath(os.path.realpath(workdir), build))
    by_binary.setdefault(key, []).extend(filters)
for (binary, workdir), filters in sorted(by_binary.items()):
    print("\t".join([binary, workdir, ":".join(filters)]))
PY
    rm "$tree/ctest.json"
    [[ -s $tree/gpu-tests.tsv ]] || die "no test in $build_name matches $gpu_tests_regex"
    local binary
    for binary in $(cut -f1 "$tree/gpu-tests.tsv"); do cp -a "$build_name/$binary" "$tree/$binary"; done
    say "GPU tests: $(cut -f3 "$tree/gpu-tests.tsv" | tr ':' '\n' | wc -l) in $(wc -l <"$tree/gpu-tests.tsv") binaries"
}

# Every shared library the packed programs need that is neither the C library's nor CUDA's nor
# weft's own, as this machine has it (found with ldd), into <tree>/debian-libs.
pack_libraries() {
    local tree=$1 soname path
    mkdir -p "$tree/debian-libs"
    while read -r soname path; do
        [[ $soname =~ $never_carried || $soname == libweft_* || $path == "$root"/* || $path == "$tree"/* ]] && continue
        [[ -e $tree/debian-libs/$soname ]] || cp -L "$path" "$tree/debian-libs/$soname"
    done < <(elf_files "$tree" | xargs ldd 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u)
    say "Debian libraries carried: $(ls "$tree/debian-libs" | tr '\n' ' ')"
}

# Bytes of the files `git ls-files ARGS` lists.
listed_bytes() { { git ls-files -z "$@" | xargs -0 -r stat -c %s 2>/dev/null || true; } | awk '{s += $1} END {print s + 0}'; }

report_size() {
    local tracked untracked carried total limit=$((64 << 20))
    tracked=$(listed_bytes)
    untracked=$(listed_bytes --others --exclude-standard)
    carried=$(du -sb "$bundle" | cut -f1)
    total=$((tracked + untracked + carried))
    printf 'gpu-bundle: %s (the packed tree %s, Fashion-MNIST %s); with the repository (%s tracked, %s untracked) %s travel, of the 64 MiB a device call carries\n' \
        "$(mib "$carried")" "$(mib "$(stat -c %s "$bundle/weft-gpu.tar.xz")")" \
        "$(mib "$(du -sb "$bundle/fashion-mnist" | cut -f1)")" "$(mib "$tracked")" "$(mib "$untracked")" "$(mib "$total")"
    ((total < limit)) || die "too large to carry: $(mib "$total")"
}

# ---------------------------------------------------------------------------------------------
# run / local

mode=run
device=${GPU_CHECK_DEVICE:-cuda}
out=
tree=
gpu_line=
weft_library_path=
problems=0  # stages that failed (a budget running out is not a failure): run's exit status is 1 then
start=$SECONDS
total=${GPU_CHECK_SECONDS:-480}
table=()

# The smaller of a stage's own budget and what is left of the whole run.
budget() {
    local left=$((total - (SECONDS - start)))
    echo $(($1 < left ? $1 : left))
}
row() { table+=("$(printf '%-12s %-66s %5s s' "$1" "$2" "$3")"); }

# The environment weft's programs run in: the carried Debian libraries this machine lacks, CUDA's
# libraries where Python's packages keep them, and TF32 off (full float32, as the CPU computes).
weft_env() { env LD_LIBRARY_PATH="$weft_library_path" NVIDIA_TF32_OVERRIDE=0 "$@"; }

manifest() { sed -n "s/^$1=//p" "$bundle/manifest"; }

unpack() {
    local t0=$SECONDS source_dir into=$root
    [[ -f $bundle/manifest ]] || die "no gpu-bundle/ here: run 'bash scripts/gpu-check.sh prepare' on the build machine first"
    source_dir=$(manifest source_dir)
    say "bundle of $(manifest commit), prepared $(manifest prepared)"
    # Where build-gpu is a real build tree (the machine that prepared the bundle), the copy goes
    # elsewhere and the build tree stays as it is.
    if [[ $mode == local || -f $root/$build_name/CMakeCache.txt ]]; then into=$(mktemp -d); fi
    tree=$into/$build_name
    rm -rf "$tree"
    if command -v xz >/dev/null; then
        xz -dc "$bundle/weft-gpu.tar.xz" | tar -C "$into" -xf -
    else
        python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' \
            "$bundle/weft-gpu.tar.xz" "$into"
    fi
    # The test binaries know the source and build trees by the absolute paths they were built
    # in: make those paths lead here.
    if [[ $source_dir != "$root" ]]; then
        if [[ -e $source_dir && ! -L $source_dir ]]; then
            die "$source_dir exists here and is not this checkout: the tests would read the wrong tree"
        fi
        mkdir -p "$(dirname "$source_dir")"
        ln -sfn "$root" "$source_dir"
    fi
    row unpack "$(du -sh "$tree" | cut -f1) into $(dirname "$tree")" $((SECONDS - t0))
}

# The directory of each CUDA library the backend links: Python's nvidia packages first (PyTorch's
# wheels), then the loader's cache, then the toolkit. Prints "soname dir" ("-" where none).
find_cuda_libraries() {
    local cache=$1 soname dir d
    shift
    python3 - "$@" <<'PY' |
import glob, importlib, os, sys
roots = []
for name in ("nvidia.cudnn", "nvidia.cublas", "nvidia.cuda_runtime", "nvidia.nccl", "nvidia.cu13", "nvidia"):
    try:
        roots += list(getattr(importlib.import_module(name), "__path__", []))
    except Exception:
        pass
for soname in sys.argv[1:]:
    hits = [p for r in roots for p in glob.glob(os.path.join(r, "**", soname), recursive=True)]
    print(soname, os.path.dirname(hits[0]) if hits else "-")
PY
    while read -r soname dir; do
        if [[ $dir == - ]]; then
            dir=$(awk -v s="$soname" '$1 == s {print $2; exit}' <<<"$cache")
            dir=${dir%/*}
            for d in /usr/local/cuda/lib64 /usr/local/cuda/lib; do
                if [[ -z $dir && -e $d/$soname ]]; then dir=$d; fi
            done
        fi
        echo "$soname ${dir:--}"
    done
}

# LD_LIBRARY_PATH for weft: CUDA's libraries, and the carried Debian libraries this machine does
# not have itself (its own copy wins where it has one; `local` takes every carried copy, so that
# the copies are what it checks).
find_libraries() {
    local t0=$SECONDS cache soname dir lib missing=() dirs=() carried=0 theirs=0 unresolved
    cache=$(ldconfig -p 2>/dev/null | awk 'NR > 1 {print $1, $NF}' || true)  # "soname path" per line
    # shellcheck disable=SC2046 # the manifest lists sonames separated by spaces
    while read -r soname dir; do
        if [[ $dir == - ]]; then missing+=("$soname"); else dirs+=("$dir"); say "$soname: $dir"; fi
    done < <(find_cuda_libraries "$cache" $(manifest cuda_libraries))
    # cuDNN compiles some engines at run time with NVRTC: its directory too, where there is one.
    while read -r soname dir; do
        if [[ $dir != - ]]; then dirs+=("$dir"); say "$soname: $dir"; fi
    done < <(find_cuda_libraries "$cache" libnvrtc.so.13 libnvJitLink.so.13)
    mkdir -p "$tree/debian-libs-used"
    for lib in "$tree"/debian-libs/*; do
        if [[ $mode != local ]] && awk '{print $1}' <<<"$cache" | grep -qxF "${lib##*/}"; then
            theirs=$((theirs + 1))
        else
            ln -sf "$lib" "$tree/debian-libs-used/"
            carried=$((carried + 1))
        fi
    done
    weft_library_path=$tree/debian-libs-used
    for dir in $(printf '%s\n' "${dirs[@]}" | awk '!seen[$0]++'); do weft_library_path+=:$dir; done
    weft_library_path+=${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    # The test fixtures are left out: one of them is a plugin whose dependency is missing on purpose.
    unresolved=$({ elf_files "$tree/bin" "$tree/lib"; cut -f1 "$tree/gpu-tests.tsv" | sed "s|^|$tree/|"; } |
        xargs env LD_LIBRARY_PATH="$weft_library_path" ldd 2>/dev/null | awk '/not found/ {print $1}' | sort -u | tr '\n' ' ')
    row libraries "$carried carried, $theirs the machine's own; glibc $(ldd --version | awk 'NR == 1 {print $NF}')" \
        $((SECONDS - t0))
    ((${#missing[@]} == 0)) || stop libraries "CUDA libraries not found: ${missing[*]} (in no nvidia.* Python package)"
    [[ -z $unresolved ]] || stop libraries "unresolved libraries: $unresolved"
}

# What GPU, driver and cuDNN this is, and whether weft's cuda backend can run on it.
probe_device() {
    local t0=$SECONDS gpu cudnn status
    gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1 || true)
    say "GPU: ${gpu:-none (nvidia-smi gave no answer)}"
    cudnn=$(weft_env python3 -c '
import ctypes
v = ctypes.CDLL("libcudnn.so.9").cudnnGetVersion()
print("%d.%d.%d" % (v // 10000, v % 10000 // 100, v % 100))' 2>/dev/null || echo "not loadable")
    say "cuDNN, as weft loads it: $cudnn"
    status=$(weft_env "$tree/bin/weft" plugins --json |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["backends"].get("cuda", "not loaded"))')
    say "weft's cuda backend: $status"
    gpu_line="${gpu:-no GPU}; cuDNN $cudnn"
    row device "cuda backend $status" $((SECONDS - t0))
    if [[ $device == cpu ]]; then
        say "GPU_CHECK_DEVICE=cpu: a rehearsal of every stage on the CPU"
    elif [[ $status != available ]]; then
        stop device "weft's cuda backend is $status"
    fi
}

# The GPU tests, binary by binary (each with its gtest filter, in its build directory), within
# the stage's budget.
run_gpu_tests() {
    local t0=$SECONDS reports=$out/gtest binary workdir filter limit n=0 status=0 counts
    local stage_end=$((SECONDS + $(budget 120)))
    mkdir -p "$reports"
    while IFS=$'\t' read -r binary workdir filter; do
        limit=$((stage_end - SECONDS))
        if ((limit <= 0)); then say "tests: out of time before $binary"; status=124; break; fi
        n=$((n + 1))
        say "tests: $binary, $(tr ':' '\n' <<<"$filter" | wc -l) case(s), at most $limit s"
        mkdir -p "$tree/$workdir"
        (cd "$tree/$workdir" && weft_env timeout "$limit" "$tree/$binary" --gtest_filter="$filter" \
            --gtest_output="json:$reports/$n.json") >>"$out/tests.log" 2>&1 || status=$?
    done <"$tree/gpu-tests.tsv"
    counts=$(python3 - "$reports" "$(cut -f3 "$tree/gpu-tests.tsv" | tr ':' '\n' | wc -l)" <<'PY'
import glob, json, sys
passed = failed = skipped = 0
failures = []
for path in glob.glob(sys.argv[1] + "/*.json"):
    for suite in json.load(open(path))["testsuites"]:
        for case in suite["testsuite"]:
            if case.get("failures"):
                failed += 1
                failures.append("%s.%s" % (suite["name"], case["name"]))
            elif case.get("result") == "SKIPPED":
                skipped += 1
            else:
                passed += 1
unreported = int(sys.argv[2]) - passed - failed - skipped
print("%d passed, %d failed, %d skipped%s%s" % (passed, failed, skipped,
      ", %d did not report (a binary died or ran out of time; tests.log)" % unreported if unreported else "",
      " (%s)" % ", ".join(failures) if failures else ""))
PY
)
    rm -rf "$reports"
    if [[ ! $counts =~ ^[0-9]+\ passed,\ 0\ failed || $counts == *"did not report"* ]]; then problems=$((problems + 1)); fi
    if ((status == 124)); then counts+="; stopped at the budget"; fi
    if ((status != 0 && status != 1 && status != 124)); then counts+="; a test binary died (status $status)"; fi
    row tests "$counts" $((SECONDS - t0))
}

# weft and PyTorch on the same card, same networks, batch 256: inference and one training step.
run_bench() {
    local t0=$SECONDS net kind limit stopped
    local stage_end=$((SECONDS + $(budget 150)))
    : >"$out/bench.log"  # the timings; what the programs say on stderr goes to run.log
    for net in "${nets[@]}"; do
        weft_env "$tree/bin/weft" viz "$net" -o "$out/$net.json" >/dev/null
        for kind in infer train; do
            # torch.compile for inference only: compiling a training step would take most of the
            # benchmark's budget.
            local flag=() variants=eager,channels_last,compile
            if [[ $kind == train ]]; then flag=(--train); variants=eager,channels_last; fi
            limit=$((stage_end - SECONDS))
            if ((limit <= 10)); then echo "stopped: no time left for weft $net $kind" >>"$out/bench.log"; continue; fi
            echo "weft $net $kind $(weft_env timeout "$limit" "$tree/bin/weft" bench "$net" --device "$device" \
                --batch $bench_batch "${flag[@]}" --warmup 5 --iterations 20 --seconds 2 --json |
                tr -d '\n ' || echo failed)" >>"$out/bench.log"
            limit=$((stage_end - SECONDS))
            if ((limit <= 10)); then echo "stopped: no time left for torch $net $kind" >>"$out/bench.log"; continue; fi
            { NVIDIA_TF32_OVERRIDE=0 timeout "$limit" python3 "$root/scripts/torch_graph_bench.py" "$out/$net.json" \
                --device "$device" --batch $bench_batch --threads 8 --warmup 5 --iters 20 --variants "$variants" \
                "${flag[@]}" || echo "stopped: torch $net $kind (status $?)"; } |
                sed "s/^torch /torch-of $net $kind torch /" >>"$out/bench.log"
        done
        rm -f "$out/$net.json"
    done
    stopped=$(grep -c -e '^stopped' -e ' failed' "$out/bench.log" || true)
    row bench "$( ((stopped == 0)) && echo "every timing done" || echo "$stopped timing(s) stopped or failed (bench.log)")" \
        $((SECONDS - t0))
}

# docs/results.md's Fashion-MNIST recipe on the GPU, then its best weights evaluated on the CPU.
run_training() {
    local t0=$SECONDS run_dir limit status=0 epochs=0 what
    run_dir=$(mktemp -d)/fashion
    limit=$(budget 150)
    weft_env timeout "$limit" "$tree/bin/weft" train "${train_args[@]}" --data "fashion-mnist:$bundle/fashion-mnist" \
        --device "$device" --out "$run_dir" --quiet >"$out/train.log" 2>&1 || status=$?
    if [[ -f $run_dir/metrics.csv ]]; then
        epochs=$(($(wc -l <"$run_dir/metrics.csv") - 1))
        cp "$run_dir/metrics.csv" "$out/fashion-metrics.csv"
    fi
    what="$epochs of $train_epochs epochs"
    if ((status == 124)); then what+=", stopped at its $limit s budget"; fi
    if ((status != 0 && status != 124)); then
        what+=", failed (status $status; train.log)"
        problems=$((problems + 1))
    fi
    if [[ -f $run_dir/best.safetensors ]]; then
        cp "$run_dir/best.safetensors" "$out/fashion-best.safetensors"
        what+=", best test accuracy $(python3 - "$run_dir/metrics.csv" <<'PY'
import csv, sys
print("%.2f %%" % (100 * max(float(r["test_accuracy"]) for r in csv.DictReader(open(sys.argv[1])))))
PY
)"
    fi
    row "train ($device)" "$what" $((SECONDS - t0))
    t0=$SECONDS
    status=0
    if [[ ! -f $run_dir/best.safetensors ]]; then
        row "eval (cpu)" "nothing to evaluate: no epoch finished" 0
        return 0
    fi
    limit=$(budget 30)
    weft_env timeout "$limit" "$tree/bin/weft" eval --weights "$run_dir/best.safetensors" "${eval_args[@]}" \
        --data "fashion-mnist:$bundle/fashion-mnist" --device cpu --json --quiet >"$out/eval.json" 2>>"$out/train.log" ||
        status=$?
    if ((status == 0)); then
        row "eval (cpu)" "$(python3 - "$out/eval.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print("the run's best weights: top-1 %.2f %%, top-5 %.2f %%, %d images" % (100 * j["top1"], 100 * j["top5"], j["images"]))
PY
)" $((SECONDS - t0))
    elif ((status == 124)); then
        row "eval (cpu)" "stopped at its $limit s budget" $((SECONDS - t0))
    else
        row "eval (cpu)" "failed (status $status; train.log)" $((SECONDS - t0))
        problems=$((problems + 1))
    fi
}

# IGC-L24M2-D20 exported by `weft export` with seeded weights, run by ONNX Runtime (CPU) on the
# input weft runs on $device: the logits (the Gemm's output, made a graph output here) must match
# weft's --output-kind logits (docs/onnx.md). Skipped where Python has no onnxruntime.
run_onnxruntime() {
    local t0=$SECONDS net=igc-l24m2-d20 limit status=0 result
    if ! python3 -c 'import numpy, onnx, onnxruntime' 2>/dev/null; then
        row onnx "skipped: python3 has no onnxruntime (or onnx, numpy)" 0
        return 0
    fi
    limit=$(budget 60)
    {
        weft_env timeout "$limit" "$tree/bin/weft" init "$net" --seed 3 -o "$out/onnx-weights.safetensors" &&
            weft_env timeout "$limit" "$tree/bin/weft" export "$net" --weights "$out/onnx-weights.safetensors" \
                -o "$out/$net.onnx" &&
            python3 -c 'import numpy as np, sys; np.save(sys.argv[1], np.random.default_rng(5).standard_normal((8, 3, 32, 32), dtype=np.float32))' \
                "$out/onnx-input.npy" &&
            weft_env timeout "$limit" "$tree/bin/weft" run "$net" --weights "$out/onnx-weights.safetensors" \
                --input "$out/onnx-input.npy" --output-kind logits --output "$out/onnx-weft-logits.npy" --device "$device"
    } >"$out/onnx.log" 2>&1 || status=$?
    if ((status != 0)); then
        row onnx "failed (status $status; onnx.log)" $((SECONDS - t0))
        problems=$((problems + 1))
        return 0
    fi
    if result=$(python3 - "$out/$net.onnx" "$out/onnx-input.npy" "$out/onnx-weft-logits.npy" 2>>"$out/onnx.log" <<'PY'
import sys
import numpy as np, onnx, onnxruntime as ort
model = onnx.load(sys.argv[1])
logits = [n for n in model.graph.node if n.op_type == "Gemm"][-1].output[0]
model.graph.output.append(onnx.helper.make_tensor_value_info(logits, onnx.TensorProto.FLOAT, ["batch", None]))
session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
x = np.load(sys.argv[2])
theirs = session.run([logits], {session.get_inputs()[0].name: x})[0]
ours = np.load(sys.argv[3])
diff = float(np.max(np.abs(theirs - ours)))
scale = float(np.max(np.abs(ours)))
ok = theirs.shape == ours.shape and np.allclose(theirs, ours, rtol=1e-4, atol=1e-4 * max(scale, 1.0))
print("%s: onnxruntime %s, logits %s, max |diff| %.2e of max |logit| %.2f" % (
    "match" if ok else "MISMATCH", ort.__version__, list(ours.shape), diff, scale))
sys.exit(0 if ok else 1)
PY
    ); then
        row onnx "$result" $((SECONDS - t0))
    else
        row onnx "${result:-failed (onnx.log)}" $((SECONDS - t0))
        problems=$((problems + 1))
    fi
}

# The benchmark's lines as one table: ms per batch of weft and of each PyTorch variant.
bench_table() {
    [[ -s $out/bench.log ]] || return 0
    python3 - "$out/bench.log" "$bench_batch" <<'PY'
import json, re, sys
weft, torch = {}, {}
for line in open(sys.argv[1]):
    if line.startswith("weft ") and line.split(" ")[2:3] in (["infer"], ["train"]):
        _, net, kind, rest = line.split(" ", 3)
        try:
            weft[(net, kind)] = json.loads(rest)["ms_per_batch"]
        except ValueError:
            weft[(net, kind)] = None
    elif line.startswith("torch-of "):
        _, net, kind, rest = line.split(" ", 3)
        variant = re.search(r" variant=(\S+)", rest)
        ms = re.search(r" ([0-9.]+) ms/iter", rest)
        if variant:
            torch[(net, kind, variant.group(1))] = float(ms.group(1)) if ms else None
cell = lambda v: "%9.2f" % v if v else "%9s" % "-"
print("\nbenchmark, batch %s, ms per batch; weft's time includes uploading the batch and" % sys.argv[2])
print("downloading the output, torch's input is already on the device; last column over 1: weft is faster")
print("%-18s %-6s %9s %9s %9s %9s %16s" % ("net", "mode", "weft", "eager", "ch-last", "compile", "best torch/weft"))
for (net, kind), w in sorted(weft.items()):
    t = [torch.get((net, kind, v)) for v in ("eager", "channels_last", "compile")]
    best = min([v for v in t if v] or [0])
    ratio = "%16.2f" % (best / w) if best and w else "%16s" % "-"
    print("%-18s %-6s %s %s %s %s %s" % (net, kind, cell(w), cell(t[0]), cell(t[1]), cell(t[2]), ratio))
PY
}

summary() {
    {
        printf '\ngpu-check (%s, bundle of %s): %s\n' "$mode" "$(manifest commit)" "${gpu_line:-no GPU probed}"
        printf '%-12s %-66s %7s\n' stage result time
        printf '%s\n' "${table[@]}"
        bench_table
    } | tee "$out/summary.txt"
}

# Ends the run at a stage that cannot go on: on a machine without a GPU that is the expected end
# of `local` (status 0), and a failure of `run` (status 3).
stop() {
    row "$1" "stopped: $2" 0
    summary
    if [[ $mode == local && $1 == device ]]; then
        say "local: everything before the GPU is checked; the rest needs the GPU machine"
        exit 0
    fi
    say "stopped at '$1': $2"
    exit 3
}

run() {
    out=${OUT:-$(mktemp -d)}
    mkdir -p "$out"
    exec > >(tee -a "$out/run.log") 2>&1
    say "$mode: output in $out; time budget $total s"
    unpack
    find_libraries
    probe_device
    run_gpu_tests
    run_onnxruntime
    run_bench
    run_training
    summary
    if ((problems > 0)); then say "$problems stage(s) failed"; exit 1; fi
}

case ${1:-} in
    prepare) prepare ;;
    run) mode=run; run ;;
    local) mode=local; run ;;
    *) die "usage: $0 prepare|run|local" ;;
esac
