#!/usr/bin/env bash
# The GPU campaign (issue "GPU campaign on the H100"; the same script makes the H200 run):
# synthetic models of real shapes under every scheme, llama-bench-like workloads metered per
# phase, llama-bench itself from the same build on the same files for the overhead ratio, and a
# Markdown/JSON summary.
#
# Resumable, one model at a time, inside a deadline: the device tool's calls last at most 10
# minutes, so the same command is simply run again until it prints "campaign: complete". Each
# call picks up where the last stopped (the sweep skips finished cells; synthesis, quantization
# and llama-bench skip what exists) and always leaves the database and logs in $OUT.
#
#   bench/gpu_campaign.sh                     on the lent GPU machine, from the repository root
#
# Binaries and storage: bench/gpu_common.sh (carried CUDA binaries from an earlier machine, else
# a build here, about 5 minutes; one model's files at a time on a tmpfs, a finished model's
# files deleted).
#
# Settings (environment): MODELS (synth shapes, in order), SCHEMES, REPEAT, WORK, OUT,
# DEADLINE_S (seconds this call may spend before copying out; default 540), SETTLE_S (the sweep's
# --settle-s; default 0, see below); for a quick local test: JB, LB (binaries), WORKLOADS,
# SYNTH_ARGS ("--layers 2 --scale 1/16"), NGL.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
MODELS=${MODELS:-"qwen2.5-1.5b qwen2.5-7b llama-3-8b"}
SCHEMES=${SCHEMES:-"fp16,bf16,int8,dynamic,q6_k,q4_k_m,int8+kv8"}
REPEAT=${REPEAT:-3}
WORK=${WORK:-/tmp/jb-campaign}
OUT=${OUT:-$WORK/out}
DEADLINE_S=${DEADLINE_S:-540}
# No settle wait between cells by default: on the H100 the board stays at 127-130 W (74 W idle at
# the start) for longer than the sweep's 5 s default after every cell, so the wait never ended
# early and made each cell of the 7B sweep 2.5 times longer (8.2 s against 3.3 s without it;
# bench/results/h100/2026-11-25-postfix-7b/). The first H100 campaign ran without it, as llama-bench
# runs back to back, so 0 also keeps later runs comparable with it.
SETTLE_S=${SETTLE_S:-0}
. bench/gpu_common.sh

# Workloads per shape, sized so each cell spans seconds on an H100 (docs/design.md: windows under
# ~2 s carry 10-20 % error): decode 256 tokens at 1, 8 and 32 parallel sequences, prefill 2048.
workloads_for() {
    [ -n "${WORKLOADS:-}" ] && { echo "$WORKLOADS"; return; }
    case "$1" in
        *0.5b | *1.5b | *3b) echo "tg256r4,pp2048r40,tg256x8r3,tg256x32r2" ;;
        *) echo "tg256r2,pp2048r10,tg256x8r1,tg256x32r1" ;;
    esac
}

models_on_tmpfs 100g
mkdir -p "$WORK/quant"
cuda_binaries || exit 1
host_facts

DB="$WORK/campaign.db"
LBJ="$WORK/llama-bench.jsonl"
touch "$LBJ"

copy_out() {
    python3 bench/campaign_summary.py "$DB" "$LBJ" "$WORK/gpu.txt" "$WORK/quant" > "$WORK/summary.md" 2> "$WORK/logs/summary.err"
    copy_db "$DB" "$OUT"
    cp "$LBJ" "$WORK/summary.md" "$OUT/" 2>/dev/null
    cp "$WORK/campaign-summary.json" "$OUT/" 2>/dev/null
    tar -czf "$OUT/logs.tar.gz" -C "$WORK" campaign.log gpu.txt version.txt quant logs 2>/dev/null
}
trap copy_out EXIT

# --- one model --------------------------------------------------------------------------------
kv_args() { case "$1" in *+kv8 | dynamic*) echo "-ctk q8_0 -ctv q8_0 -fa 1" ;; esac; }

do_model() {
    local arch=$1 src="$WORK/models/$arch-synth-f16.gguf" wl
    wl=$(workloads_for "$arch")
    [ -f "$WORK/done.$arch" ] && return 0
    if [ ! -f "$src" ]; then
        [ "$(left)" -gt 90 ] || return 1
        log "synth $arch"
        timed "synth $arch" "$JB" synth --arch "$arch" ${SYNTH_ARGS:-} "$src" > /dev/null 2>> "$WORK/logs/synth.log" || return 1
    fi
    for s in ${SCHEMES//,/ }; do
        local q="$WORK/quant/$arch.$s.json"
        [ -s "$q" ] && [ -f "$(quant_path "$q")" ] && continue
        [ "$(left)" -gt 120 ] || return 1
        log "quantize $arch $s"
        timed "quantize $arch $s" "$JB" quantize -m "$src" --scheme "$s" --cache-dir "$WORK/models/cache" \
            -o json > "$q" 2> "$WORK/logs/quantize.$arch.$s.log" || { tail -3 "$WORK/logs/quantize.$arch.$s.log"; rm -f "$q"; }
    done
    # One sweep: it sizes the engine per workload (one sequence, without the unified KV pool that
    # llama.cpp checks on every decode call, for tg/pp; bench/results/cpu/2026-11-25-decode-overhead.md).
    local rc
    [ "$(left)" -gt 60 ] || return 1
    log "sweep $arch: $SCHEMES x $wl x $REPEAT ($(left) s left)"
    timed "sweep $arch" stop_after "$(( $(left) - 20 ))" "$JB" sweep -m "$src" --schemes "$SCHEMES" \
        --tasks "$wl" --repeat "$REPEAT" --db "$DB" --cache-dir "$WORK/models/cache" --ngl "${NGL:-99}" -t "$(nproc)" \
        -c 16384 --idle-s 5 --idle-check-s 0.5 --settle-s "$SETTLE_S" --no-progress -o csv > "$WORK/logs/sweep.$arch.csv" 2>> "$WORK/logs/sweep.$arch.log"
    rc=$?
    tail -2 "$WORK/logs/sweep.$arch.log"
    [ $rc -eq 0 ] || { log "sweep $arch stopped (exit $rc)"; return 1; }
    for s in ${SCHEMES//,/ }; do
        grep -q "\"jb_model\": \"$arch\", \"jb_scheme\": \"$s\"" "$LBJ" && continue
        [ "$(left)" -gt 45 ] || return 1
        local f
        f=$(quant_path "$WORK/quant/$arch.$s.json") || continue
        log "llama-bench $arch $s"
        # shellcheck disable=SC2046
        "$LB" -m "$f" -ngl "${NGL:-99}" -p 2048 -n 256 -r "$REPEAT" $(kv_args "$s") -o json 2>> "$WORK/logs/llama-bench.log" |
            tag_llama_bench "jb_model=$arch" "jb_scheme=$s" >> "$LBJ"
    done
    touch "$WORK/done.$arch"
    log "done $arch: deleting its files"
    find "$WORK/models/cache" -maxdepth 1 -name "$arch-synth-f16*" -delete
    rm -f "$src"
}

for arch in $MODELS; do
    do_model "$arch" || { log "deadline: stopping ($(left) s left); run again to continue"; exit 0; }
done
log "campaign: complete"
