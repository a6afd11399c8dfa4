#!/usr/bin/env bash
# One device call for the foundation and evaluation issues, on a bare H100 machine:
# CUDA build, a 7B-shaped synthetic model, the energy cross-check against an independent
# pynvml reader, HellaSwag parity and throughput vs llama-perplexity, and an eval with energy.
# Everything lands in $OUT/gpu_foundation.tar.gz (and the two summaries beside it).
#   (here)   bench/device_prep.sh
#   (device) bench/gpu_foundation.sh      with carry [".device-carry"]
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
OUT=${OUT:-/tmp/jb-out}
res=/tmp/jb-foundation
mkdir -p "$res" "$OUT"
export BUILD="$root/build-cuda"
log() { echo "[$(date +%T)] $*"; }

log "machine"
nvidia-smi --query-gpu=name,driver_version,power.limit,power.draw,memory.total,clocks.sm,clocks.mem,temperature.gpu,pstate \
    --format=csv > "$res/gpu.csv"; cat "$res/gpu.csv"
nproc > "$res/nproc.txt"

log "build"
bench/gpu_build.sh || exit 1
"$BUILD/bin/joulebench" --version > "$res/version.txt"
"$BUILD/bin/joulebench" sensors -o json > "$res/sensors.json" 2>&1
"$BUILD/bin/joulebench" sensors

# The campaign (bench/gpu_campaign.sh) reuses this file on a warm machine.
model=/tmp/jb-campaign/models/qwen2.5-7b-synth-f16.gguf
mkdir -p "$(dirname "$model")"
log "synth qwen2.5-7b"
/usr/bin/time -v "$BUILD/bin/joulebench" synth --arch qwen2.5-7b "$model" > "$res/synth.txt" 2> "$res/synth.time" ||
    { cat "$res/synth.time"; exit 1; }
grep -E "Elapsed|Maximum resident" "$res/synth.time"

log "energy cross-check (llama-bench pp512/tg128 x5 under joulebench measure, pynvml alongside)"
OUT="$res/energy" bench/gpu_energy_check.sh "$model" > "$res/energy_check.txt" 2>&1
tail -25 "$res/energy_check.txt"

log "HellaSwag parity and throughput, 400 tasks"
OUT="$res" bench/hellaswag_parity.sh -m "$model" -n 400 -g 99 -t 16 -B "$BUILD" \
    -d .device-carry/data/hellaswag/hellaswag_val_full.txt > "$res/parity.txt" 2>&1
cat "$res/parity.txt"

log "eval with energy (samples, 7B shape)"
"$BUILD/bin/joulebench" eval -m "$model" --tasks hellaswag,arc_easy,mmlu,gsm8k --limit 12 --max-tokens 64 \
    --ngl 99 -t 16 --idle-s 3 -o json > "$res/eval_7b.json" 2> "$res/eval_7b.log"
tail -3 "$res/eval_7b.log"

tar -czf "$OUT/gpu_foundation.tar.gz" -C "$(dirname "$res")" "$(basename "$res")"
cp "$res/hellaswag_parity.md" "$OUT/" 2>/dev/null
cp "$res/energy/gpu_energy_check.md" "$OUT/" 2>/dev/null
log "done"
