#!/usr/bin/env bash
# The load generator's own throughput (issue "Serving under load": >= 2,000 streamed tokens/s of
# bookkeeping on one core): bench_serve_loadgen (bench/serve_loadgen.cpp) against the in-process
# stub SSE server, pinned to one core when taskset exists, so the stub and the generator share it.
# Exits non-zero below the target.
#
#   BUILD=build-dev bench/serve_loadgen.sh [bench_serve_loadgen options: --tokens=512 --requests=32 ...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${BUILD:-$root/build-dev}"
cmake --build "$build" --target bench_serve_loadgen > /dev/null
pin=()
command -v taskset > /dev/null && pin=(taskset -c 0)
exec "${pin[@]}" "$build/bin/bench_serve_loadgen" "$@"
