#!/usr/bin/env bash
# The clean-machine check: builds a minimal Debian 12 root with debootstrap from this machine's
# configured Debian package source, copies a fresh clone of the repository (HEAD) into it and runs
# the README's two commands there, as root, with nothing else installed. A package that the
# project's scripts forget to install (oneDNN's CMake package needs OpenCL's, which libdnnl-dev
# only recommends) fails here even when the host happens to have it.
#
# Inside the root the sanitizer and fuzz stages are skipped (WEFT_ASAN=0 WEFT_FUZZ_SECONDS=0):
# they install nothing of their own and the host's test stage runs them. So is readme_test
# (WEFT_SUITE_EXCLUDE=readme): it replays the README's commands, Fashion-MNIST training among
# them, on the same packages the main job has just used in the root; the host's suite runs it. CUDA is absent in the
# root, so the CUDA libraries are not built there (WEFT_CUDA=AUTO) — the host's stage builds them.
#
# Usage: bash scripts/clean-machine-check.sh [WORKDIR]   (root; default WORKDIR build-clean-machine)
# Needs: root (debootstrap, chroot, mounts in a private mount namespace), network access to the
# package source. Nothing of the root is kept between runs: WORKDIR is emptied first and removed at
# the end (WEFT_KEEP_CLEAN_ROOT=1 keeps it for inspection).
#
# The one thing the root borrows is the host's compiler cache (ccache, where the host has it): the
# host's build of the same sources has just filled it, and scripts/build.sh in the root compiles
# through it, so the root's build costs its links instead of a second full compile. That leaves
# what this check is for intact: the root installs its packages itself, CMake finds them or fails,
# every link is real, and a header missing from the root is no hit (ccache checks every header a
# cached object was made from) but a compile, which fails. WEFT_CLEAN_CCACHE=0 lends no cache.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=${1:-$repo/build-clean-machine}
root=$work/root

fail() { echo "clean-machine-check: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || fail "needs root (debootstrap and chroot); run it as root"
for tool in debootstrap unshare chroot git; do
  command -v "$tool" >/dev/null || fail "'$tool' not found (scripts/install-deps.sh installs debootstrap)"
done

# The Debian mirror this machine installs from: the URI apt serves bookworm's main component
# from, and the security suite's if there is one. `apt-cache policy` prints each source followed
# by its release line, so this reads what apt really uses (sources.list, .sources files, mirrors).
debian_source() {  # $1: the suite (n=...) to look for
  apt-cache policy | awk -v suite="$1" '
    /^ *[0-9]+ (https?|file):/ { uri = $2; next }
    /release / && index($0, "o=Debian") && index($0, "n=" suite ",") && index($0, "c=main") {
      print uri; exit }'
}
mirror=$(debian_source bookworm)
security=$(debian_source bookworm-security)
[[ -n $mirror ]] || fail "this machine has no Debian bookworm main source configured (apt-cache policy)"

stage() { echo "clean-machine-check: $*"; }
elapsed() { echo "$((SECONDS - $1)) s"; }

cleanup() {
  if [[ "${WEFT_KEEP_CLEAN_ROOT:-0}" != 1 ]]; then rm -rf --one-file-system "$work"; fi
}
rm -rf --one-file-system "$work"
mkdir -p "$work"
trap cleanup EXIT

start=$SECONDS
stage "debootstrap bookworm (minbase) from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap failed (log above)"; }
stage "root ready in $(elapsed "$start")"

# The root's apt: the same Debian sources, and the host's Acquire settings (proxies, snapshot
# validity) so that it reaches the same mirror the same way. Nothing else of the host's.
{
  echo "deb $mirror bookworm main"
  echo "deb $mirror bookworm-updates main"
  [[ -n $security ]] && echo "deb $security bookworm-security main"
} >"$root/etc/apt/sources.list"
for conf in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
  [[ -f $conf ]] && grep -q '^[[:space:]]*Acquire' "$conf" && cp "$conf" "$root/etc/apt/apt.conf.d/"
done
cp /etc/resolv.conf "$root/etc/resolv.conf"
[[ -f /etc/hosts ]] && cp /etc/hosts "$root/etc/hosts"

# A fresh clone of what is committed: uncommitted changes are deliberately not part of it.
git clone --quiet --no-local "$repo" "$root/weft"
stage "cloned $(git -C "$root/weft" rev-parse --short HEAD) into the root"

# Both README commands, as written, inside the root: a private mount namespace gives the root
# /proc, /sys and /dev, all gone when the namespace ends, whatever happens inside.
inside='set -euo pipefail
cd /weft
t=$SECONDS
bash scripts/main-job.sh
echo "clean-machine-check: main job (install, build, evaluate) took $((SECONDS - t)) s"
t=$SECONDS
WEFT_ASAN=0 WEFT_FUZZ_SECONDS=0 WEFT_CLEAN_MACHINE=0 WEFT_SUITE_EXCLUDE=readme bash scripts/test.sh
echo "clean-machine-check: test command (install check, build, suite) took $((SECONDS - t)) s"'
passed_env=()  # the proxies, and the cache lent below
for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [[ -n ${!var:-} ]] && passed_env+=("$var=${!var}")
done
# The host's ccache directory, bound at /var/cache/weft-ccache inside the root (empty: none).
host_cache=
if [[ "${WEFT_CLEAN_CCACHE:-1}" != 0 ]] && command -v ccache >/dev/null; then
  host_cache=$(ccache -k cache_dir)
  mkdir -p "$host_cache"
  passed_env+=(CCACHE_DIR=/var/cache/weft-ccache)
  stage "lending the host's compiler cache ($host_cache) to the root"
  ccache -z >/dev/null  # from here on, its statistics count the root's compiles alone
fi
unshare --mount --propagation private --fork bash -euc '
  root=$1 commands=$2 host_cache=$3; shift 3
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  if [[ -n $host_cache ]]; then
    mkdir -p "$root/var/cache/weft-ccache"
    mount --bind "$host_cache" "$root/var/cache/weft-ccache"
  fi
  exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 "$@" bash -c "$commands"
' unshare-chroot "$root" "$inside" "$host_cache" "${passed_env[@]}" ||
  fail "the README's commands failed in a clean Debian 12 root (output above)"
[[ -n $host_cache ]] && stage "the root's compiles in the host's cache: $(ccache -s | grep -E '^ *(Hits|Misses):' | tr -s ' ' | paste -sd';')"
stage "passed in $(elapsed "$start")"
