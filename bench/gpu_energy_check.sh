#!/usr/bin/env bash
# Checks joulebench's GPU energy against an independent reader, on a machine with NVIDIA GPUs.
#
#   BUILD=build bench/gpu_energy_check.sh MODEL.gguf [extra llama-bench args]
#   BUILD=build bench/gpu_energy_check.sh -- <any long-enough GPU workload> [args]
#   bench/gpu_energy_check.sh --compare DIR      (re-analyse the files of an earlier run)
#
# A separate Python process reads nvmlDeviceGetTotalEnergyConsumption through pynvml before,
# during (100 Hz, to line its counter up with joulebench's window) and after the run, while
# `joulebench measure -o json` meters the workload (default: llama-bench -m MODEL -ngl 99
# -p 512 -n 128 -r 5). Per GPU it compares:
#   joulebench counter energy   vs  pynvml counter delta over the same window   (target within 2 %)
#   joulebench sample integral  vs  joulebench counter energy                   (target within 5 %)
# Both clocks are CLOCK_MONOTONIC (std::chrono::steady_clock, Python's time.monotonic), so the
# window joulebench reports (context.t_start_monotonic_s / t_end_monotonic_s) is exact for both.
#
# Needs: python3 with pynvml (`import pynvml`), $BUILD/bin/joulebench, $BUILD/bin/llama-bench.
# Environment: BUILD (default: build), OUT (a directory for gpu_energy_check.{json,md} and the
# raw files), IDLE_S (idle baseline before the workload, default 3), INTERVAL_MS (default 10).
# Exit status: 0 if every GPU meets both targets, 1 if not, 2 on bad usage or missing tools.
set -euo pipefail

usage() {
    sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

compare() {  # compare DIR: reads DIR/joulebench.json and DIR/pynvml.json, writes the report
    python3 - "$1" "${OUT:-}" <<'PY'
import bisect, json, os, sys

work, out = sys.argv[1], sys.argv[2]
jb = json.load(open(os.path.join(work, "joulebench.json")))
ref = json.load(open(os.path.join(work, "pynvml.json")))
ctx = jb["context"]
t0, t1 = ctx["t_start_monotonic_s"], ctx["t_end_monotonic_s"]

def counter_at(series, t):
    # Piecewise-linear interpolation of (t_s, energy_mj) points; held at the ends.
    ts = [p[0] for p in series]
    i = bisect.bisect_left(ts, t)
    if i == 0:
        return series[0][1]
    if i == len(series):
        return series[-1][1]
    (ta, ea), (tb, eb) = series[i - 1], series[i]
    return ea if tb == ta else ea + (eb - ea) * (t - ta) / (tb - ta)

uuid_of = {}
for s in ctx["sensors"]:
    if s["domain"].startswith("gpu:") and s["details"].get("uuid"):
        uuid_of[s["domain"]] = s["details"]["uuid"]
ref_by_uuid = {g["uuid"]: g for g in ref["gpus"]}

results, ok = [], True
for row in jb["rows"]:
    dom = row["domain"]
    if not dom.startswith("gpu:") or dom == "gpu:all":
        continue
    r = {"domain": dom, "uuid": uuid_of.get(dom, ""), "method": row["method"],
         "joulebench_counter_j": row["counter_j"], "joulebench_samples_j": row["samples_j"],
         "joulebench_gross_j": row["gross_j"], "joulebench_net_j": row["net_j"], "time_s": row["time_s"]}
    g = ref_by_uuid.get(r["uuid"])
    if g and len(g["series"]) >= 2:
        r["pynvml_window_j"] = (counter_at(g["series"], t1) - counter_at(g["series"], t0)) / 1000.0
        r["pynvml_before_after_j"] = (g["after"][1] - g["before"][1]) / 1000.0
        r["pynvml_points"] = len(g["series"])
        r["name"] = g["name"]
    else:
        r["pynvml_window_j"] = None
    c, s, p = r["joulebench_counter_j"], r["joulebench_samples_j"], r["pynvml_window_j"]
    r["counter_vs_pynvml_pct"] = 100.0 * (c / p - 1.0) if c is not None and p else None
    r["samples_vs_counter_pct"] = 100.0 * (s / c - 1.0) if s is not None and c else None
    r["counter_ok"] = r["counter_vs_pynvml_pct"] is not None and abs(r["counter_vs_pynvml_pct"]) < 2.0
    r["samples_ok"] = r["samples_vs_counter_pct"] is not None and abs(r["samples_vs_counter_pct"]) < 5.0
    ok = ok and r["counter_ok"] and r["samples_ok"]
    results.append(r)
if not results:
    ok = False

def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)

lines = [
    "# GPU energy check: joulebench vs an independent pynvml reader",
    "",
    f"command: `{' '.join(ctx['command'])}` (exit status {ctx['exit_status']}), window {ctx['duration_s']:.2f} s, "
    f"idle baseline {ctx['idle_s']:.1f} s, sampling every {ctx['interval_ms']} ms, "
    f"sampler CPU {ctx['sampler_cpu_pct']:.3f} %",
    f"driver: {ref.get('driver', '?')}",
    "",
    "| GPU | joulebench counter (J) | pynvml delta (J) | counter vs pynvml | joulebench samples (J) | samples vs counter | result |",
    "|---|---:|---:|---:|---:|---:|---|",
]
for r in results:
    verdict = "PASS" if r["counter_ok"] and r["samples_ok"] else "FAIL"
    lines.append(
        f"| {r['domain']} {r.get('name', '')} | {fmt(r['joulebench_counter_j'], '.1f')} | {fmt(r['pynvml_window_j'], '.1f')} "
        f"| {fmt(r['counter_vs_pynvml_pct'], '+.2f')} % (< 2 %) | {fmt(r['joulebench_samples_j'], '.1f')} "
        f"| {fmt(r['samples_vs_counter_pct'], '+.2f')} % (< 5 %) | {verdict} |")
if not results:
    lines.append("| (no GPU domain in joulebench's output: see joulebench.stderr) | | | | | | FAIL |")
lines += ["", f"overall: {'PASS' if ok else 'FAIL'}"]
report = "\n".join(lines) + "\n"
print(report)
if out:
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "gpu_energy_check.json"), "w") as f:
        json.dump({"ok": ok, "gpus": results, "context": ctx, "driver": ref.get("driver")}, f, indent=2)
    with open(os.path.join(out, "gpu_energy_check.md"), "w") as f:
        f.write(report)
