#!/usr/bin/env bash
# The library as a user gets it: `cmake --install` of this build into a fresh prefix, a separate
# tiny project configured with find_package(joulebench) against that prefix only, built, and run
# (a 2-scheme sweep of the installed model on the installed task samples, then the EOR table).
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
for f in lib/libjoulebench.a include/joulebench/sweep.hpp include/joulebench/results.hpp bin/joulebench \
         lib/cmake/joulebench/joulebench-config.cmake share/joulebench/models/stories260K.gguf; do
    [ -e "$work/prefix/$f" ] || { echo "install_test: $f was not installed" >&2; exit 1; }
done

# Only the prefix: the consumer must not see this source tree's headers.
cmake -S "$src/tests/install/consumer" -B "$work/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$work/prefix" -DEXAMPLE_SOURCE="$src/examples/sweep_two_schemes.cpp" > "$work/configure.log"
cmake --build "$work/consumer" > "$work/build.log" || { cat "$work/build.log" >&2; exit 1; }

# Run from an empty directory so that nothing is found relative to this tree.
mkdir "$work/run"
cd "$work/run"
JOULEBENCH_CLAIM_DIR="$work/claims" JOULEBENCH_NVML_LIBRARY=libnvidia-ml-absent-in-tests.so.1 \
    JOULEBENCH_POWERCAP_ROOT=/nonexistent-powercap \
    "$work/consumer/sweep_two_schemes" "$work/prefix/share/joulebench/models/stories260K.gguf" "$work/run/r.db" \
    arc_easy 8 "$work/prefix/share/joulebench/data/samples" > out.txt 2> err.txt || { cat err.txt >&2; exit 1; }
cat out.txt
grep -q "fp16" out.txt && grep -q "q4_k_m" out.txt || { echo "install_test: the EOR table lacks a scheme" >&2; exit 1; }
grep -q "budget profile:" out.txt || { echo "install_test: no recommendation printed" >&2; exit 1; }
echo "install_test: ok"
