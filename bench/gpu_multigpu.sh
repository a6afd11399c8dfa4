#!/usr/bin/env bash
# Issue "multi-GPU energy accounting": a 14B-shaped synthetic model at fp16 and int8 on one GPU
# versus two GPUs split by layer and by tensor (tensor parallelism; llama.cpp de3ff81's CUDA
# backend no longer splits by row: such cells are refused), on a 2-GPU machine of the device tool
# (nvidia-h100-x2 / nvidia-h200-x2): tokens/s, J/token, each card's energy and how much of it is
# the card's idle draw, and llama-bench from the same build on the same files and placements.
#
#   (here)   bench/device_prep.sh
#   (device) DEADLINE_S=570 bash bench/gpu_multigpu.sh      from the repository root, carry .device-carry
#
# Resumable inside a deadline like bench/gpu_campaign.sh (binaries, tmpfs: bench/gpu_common.sh):
# run it again until it prints "multigpu: complete". Output in $OUT: multigpu.db,
# llama-bench.jsonl, multigpu.md (+ multigpu-summary.json), logs.tar.gz.
# Settings (environment): ARCH, SCHEMES, WORKLOADS, REPEAT, PLACEMENTS (names from the list
# below), WORK, OUT, DEADLINE_S; JB, LB, SYNTH_ARGS, NGL for a local test on the CPU build.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
ARCH=${ARCH:-qwen2.5-14b}
SCHEMES=${SCHEMES:-fp16,int8}
WORKLOADS=${WORKLOADS:-tg256r3,pp2048r10}
REPEAT=${REPEAT:-3}
PLACEMENTS=${PLACEMENTS:-"one tensor layer"}
WORK=${WORK:-/tmp/jb-multigpu}
OUT=${OUT:-$WORK/out}
DEADLINE_S=${DEADLINE_S:-540}
. bench/gpu_common.sh
export CUDA_DEVICE_ORDER=PCI_BUS_ID  # llama-bench numbers the cards as NVML and joulebench do
export NCCL_NVLS_ENABLE=0            # never NVLink multicast (the device tool's rule), should NCCL be built in

# Placement name -> joulebench options, llama-bench options.
jb_placement() {
    case "$1" in
        one) echo "--gpus 0 --sm none --mg 0" ;;
        layer) echo "--gpus 0,1 --sm layer" ;;
        row) echo "--gpus 0,1 --sm row" ;;
        tensor) echo "--gpus 0,1 --sm tensor" ;;
        default) ;;  # llama.cpp's own choice (a local test on the CPU build)
    esac
}
lb_placement() {
    case "$1" in
        one) echo "-sm none -mg 0" ;;
        layer) echo "-sm layer" ;;
        row) echo "-sm row" ;;
        tensor) echo "-sm tensor" ;;
        default) ;;
    esac
}

models_on_tmpfs 90g
mkdir -p "$WORK/quant"
cuda_binaries || exit 1
host_facts
n_gpus=$(grep -c . "$WORK/gpu.txt")
log "$n_gpus GPU(s): $(cut -d, -f1 "$WORK/gpu.txt" | sort | uniq -c | xargs)"

DB="$WORK/multigpu.db"
LBJ="$WORK/llama-bench.jsonl"
touch "$LBJ"
copy_out() {
    python3 bench/multigpu_summary.py "$DB" "$LBJ" "$WORK/gpu.txt" > "$WORK/multigpu.md" 2> "$WORK/logs/summary.err"
    copy_db "$DB" "$OUT"
    cp "$LBJ" "$WORK/multigpu.md" "$WORK/multigpu-summary.json" "$OUT/" 2>/dev/null
    tar -czf "$OUT/logs.tar.gz" -C "$WORK" campaign.log gpu.txt version.txt quant logs 2>/dev/null
}
trap copy_out EXIT
stop() { log "deadline: stopping ($(left) s left); run again to continue"; exit 0; }

src="$WORK/models/$ARCH-synth-f16.gguf"
if [ ! -f "$src" ]; then
    [ "$(left)" -gt 120 ] || stop
    log "synth $ARCH"
    timed "synth $ARCH" "$JB" synth --arch "$ARCH" ${SYNTH_ARGS:-} "$src" > /dev/null 2>> "$WORK/logs/synth.log" || exit 1
fi
for s in ${SCHEMES//,/ }; do
    q="$WORK/quant/$ARCH.$s.json"
    [ -s "$q" ] && continue
    [ "$(left)" -gt 120 ] || stop
    log "quantize $ARCH $s"
    timed "quantize $ARCH $s" "$JB" quantize -m "$src" --scheme "$s" --cache-dir "$WORK/models/cache" -o json > "$q" \
        2> "$WORK/logs/quantize.$s.log" || { tail -3 "$WORK/logs/quantize.$s.log"; rm -f "$q"; exit 1; }
done

for p in $PLACEMENTS; do
    if [ ! -f "$WORK/swept.$p" ]; then
        [ "$(left)" -gt 90 ] || stop
        log "sweep $p: $SCHEMES x $WORKLOADS x $REPEAT ($(left) s left)"
        # shellcheck disable=SC2046
        timed "sweep $p" stop_after "$(( $(left) - 20 ))" "$JB" sweep -m "$src" --schemes "$SCHEMES" \
            --tasks "$WORKLOADS" --repeat "$REPEAT" --db "$DB" --cache-dir "$WORK/models/cache" --ngl "${NGL:-99}" \
            -t "$(nproc)" -c 16384 --idle-s 5 --idle-check-s 0.5 --no-progress -o csv $(jb_placement "$p") \
            > "$WORK/logs/sweep.$p.csv" 2>> "$WORK/logs/sweep.$p.log"
        rc=$?
        tail -2 "$WORK/logs/sweep.$p.log"
        [ $rc -eq 0 ] || { log "sweep $p stopped (exit $rc)"; stop; }
        touch "$WORK/swept.$p"
    fi
    for s in ${SCHEMES//,/ }; do
        grep -q "\"jb_scheme\": \"$s\", \"jb_placement\": \"$p\"" "$LBJ" && continue
        [ "$(left)" -gt 60 ] || stop
        f=$(quant_path "$WORK/quant/$ARCH.$s.json")
        log "llama-bench $p $s"
        # shellcheck disable=SC2046
        timeout -k 10 "$(( $(left) - 15 ))" "$LB" -m "$f" -ngl "${NGL:-99}" -p 2048 -n 256 -r "$REPEAT" $(lb_placement "$p") \
            -o json 2>> "$WORK/logs/llama-bench.log" |
            tag_llama_bench "jb_scheme=$s" "jb_placement=$p" >> "$LBJ"
    done
done
log "multigpu: complete"