sys.exit(0 if ok else 1)
PY
}

if [[ $# -ge 1 && $1 == --compare ]]; then
    [[ $# -eq 2 ]] || usage
    compare "$2"
    exit $?
fi
[[ $# -ge 1 ]] || usage

BUILD=${BUILD:-build}
JB="$BUILD/bin/joulebench"
if [[ $1 == -- ]]; then
    shift
    [[ $# -ge 1 ]] || usage
    workload=("$@")
else
    model=$1
    shift
    [[ -f $model ]] || { echo "gpu_energy_check: model file '$model' not found" >&2; exit 2; }
    workload=("$BUILD/bin/llama-bench" -m "$model" -ngl 99 -p 512 -n 128 -r 5 "$@")
fi
[[ -x $JB ]] || { echo "gpu_energy_check: $JB not found (set BUILD to the build directory)" >&2; exit 2; }
python3 -c 'import pynvml' 2>/dev/null || { echo "gpu_energy_check: python3 cannot import pynvml" >&2; exit 2; }

work=${OUT:-}
if [[ -z $work ]]; then work=$(mktemp -d); else mkdir -p "$work"; fi
rm -f "$work/reader.ready" "$work/reader.stop"

# The independent reader: its own process and its own NVML session.
python3 - "$work" <<'PY' &
import json, os, sys, time
import pynvml

work = sys.argv[1]
pynvml.nvmlInit()
def text(v):
    return v.decode() if isinstance(v, bytes) else v
gpus = []
for i in range(pynvml.nvmlDeviceGetCount()):
    h = pynvml.nvmlDeviceGetHandleByIndex(i)
    gpus.append({"index": i, "uuid": text(pynvml.nvmlDeviceGetUUID(h)), "name": text(pynvml.nvmlDeviceGetName(h)),
                 "handle": h, "series": []})
def sample():
    for g in gpus:
        g["series"].append([time.monotonic(), pynvml.nvmlDeviceGetTotalEnergyConsumption(g["handle"])])
sample()
for g in gpus:
    g["before"] = g["series"][0]
open(os.path.join(work, "reader.ready"), "w").close()
while not os.path.exists(os.path.join(work, "reader.stop")):
    time.sleep(0.01)
    sample()
sample()
for g in gpus:
    g["after"] = g["series"][-1]
    del g["handle"]
doc = {"driver": text(pynvml.nvmlSystemGetDriverVersion()), "gpus": gpus}
pynvml.nvmlShutdown()
json.dump(doc, open(os.path.join(work, "pynvml.json"), "w"))
PY
reader=$!
for _ in $(seq 1 300); do
    [[ -e $work/reader.ready ]] && break
    kill -0 "$reader" 2>/dev/null || { echo "gpu_energy_check: the pynvml reader failed" >&2; exit 2; }
    sleep 0.1
done

echo "gpu_energy_check: metering: ${workload[*]}" >&2
set +e
"$JB" measure -o json --idle-s "${IDLE_S:-3}" --interval-ms "${INTERVAL_MS:-10}" --timeline "$work/timeline.csv" \
    --report "$work/joulebench.json" -- "${workload[@]}" >"$work/workload.stdout" 2>"$work/joulebench.stderr"
status=$?
set -e
touch "$work/reader.stop"
wait "$reader"
[[ $status -eq 0 ]] || echo "gpu_energy_check: the workload exited with status $status (see $work/joulebench.stderr)" >&2
[[ -s $work/joulebench.json ]] || { cat "$work/joulebench.stderr" >&2; exit 1; }

compare "$work"
