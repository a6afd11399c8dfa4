#!/usr/bin/env bash
# Serving under load on the H200 (issue "Serving under load"): a qwen2.5-7b-shaped synthetic model
# served by llama-server (same llama.cpp build) under fp16, int8 and q4_k_m, closed loop at
# 1, 2, 4, 8, 16, 32 and 64 concurrent clients, 1024-token prompts and 256-token outputs (every
# request generates exactly 256: ignore_eos), NVML-metered; the levels go into one database, with
# the tables, each scheme's operating point under an SLO and a recommendation beside it in $OUT.
#
#   bench/gpu_serve.sh                 on the lent GPU machine, from the repository root
#
# Bounded: each level runs DURATION_S seconds of arrivals (requests in flight then finish), so the
# 21 levels take about 21 x (DURATION_S + drain) plus one server start per scheme; synthesis and
# quantization come first. With DEADLINE_S (default 520) the serve run is stopped (Ctrl-C: the
# current level is cancelled, finished ones stay) in time to copy everything out. Resumable: run
# the same command again and it continues with the levels not yet stored ("gpu_serve: complete").
# A machine without the carried CUDA binaries builds joulebench and llama-server first (about 5
# minutes; then a second call does the serving), and sends them back as $OUT/jb-serve-cuda.tar.xz.partNN.
#
# Settings (environment): MODEL (synth shape), SCHEMES, CONCURRENCY, RATES (open-loop levels,
# default none), REPEATS (runs of every level, in rounds; default 1), INPUT_LEN, OUTPUT_LEN, DURATION_S, SLO, SETTLE_S, WORK, OUT, DEADLINE_S, DB (the
# database, default $WORK/serve.db), SERVER_ARGS (more joulebench serve options, e.g. the server's
# "--ubatch-size 1024 --flash-attn on": bench/gpu_serve_settings.sh); for a
# quick local test on the CPU build: JB, LS (binaries), SYNTH_ARGS ("--layers 2 --scale 1/16"), NGL.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
MODEL=${MODEL:-qwen2.5-7b}
SCHEMES=${SCHEMES:-fp16,int8,q4_k_m}
CONCURRENCY=${CONCURRENCY-1,2,4,8,16,32,64}  # CONCURRENCY= (empty): open-loop levels only
RATES=${RATES:-}
INPUT_LEN=${INPUT_LEN:-1024}
OUTPUT_LEN=${OUTPUT_LEN:-256}
DURATION_S=${DURATION_S:-8}
SLO=${SLO:-ttft_p99=2s,tpot_p99=100ms}
SETTLE_S=${SETTLE_S:-1}
WORK=${WORK:-/tmp/jb-serve}
OUT=${OUT:-$WORK/out}
DEADLINE_S=${DEADLINE_S:-520}
. bench/gpu_common.sh

models_on_tmpfs 60g
serve_binaries || exit 1
host_facts

DB="${DB:-$WORK/serve.db}"
copy_out() {
    [ -f "$DB" ] || return 0
    "$JB" report "$DB" -o md --table serving,serving_latency,serving_frontier,hosts --slo "$SLO" > "$WORK/serve.md" 2>> "$WORK/logs/report.log"
    "$JB" report "$DB" -o "$WORK/report.html" --slo "$SLO" 2>> "$WORK/logs/report.log"
    "$JB" report "$DB" -o csv --table serving > "$WORK/levels.csv" 2>> "$WORK/logs/report.log"
    local load="concurrency=8"  # open-loop levels only: the first rate
    [ -z "$CONCURRENCY" ] && [ -n "$RATES" ] && load="rate=${RATES%%,*}"
    "$JB" recommend "$DB" --traffic "prompt=$INPUT_LEN,output=$OUTPUT_LEN,$load,$SLO" -o md > "$WORK/recommend.md" 2>> "$WORK/logs/report.log"
    copy_db "$DB" "$OUT"
    cp "$WORK/serve.md" "$WORK/report.html" "$WORK/levels.csv" "$WORK/recommend.md" "$OUT/" 2>/dev/null
    tar -czf "$OUT/logs.tar.gz" -C "$WORK" campaign.log gpu.txt version.txt logs 2>/dev/null
}
trap copy_out EXIT

src="$WORK/models/$MODEL-synth-f16.gguf"
if [ ! -f "$src" ]; then
    log "synth $MODEL"
    # shellcheck disable=SC2086
    timed "synth $MODEL" "$JB" synth --arch "$MODEL" ${SYNTH_ARGS:-} "$src" > /dev/null 2>> "$WORK/logs/synth.log" ||
        { tail -3 "$WORK/logs/synth.log"; exit 1; }
fi
[ "$(left)" -gt 90 ] || { log "deadline: run again to serve"; exit 0; }

# One serve run: it quantizes each scheme into the cache once (kept on the tmpfs between calls),
# starts llama-server per scheme with one slot per client of the widest level and a context of
# slots x (prompt + output + 64), and skips the levels an earlier call stored.
level_args=()
[ -n "$CONCURRENCY" ] && level_args+=(--concurrency "$CONCURRENCY")
[ -n "$RATES" ] && level_args+=(--rate "$RATES")
[ ${#level_args[@]} -gt 0 ] || { log "neither CONCURRENCY nor RATES: nothing to serve"; exit 1; }
log "serve $MODEL: $SCHEMES x${CONCURRENCY:+ c=$CONCURRENCY}${RATES:+ r=$RATES}, $INPUT_LEN+$OUTPUT_LEN tokens, ${DURATION_S}s per level ($(left) s left)"
[ "${REPEATS:-1}" -gt 1 ] && level_args+=(--repeats "$REPEATS")
timed "serve $MODEL" stop_after "$(( $(left) - 40 ))" "$JB" serve -m "$src" --schemes "$SCHEMES" "${level_args[@]}" \
    --input-len "$INPUT_LEN" --output-len "$OUTPUT_LEN" --duration "$DURATION_S" --slo "$SLO" \
    --n-gpu-layers "${NGL:-99}" ${SERVER_ARGS:-} --db "$DB" --cache-dir "$WORK/models/cache" --server-bin "$LS" \
    --idle-s 5 --settle-s "$SETTLE_S" --request-timeout-s 120 --no-progress -o md \
    > "$WORK/logs/serve.$MODEL.md" 2>> "$WORK/logs/serve.$MODEL.log"
rc=$?
tail -3 "$WORK/logs/serve.$MODEL.log"
case $rc in
    0) log "gpu_serve: complete" ;;
    3) log "gpu_serve: complete, with failed levels (reasons in serve.md)" ;;
    130 | 143) log "deadline: serve stopped; run again to continue" ;;
    *) log "serve exited $rc" ;;
esac
exit 0
