#!/usr/bin/env bash
# Issue 20 on the H200: tune the engine settings of qwen2.5-7b (synthetic weights of the real
# shape) under fp16, int8 and q4_k_m for prefill (pp2048) and decode (tg256, tg256x32), and answer
# whether any setting brings int8's prefill J/token within 10 % of fp16's.
#
#   bench/gpu_tune.sh                      on the lent GPU machine (kind nvidia-h200), from the repository root
#
# Resumable inside a deadline, like bench/gpu_campaign.sh: a tune stores every trial as a cell, so
# the same command run again goes on from them (a finished (scheme, workload) is skipped). The
# first call also synthesises and quantizes the model (about 3 minutes); the nine tunes take
# about 9 x TUNE_S. Everything lands in $OUT: the database, each tune's table (Markdown and JSON),
# summary.md and the logs.
#
# A call that finds every tune done does nothing; RETUNE=1 runs them all again with fresh budgets,
# going on from the stored trials (more repeats, the axes the first budget did not reach).
#
# Settings (environment): SCHEMES, WORKLOADS, TUNE_S (seconds per tune; default 55), WORK, OUT,
# DEADLINE_S (seconds this call may spend; default 540); for a local test on the CPU build: JB, LB,
# SYNTH_ARGS ("--layers 2 --scale 1/16"), NGL=0.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
ARCH=${ARCH:-qwen2.5-7b}
SCHEMES=${SCHEMES:-"fp16 int8 q4_k_m"}
# The campaign's windows (bench/gpu_campaign.sh): each trial spans seconds on an H200.
WORKLOADS=${WORKLOADS:-"pp2048r10 tg256r2 tg256x32r1"}
TUNE_S=${TUNE_S:-55}
WORK=${WORK:-/tmp/jb-tune}
OUT=${OUT:-$WORK/out}
DEADLINE_S=${DEADLINE_S:-540}
. bench/gpu_common.sh

models_on_tmpfs 60g
mkdir -p "$WORK/quant" "$WORK/tunes"
cuda_binaries || exit 1
host_facts

DB="$WORK/tune.db"
SRC="$WORK/models/$ARCH-synth-f16.gguf"

summary() {
    python3 - "$WORK/tunes" "$SCHEMES" "$WORKLOADS" > "$WORK/summary.md" <<'EOF'
import json, os, sys
tunes, schemes, workloads = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
def load(s, w):
    p = os.path.join(tunes, f"{s}.{w}.json")
    return json.load(open(p)) if os.path.exists(p) else None
def row(doc, role):
    for r in doc["rows"]:
        if role in (r.get("role") or "").split(", "):
            return r
    return None
print("| scheme | workload | default J/token | best J/token | saving (%) | 95 % CI (%) | best tok/s | trials | best settings |")
print("|---|---|---:|---:|---:|---|---:|---:|---|")
best = {}
for w in workloads:
    for s in schemes:
        doc = load(s, w)
        if not doc:
            print(f"| {s} | {w} | | | | | | | not tuned yet |")
            continue
        d, b = row(doc, "defaults"), row(doc, "best")
        ci = doc.get("saving_ci95") or [None, None]
        fmt = lambda v, p=5: "" if v is None else f"{v:.{p}f}"
        sv = doc.get("saving")
        cis = "" if None in ci else f"{100*ci[0]:.1f} to {100*ci[1]:.1f}"
        print(f"| {s} | {w} | {fmt(d and d['j_per_token'])} | {fmt(b and b['j_per_token'])} | "
              f"{'' if sv is None else f'{100*sv:.1f}'} | {cis} | {fmt(b and b['tok_s'], 0)} | {doc['trials']} | "
              f"{b['settings'] if b else ''} |")
        if d and b:
            best[(s, w)] = (d["j_per_token"], b["j_per_token"])
pp = next((w for w in workloads if w.startswith("pp")), None)
if pp and ("fp16", pp) in best and ("int8", pp) in best:
    fd, fb = best[("fp16", pp)]
    idf, ib = best[("int8", pp)]
    print()
    print(f"int8 {pp}: {idf:.5f} J/token at the defaults, {ib:.5f} tuned; fp16: {fd:.5f} at the defaults, {fb:.5f} tuned.")
    print(f"Tuned int8 costs {100*(ib/fb-1):+.1f} % per prefill token against tuned fp16 "
          f"({100*(idf/fd-1):+.1f} % at the defaults): "
          + ("within 10 %." if ib <= 1.10 * fb else "not within 10 %."))
EOF
}

copy_out() {
    summary 2> "$WORK/logs/summary.err"
    [ -f "$DB" ] && copy_db "$DB" "$OUT"
    cp "$WORK/summary.md" "$OUT/" 2>/dev/null
    cp "$WORK"/tunes/*.json "$OUT/" 2>/dev/null
    tar -czf "$OUT/logs.tar.gz" -C "$WORK" campaign.log gpu.txt version.txt quant logs 2>/dev/null
}
trap copy_out EXIT

if [ ! -f "$SRC" ]; then
    [ "$(left)" -gt 90 ] || exit 0
    log "synth $ARCH"
    timed "synth $ARCH" "$JB" synth --arch "$ARCH" ${SYNTH_ARGS:-} "$SRC" > /dev/null 2>> "$WORK/logs/synth.log" || exit 1
fi
for s in $SCHEMES; do
    q="$WORK/quant/$ARCH.$s.json"
    [ -s "$q" ] && [ -f "$(quant_path "$q")" ] && continue
    [ "$(left)" -gt 120 ] || { log "deadline before quantizing $s: run again"; exit 0; }
    log "quantize $ARCH $s"
    timed "quantize $s" "$JB" quantize -m "$SRC" --scheme "$s" --cache-dir "$WORK/models/cache" -o json > "$q" \
        2> "$WORK/logs/quantize.$s.log" || { tail -3 "$WORK/logs/quantize.$s.log"; rm -f "$q"; exit 1; }
done

# The nine tunes, each with an equal share of the time left (at most TUNE_S). Engine defaults as the
# campaign's sweep (-c 16384 holds tg256x32's 32 x 257 cells); threads are not searched on a GPU.
# No settle wait (the campaign's reason: the board stays above idle for longer than any useful wait),
# a 1 s cooldown instead.
pending=()
for w in $WORKLOADS; do
    for s in $SCHEMES; do
        [ -f "$WORK/tunes/$s.$w.done" ] && [ -z "${RETUNE:-}" ] || pending+=("$s $w")
    done
done
n=${#pending[@]}
for item in "${pending[@]}"; do
    read -r s w <<< "$item"
    share=$(( ($(left) - 30) / n ))
    [ "$share" -gt "$TUNE_S" ] && share=$TUNE_S
    [ "$share" -ge 20 ] || { log "deadline: $n tunes left; run again to continue"; exit 0; }
    log "tune $s $w (${share} s)"
    timed "tune $s $w" stop_after "$(( share + 40 ))" "$JB" tune -m "$SRC" --scheme "$s" --workload "$w" \
        --budget-s "$share" --db "$DB" --cache-dir "$WORK/models/cache" --ngl "${NGL:-99}" -c 16384 \
        --idle-s 2 --idle-check-s 0 --settle-s 0 --cooldown-s 1 -o json \
        > "$WORK/tunes/$s.$w.json" 2> "$WORK/logs/tune.$s.$w.log"
    rc=$?
    tail -1 "$WORK/logs/tune.$s.$w.log"
    [ $rc -eq 0 ] && touch "$WORK/tunes/$s.$w.done"
    n=$(( n - 1 ))
done
log "tune: complete"
