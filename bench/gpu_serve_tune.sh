#!/usr/bin/env bash
# `joulebench tune` over llama-server's settings on the H200 (issue 20's serving question, with the
# tuner instead of bench/gpu_serve_settings.sh's one window per hand-picked setting): a
# qwen2.5-7b-shaped synthetic model served by llama-server at CONCURRENCY clients, 1024-token prompts
# and 256-token outputs, the search over slots, micro-batch, batch and flash attention with repeats,
# under an SLO, for the least J per output token. Writes tune.md (the trials, the best, its saving
# against the defaults with a 95 % interval), the database and the logs to $OUT.
#
#   bench/gpu_serve_tune.sh            on the lent GPU machine, from the repository root
#
# Settings (environment): MODEL (synth shape), SCHEME (fp16), CONCURRENCY (32), INPUT_LEN (1024),
# OUTPUT_LEN (256), DURATION_S (8, arrivals per trial), SLO, MIN_REPEATS (2), TUNE_ARGS (more tune
# options, e.g. "--axis np=16,32"), DEADLINE_S (540: the tune's --budget-s is what is left of it
# after the build and synthesis, less a margin to copy out). A tune run again on the same database
# (a warm machine: WORK survives) goes on from the stored trials. For a quick local test on the CPU
# build: JB, LS (binaries), SYNTH_ARGS ("--layers 2 --scale 1/16"), NGL.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
MODEL=${MODEL:-qwen2.5-7b}
SCHEME=${SCHEME:-fp16}
CONCURRENCY=${CONCURRENCY:-32}
INPUT_LEN=${INPUT_LEN:-1024}
OUTPUT_LEN=${OUTPUT_LEN:-256}
DURATION_S=${DURATION_S:-8}
SLO=${SLO:-ttft_p99=2s,tpot_p99=100ms}
MIN_REPEATS=${MIN_REPEATS:-2}
WORK=${WORK:-/tmp/jb-serve-tune}
OUT=${OUT:-$WORK/out}
DEADLINE_S=${DEADLINE_S:-540}
. bench/gpu_common.sh

models_on_tmpfs 60g
SEND_BINARIES=${SEND_BINARIES:-0} serve_binaries || exit 1
host_facts
DB="${DB:-$WORK/tune.db}"
copy_out() {
    copy_db "$DB" "$OUT"
    cp "$WORK/tune.md" "$OUT/" 2>/dev/null
    tar -czf "$OUT/logs.tar.gz" -C "$WORK" campaign.log gpu.txt version.txt logs 2>/dev/null
}
trap copy_out EXIT

src="$WORK/models/$MODEL-synth-f16.gguf"
if [ ! -f "$src" ]; then
    # shellcheck disable=SC2086
    timed "synth $MODEL" "$JB" synth --arch "$MODEL" ${SYNTH_ARGS:-} "$src" > /dev/null 2>> "$WORK/logs/synth.log" ||
        { tail -3 "$WORK/logs/synth.log"; exit 1; }
fi
budget=$(( $(left) - 45 ))
[ "$budget" -gt 60 ] || { log "deadline: $budget s left for the tune; run again"; exit 0; }
log "tune $MODEL $SCHEME serve:c$CONCURRENCY, $INPUT_LEN+$OUTPUT_LEN tokens, ${DURATION_S}s per trial, SLO $SLO, budget $budget s"
# shellcheck disable=SC2086
timed "tune" stop_after "$(( budget + 30 ))" "$JB" tune -m "$src" --scheme "$SCHEME" --workload "serve:c$CONCURRENCY" \
    --input-len "$INPUT_LEN" --output-len "$OUTPUT_LEN" --duration "$DURATION_S" --slo "$SLO" \
    --ngl "${NGL:-99}" --budget-s "$budget" --min-repeats "$MIN_REPEATS" --idle-s 2 --cooldown-s 2 \
    --request-timeout-s 120 --server-bin "$LS" --db "$DB" --cache-dir "$WORK/models/cache" ${TUNE_ARGS:-} -o md \
    > "$WORK/tune.md" 2>> "$WORK/logs/tune.log"
rc=$?
tail -4 "$WORK/logs/tune.log"
log "tune exited $rc"
exit 0
