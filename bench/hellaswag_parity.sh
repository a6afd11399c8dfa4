#!/usr/bin/env bash
# HellaSwag parity and throughput: joulebench eval vs llama-perplexity --hellaswag from the
# same build, on the same model, tasks and threads, measured in one run.
#
#   bench/hellaswag_parity.sh [-m MODEL] [-n TASKS] [-t THREADS] [-g NGL] [-d HELLASWAG_TXT] [-B BUILD]
#
# Both tools see the same first N tasks (a file of exactly N tasks, so llama-perplexity's
# random pick of N out of N is all of them). joulebench scores acc_norm_tokens as
# llama-perplexity does (--token-norm). Prints a Markdown table; with $OUT set, writes
# hellaswag_parity.{md,json} there too.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model="$root/models/stories260K.gguf"
n=400
threads=$(nproc)
ngl=0
data="$root/tests/fixtures/hellaswag/hellaswag_val_full.txt"  # 400 tasks; -d for the full file
build="$root/build"
while getopts "m:n:t:g:d:B:" opt; do
    case $opt in
        m) model=$OPTARG ;; n) n=$OPTARG ;; t) threads=$OPTARG ;; g) ngl=$OPTARG ;;
        d) data=$OPTARG ;; B) build=$OPTARG ;; *) exit 2 ;;
    esac
done
[ -f "$data" ] || { echo "hellaswag_parity: no HellaSwag file at $data (-d)" >&2; exit 2; }
for bin in joulebench llama-perplexity; do
    [ -x "$build/bin/$bin" ] || { echo "hellaswag_parity: $build/bin/$bin missing; build it: cmake --build $build --target $bin" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/hellaswag"
head -n $((n * 6)) "$data" > "$tmp/hellaswag/hellaswag_val_full.txt"

now() { date +%s.%N; }
t0=$(now)
"$build/bin/llama-perplexity" -m "$model" -f "$tmp/hellaswag/hellaswag_val_full.txt" --hellaswag \
    --hellaswag-tasks "$n" -t "$threads" -ngl "$ngl" > "$tmp/ppl.log" 2>&1
t1=$(now)
"$build/bin/joulebench" eval -m "$model" --tasks hellaswag --data-dir "$tmp" --token-norm --idle-s 0 \
    -t "$threads" --ngl "$ngl" -o json > "$tmp/jb.json" 2> "$tmp/jb.log"
t2=$(now)

python3 - "$tmp" "$t0" "$t1" "$t2" "$model" "$n" "$threads" "$ngl" <<'PY'
import json, os, re, sys
tmp, t0, t1, t2, model, n, threads, ngl = sys.argv[1:]
t0, t1, t2 = float(t0), float(t1), float(t2)
ppl_log = open(os.path.join(tmp, "ppl.log")).read()
last = [l for l in ppl_log.splitlines() if re.match(r"^\d+\t[\d.]+%", l)][-1]
ppl_acc = float(last.split("\t")[1].rstrip("%"))
jb = json.load(open(os.path.join(tmp, "jb.json")))
acc = {r["metric"]: r["value_pct"] for r in jb["accuracy"]["rows"]}
energy = jb["energy"]["rows"][0]
ppl_s, jb_s = t1 - t0, t2 - t1
res = {
    "model": os.path.basename(model), "tasks": int(n), "threads": int(threads), "ngl": int(ngl),
    "llama_perplexity_acc_norm_pct": ppl_acc, "llama_perplexity_wall_s": ppl_s,
    "joulebench_acc_norm_tokens_pct": acc.get("acc_norm_tokens"), "joulebench_acc_pct": acc.get("acc"),
    "joulebench_acc_norm_pct": acc.get("acc_norm"), "joulebench_wall_s": jb_s,
    "joulebench_prefill_tokens": energy.get("prefill_tokens"),
    "joulebench_prefill_tokens_per_s": energy.get("prefill_tokens_per_s"),
    "throughput_ratio": ppl_s / jb_s,
}
md = f"""| | llama-perplexity --hellaswag | joulebench eval --token-norm |
|---|---:|---:|
| acc_norm (token-count normalised), {n} tasks | {ppl_acc:.2f} % | {res['joulebench_acc_norm_tokens_pct']:.2f} % |
| wall time, whole command (s) | {ppl_s:.2f} | {jb_s:.2f} |
| tasks/s | {int(n)/ppl_s:.1f} | {int(n)/jb_s:.1f} |

Throughput ratio joulebench / llama-perplexity (same tasks, same run): **{res['throughput_ratio']:.3f}**
(joulebench evaluated {res['joulebench_prefill_tokens']} tokens at {res['joulebench_prefill_tokens_per_s']:.0f} tok/s;
lm-eval-style acc {res['joulebench_acc_pct']:.2f} %, acc_norm by characters {res['joulebench_acc_norm_pct']:.2f} %).
Model {os.path.basename(model)}, threads {threads}, ngl {ngl}.
"""
print(md)
out = os.environ.get("OUT")
if out:
    open(os.path.join(out, "hellaswag_parity.md"), "w").write(md)
    json.dump(res, open(os.path.join(out, "hellaswag_parity.json"), "w"), indent=2)
PY
