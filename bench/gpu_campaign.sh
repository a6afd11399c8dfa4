#!/usr/bin/env bash
# The GPU campaign (issue "GPU campaign on the H100"): synthetic models of real shapes under
# every scheme, llama-bench-like workloads metered per phase, llama-bench itself from the same
# build for the overhead ratio, and a Markdown/JSON summary. Plan for a bare machine: the
# first stage builds. Two stages fit the device tool's 10-minute calls:
#   STAGE=prepare bench/gpu_campaign.sh   build, synthesise, quantize (cached in $WORK)
#   STAGE=run     bench/gpu_campaign.sh   sweep, llama-bench, summary -> $OUT
# Settings (environment): MODELS (synth shapes), SCHEMES, WORKLOADS, REPEAT, WORK.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
MODELS=${MODELS:-"qwen2.5-7b llama-3-8b qwen2.5-1.5b"}
SCHEMES=${SCHEMES:-"fp16,bf16,int8,dynamic,q6_k,q4_k_m,int8+kv8"}
# Repetitions chosen so each cell spans a few seconds on an H100 at 7B (see bench/results/h100).
WORKLOADS=${WORKLOADS:-"tg256r5,pp2048r30,tg256x8r5,tg256x32r3"}
REPEAT=${REPEAT:-3}
WORK=${WORK:-/tmp/jb-campaign}
OUT=${OUT:-$WORK/out}
STAGE=${STAGE:-all}
export BUILD="$root/build-cuda"
JB="$BUILD/bin/joulebench"
mkdir -p "$WORK/models" "$WORK/cache" "$OUT"
log() { echo "[$(date +%T)] $*"; }

prepare() {
    if [ ! -x "$JB" ] || [ ! -x "$BUILD/bin/llama-bench" ]; then
        log "build"
        bench/gpu_build.sh || exit 1
    fi
    for arch in $MODELS; do
        m="$WORK/models/$arch-synth-f16.gguf"
        [ -f "$m" ] || { log "synth $arch"; "$JB" synth --arch "$arch" -o "$m" >/dev/null || exit 1; }
        for s in ${SCHEMES//,/ }; do
            log "quantize $arch $s"
            "$JB" quantize -m "$m" --scheme "$s" --cache-dir "$WORK/cache" -o json > "$WORK/models/$arch.$s.json" \
                2> "$WORK/models/$arch.$s.log" || { tail -3 "$WORK/models/$arch.$s.log"; }
        done
    done
}

run() {
    local db="$WORK/campaign.db" models=""
    for arch in $MODELS; do models+="${models:+,}$WORK/models/$arch-synth-f16.gguf"; done
    nvidia-smi --query-gpu=name,driver_version,power.limit,memory.total --format=csv,noheader > "$WORK/gpu.txt"
    log "sweep $SCHEMES x $WORKLOADS x $REPEAT on $(cat "$WORK/gpu.txt")"
    "$JB" sweep -m "$models" --schemes "$SCHEMES" --tasks "$WORKLOADS" --repeat "$REPEAT" --db "$db" \
        --cache-dir "$WORK/cache" --ngl 99 -t "$(nproc)" -c 16384 --idle-s 5 --idle-check-s 1 \
        --no-progress -o csv > "$WORK/sweep.csv" 2> "$WORK/sweep.log"
    tail -3 "$WORK/sweep.log"
    log "llama-bench on the same files"
    : > "$WORK/llama-bench.jsonl"
    for arch in $MODELS; do
        for s in ${SCHEMES//,/ }; do
            f=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['path'])" "$WORK/models/$arch.$s.json" 2>/dev/null) || continue
            kv=()
            case "$s" in *+kv8) kv=(-ctk q8_0 -ctv q8_0 -fa 1) ;; dynamic*) kv=(-ctk q8_0 -ctv q8_0 -fa 1) ;; esac
            "$BUILD/bin/llama-bench" -m "$f" -ngl 99 -p 2048 -n 256 -r "$REPEAT" "${kv[@]}" -o json 2>/dev/null |
                python3 -c "import json,sys; [print(json.dumps(dict(r, jb_model=sys.argv[1], jb_scheme=sys.argv[2]))) for r in json.load(sys.stdin)]" \
                    "$arch" "$s" >> "$WORK/llama-bench.jsonl"
        done
    done
    log "summary"
    python3 bench/campaign_summary.py "$db" "$WORK/llama-bench.jsonl" "$WORK/gpu.txt" "$WORK/models" > "$WORK/summary.md"
    cp "$WORK/campaign-summary.json" "$OUT/" 2>/dev/null
    cat "$WORK/summary.md"
    cp "$db" "$OUT/campaign.db"
    cp "$WORK/summary.md" "$OUT/summary.md"
    cp "$WORK/llama-bench.jsonl" "$OUT/llama-bench.jsonl"
    tar -czf "$OUT/logs.tar.gz" -C "$WORK" sweep.log sweep.csv gpu.txt models --exclude='*.gguf'
}

case "$STAGE" in
    prepare) prepare ;;
    run) run ;;
    all) prepare; run ;;
    *) echo "STAGE must be prepare, run or all" >&2; exit 2 ;;
esac
