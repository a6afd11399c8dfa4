#!/usr/bin/env bash
# Build joulebench with its tests and run them (what CI runs). Installs what is missing first.
#   scripts/test.sh            all tests
#   scripts/test.sh -L energy  ctest arguments pass through
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh" --deps
dir="${BUILD_DIR:-$root/build-test}"
cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$dir" -j "${JOULEBENCH_JOBS:-$(nproc)}"
cd "$dir"
ctest --output-on-failure -j "${JOULEBENCH_JOBS:-$(nproc)}" "$@"
