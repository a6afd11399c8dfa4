#!/usr/bin/env bash
# How much of llama-server's energy per output token do its own settings recover? (issue 20)
# One scheme, one concurrency, the serving workload of bench/gpu_serve.sh (1024-token prompts,
# 256-token outputs), served once per llama-server setting, each into its own database (a level's
# key does not hold the server's settings). Writes settings.md (J/output token and latency per
# setting) and the databases as one archive to $OUT.
#
#   SETTINGS_LEFT=... bench/gpu_serve_settings.sh      on the lent GPU machine, from the repository root
#
# Settings: SCHEME (fp16), CONCURRENCY (32), RATES (open-loop levels after them, default none),
# DURATION_S (15), DEADLINE_S (540), SETTINGS (a list of
# "tag:joulebench serve options" separated by ';'); a setting whose database is complete is skipped,
# so a second call goes on where the first stopped.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
WORK=${WORK:-/tmp/jb-serve}
FINAL_OUT=${OUT:-$WORK/out}
SCHEME=${SCHEME:-fp16}
CONCURRENCY=${CONCURRENCY:-32}
DURATION_S=${DURATION_S:-15}
DEADLINE_S=${DEADLINE_S:-540}
SETTINGS=${SETTINGS:-"defaults:;ub1024:--ubatch-size 1024;ub2048:--batch-size 2048 --ubatch-size 2048;fa-on:--flash-attn on;fa-off:--flash-attn off;kv-q8:--flash-attn on --cache-type-k q8_0 --cache-type-v q8_0;ub256:--ubatch-size 256"}
t0=$(date +%s)
mkdir -p "$WORK/settings" "$FINAL_OUT"
IFS=';' read -ra list <<< "$SETTINGS"
for entry in "${list[@]}"; do
    tag=${entry%%:*}
    args=${entry#*:}
    left=$(( DEADLINE_S - ($(date +%s) - t0) ))
    if grep -q "gpu_serve: complete" "$WORK/settings/$tag.log" 2>/dev/null; then continue; fi
    if [ "$left" -lt 60 ]; then echo "gpu_serve_settings: deadline before $tag: run again"; break; fi
    echo "gpu_serve_settings: $tag ($args), $left s left"
    DB="$WORK/settings/$tag.db" OUT="$WORK/settings/out-$tag" SCHEMES="$SCHEME" CONCURRENCY="$CONCURRENCY" RATES="${RATES:-}" \
        DURATION_S="$DURATION_S" SERVER_ARGS="$args" DEADLINE_S="$left" SEND_BINARIES=0 \
        bash bench/gpu_serve.sh > "$WORK/settings/$tag.log" 2>&1
    grep -E "gpu_serve|deadline|exited|error" "$WORK/settings/$tag.log" | tail -3
done
# The table: one row per setting from its database (the level's steady-state J/output token).
python3 - "$WORK/settings" "$SETTINGS" > "$WORK/settings/settings.md" <<'PY'
import os, sqlite3, sys
d, settings = sys.argv[1], sys.argv[2]
print("| setting | llama-server options | level | J/output token (steady) | J/request (steady) | output tok/s | TTFT p99 (ms) | TPOT p99 (ms) | avg W | status |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---|")
for entry in settings.split(";"):
    tag, _, args = entry.partition(":")
    db = os.path.join(d, tag + ".db")
    if not os.path.exists(db):
        continue
    rows = sqlite3.connect(db).execute(
        "select coalesce(steady_j_per_output_token, j_per_output_token), coalesce(steady_j_per_request, j_per_request), "
        "output_tokens_per_s, ttft_p99_ms, tpot_p99_ms, avg_power_w, status, level from serve_levels order by id").fetchall()
    f = lambda v, p: "" if v is None else f"{v:.{p}f}"
    for r in rows:  # one row per level, in the order they ran
        print(f"| {tag} | `{args or '(none)'}` | {r[7]} | {f(r[0], 4)} | {f(r[1], 1)} | {f(r[2], 1)} | {f(r[3], 0)} | {f(r[4], 1)} | {f(r[5], 1)} | {r[6]} |")
PY
cat "$WORK/settings/settings.md"
cp "$WORK/settings/settings.md" "$FINAL_OUT/"
tar -czf "$FINAL_OUT/settings.tar.gz" -C "$WORK/settings" . 2>/dev/null
