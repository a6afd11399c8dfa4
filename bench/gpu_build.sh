#!/usr/bin/env bash
# On the lent GPU machine (bare each session): unpack the carried Debian packages into a
# prefix, clone the carried llama.cpp bundle, and build joulebench with CUDA for sm_90.
#   BUILD=build-cuda [CMAKE_ARGS="-D..."] bench/gpu_build.sh [extra targets...]
# Prepare the carry on the development machine first: bench/device_prep.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
carry="$root/.device-carry"
prefix=/opt/jbdeps
build="${BUILD:-build-cuda}"

mkdir -p "$prefix"
for f in "$carry"/debs/*.deb; do dpkg-deb -x "$f" "$prefix"; done
export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

extra=""
if [ ! -f third_party/llama.cpp/include/llama.h ]; then
    if [ -f "$carry/llama-src.tar.xz" ]; then
        mkdir -p third_party/llama.cpp && tar -xJf "$carry/llama-src.tar.xz" -C third_party/llama.cpp
    else
        git clone -q "$carry/llama.bundle" third_party/llama.cpp
        git -C third_party/llama.cpp -c advice.detachedHead=false checkout -q de3ff815ea7d559ee917f063901b8986f038abc6
    fi
fi
[ -f "$carry/llama-commit" ] && [ ! -d third_party/llama.cpp/.git ] && extra="-DJOULEBENCH_LLAMA_COMMIT=$(cat "$carry/llama-commit")"

t0=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DJOULEBENCH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DJOULEBENCH_TESTS=OFF -DJOULEBENCH_BENCH=OFF -DCMAKE_PREFIX_PATH="$prefix/usr" $extra ${CMAKE_ARGS:-} >"$build.configure.log" 2>&1 ||
    { tail -40 "$build.configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target ${TARGETS:-joulebench llama-bench llama-perplexity} "$@" >"$build.log" 2>&1 ||
    { grep -E "error|FAILED" "$build.log" | head -40; exit 1; }
echo "gpu_build: built in $(( $(date +%s) - t0 )) s"
