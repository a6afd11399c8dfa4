#!/usr/bin/env bash
# joulebench set-up for a fresh Debian 12 machine. Idempotent: every step checks first.
#
#   scripts/setup.sh            install packages, fetch llama.cpp, build (Release) into build/
#   scripts/setup.sh --deps     install packages and fetch llama.cpp only
#
# Environment: JOULEBENCH_CUDA=1 builds the CUDA backend; BUILD_DIR overrides build/;
# JOULEBENCH_JOBS sets parallel build jobs (default: nproc).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# The pinned engine: node-llama-cpp@3.22.1 ships llama.cpp de3ff81 as a git bundle.
NLC_VERSION=3.22.1
NLC_SHA256=a0d9dd80eacd2ab1cfe71aee57ac8a806487fd70b3d2a38fbec637752d9e5c5f
LLAMA_COMMIT=de3ff815ea7d559ee917f063901b8986f038abc6
LLAMA_DIR="$root/third_party/llama.cpp"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/joulebench"

PACKAGES=(build-essential cmake ninja-build ccache git pkg-config zlib1g-dev
          libcli11-dev nlohmann-json3-dev libsqlite3-dev sqlite3 libfmt-dev
          googletest libgtest-dev libgmock-dev libbenchmark-dev chromium
          slurm-wlm munge)  # slurm-wlm, munge: the single-node cluster of the `slurm` tests (docs/cluster.md)

say() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    # npm fetches the pinned llama.cpp; a machine with Node.js from elsewhere already has it.
    command -v npm >/dev/null || missing+=(npm)
    if [ ${#missing[@]} -eq 0 ]; then
        say "Debian packages: all present"
        return
    fi
    say "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Prints the path of the verified node-llama-cpp tarball, fetching it once into the cache.
fetch_tarball() {
    mkdir -p "$CACHE_DIR"
    local tgz="$CACHE_DIR/node-llama-cpp-$NLC_VERSION.tgz"
    if [ ! -f "$tgz" ] || ! echo "$NLC_SHA256  $tgz" | sha256sum -c --status; then
        say "fetching node-llama-cpp@$NLC_VERSION (llama.cpp source bundle) with npm pack"
        local tmp; tmp=$(mktemp -d)
        (cd "$tmp" && npm pack --silent "node-llama-cpp@$NLC_VERSION" >/dev/null)
        mv "$tmp/node-llama-cpp-$NLC_VERSION.tgz" "$tgz.part"
        rm -rf "$tmp"
        if ! echo "$NLC_SHA256  $tgz.part" | sha256sum -c --status; then
            say "sha256 mismatch for node-llama-cpp-$NLC_VERSION.tgz: expected $NLC_SHA256, got $(sha256sum "$tgz.part" | cut -d' ' -f1)"
            rm -f "$tgz.part"
            exit 1
        fi
        mv "$tgz.part" "$tgz"
    fi
    echo "$tgz"
}

fetch_llama() {
    if [ -n "${JOULEBENCH_LLAMA_DIR:-}" ]; then
        say "using your llama.cpp at $JOULEBENCH_LLAMA_DIR"
        return
    fi
    if [ -f "$LLAMA_DIR/include/llama.h" ] &&
       [ "$(git -C "$LLAMA_DIR" rev-parse HEAD 2>/dev/null)" = "$LLAMA_COMMIT" ]; then
        say "llama.cpp ${LLAMA_COMMIT:0:7}: present"
        return
    fi
    local tgz; tgz=$(fetch_tarball)
    say "cloning llama.cpp ${LLAMA_COMMIT:0:7} from the bundle into third_party/llama.cpp"
    local tmp; tmp=$(mktemp -d)
    tar -xzf "$tgz" -C "$tmp" package/llama/gitRelease.bundle
    rm -rf "$LLAMA_DIR"
    mkdir -p "$(dirname "$LLAMA_DIR")"
    git clone -q "$tmp/package/llama/gitRelease.bundle" "$LLAMA_DIR"
    git -C "$LLAMA_DIR" -c advice.detachedHead=false checkout -q "$LLAMA_COMMIT"
    rm -rf "$tmp"
}

build() {
    local dir="${BUILD_DIR:-$root/build}"
    local cuda=OFF
    [ "${JOULEBENCH_CUDA:-0}" = "1" ] && cuda=ON
    say "building into $dir (CUDA=$cuda)"
    cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DJOULEBENCH_CUDA=$cuda \
        ${JOULEBENCH_LLAMA_DIR:+-DJOULEBENCH_LLAMA_DIR="$JOULEBENCH_LLAMA_DIR"} >/dev/null
    cmake --build "$dir" -j "${JOULEBENCH_JOBS:-$(nproc)}" --target joulebench
}

case "${1:-}" in
    --tarball) fetch_tarball ;;
    --deps) install_packages; fetch_llama ;;
    "") install_packages; fetch_llama; build ;;
    *) say "unknown option '$1' (expected --deps or --tarball)"; exit 2 ;;
esac
