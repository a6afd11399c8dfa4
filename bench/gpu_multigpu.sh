#!/usr/bin/env bash
# Issue "multi-GPU energy accounting": a 14B-shaped synthetic model at fp16 and int8 on one GPU
# versus two GPUs split by layer and by row, on a 2-GPU machine of the device tool
# (nvidia-h100-x2 / nvidia-h200-x2). Not yet run: those kinds were withheld when it was written.
#   (here)   bench/device_prep.sh
#   (device) mkdir -p /tmp/jb && tar -xf .device-carry/head.tar -C /tmp/jb && ln -s "$PWD/.device-carry" /tmp/jb/ \
#            && cd /tmp/jb && bench/gpu_multigpu.sh
# Output: $OUT/multigpu.db and $OUT/multigpu.md (per placement: tok/s, J/token, each GPU's energy and
# the share of the second card's energy that is its idle draw).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
WORK=${WORK:-/tmp/jb-multigpu}
OUT=${OUT:-$WORK/out}
SCHEMES=${SCHEMES:-fp16,int8}
WORKLOADS=${WORKLOADS:-tg256r5,pp2048r10}
export BUILD="$root/build-cuda"
JB="$BUILD/bin/joulebench"
mkdir -p "$WORK" "$OUT"
[ -x "$JB" ] || bench/gpu_build.sh || exit 1
model="$WORK/qwen2.5-14b-synth-f16.gguf"
[ -f "$model" ] || "$JB" synth --arch qwen2.5-14b -o "$model" >/dev/null || exit 1
db="$WORK/multigpu.db"
common=(-m "$model" --schemes "$SCHEMES" --tasks "$WORKLOADS" --db "$db" --cache-dir "$WORK/cache" --ngl 99
        -c 16384 --idle-s 5 --idle-check-s 1 --no-progress -o csv)
"$JB" sweep "${common[@]}" --gpus 0 --sm none > "$WORK/one.csv" 2> "$WORK/one.log"
"$JB" sweep "${common[@]}" --gpus 0,1 --sm layer > "$WORK/layer.csv" 2> "$WORK/layer.log"
"$JB" sweep "${common[@]}" --gpus 0,1 --sm row > "$WORK/row.csv" 2> "$WORK/row.log"
python3 - "$db" > "$OUT/multigpu.md" <<'PY'
import json, sqlite3, sys
con = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
print("| scheme | workload | placement | tok/s | J/token | per-GPU energy (J) | GPU 1 idle share |")
print("|---|---|---|---:|---:|---|---:|")
for name, task, status, e, pt, dt, ptok, dtok, ej in con.execute(
        "select s.name, c.task, c.status, c.energy_j, c.prefill_t_s, c.decode_t_s, c.prefill_tokens, "
        "c.decode_tokens, c.energy_json from cells c join schemes s on s.id = c.scheme_id order by 1, 2"):
    if status != "ok":
        continue
    doc = json.loads(ej)
    eng = doc.get("engine", {})
    place = f"gpus {eng.get('gpus')} {eng.get('split_mode')}"
    gpus = [d for d in doc["domains"] if d["domain"].startswith("gpu")]
    per = ", ".join(f"{d['domain']} {d['gross_j']:.0f}" for d in gpus)
    idle1 = next((d for d in gpus if d["domain"] == "gpu:1"), None)
    share = f"{(idle1['idle_w'] * idle1['duration_s']) / idle1['gross_j'] * 100:.0f} %" if idle1 and idle1.get("idle_w") else ""
    tokens = dtok or ptok
    secs = (dt if dtok else pt) or 0
    print(f"| {name} | {task} | {place} | {tokens / secs if secs else 0:.1f} | {e / tokens if tokens else 0:.4f} | {per} | {share} |")
PY
cp "$db" "$OUT/"
cat "$OUT/multigpu.md"
