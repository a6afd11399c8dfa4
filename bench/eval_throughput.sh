#!/usr/bin/env bash
# Evaluation throughput at default settings: joulebench eval against llama-perplexity from the same
# build, on the same model, items and threads, as A/B pairs in one run.
#
#   bench/eval_throughput.sh [-m MODEL] [-t THREADS] [-g NGL] [-p PAIRS] [-B BUILD] [-d DATA_DIR] [-x 'JB EXTRA ARGS'] [-y 'PPL EXTRA ARGS']
#
# Tasks: HellaSwag (the fixture's 400 tasks; llama-perplexity --hellaswag) and ARC-Easy (the
# fixture's 500 items; llama-perplexity --multiple-choice on a binary file made from them, as
# tests/parity does). Neither tool gets size options: both run at their defaults (joulebench adds
# only --token-norm, the score llama-perplexity computes, and --idle-s 0; -y gives llama-perplexity
# options, e.g. -y '-c 512 -b 512', the sizes that suit stories260K's short tasks best). Each pair runs both
# commands back to back, the order alternating between pairs; a pair's ratio is
# llama-perplexity's wall time over joulebench's (above 1: joulebench evaluates faster). Prints a
# Markdown table of medians; with $OUT set, writes eval_throughput.{md,json} there too.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model="$root/models/stories260K.gguf"
threads=2
ngl=0
pairs=5
build="$root/build"
data="$root/tests/fixtures"
extra=""
ppl_extra=""
while getopts "m:t:g:p:B:d:x:y:" opt; do
    case $opt in
        m) model=$OPTARG ;; t) threads=$OPTARG ;; g) ngl=$OPTARG ;; p) pairs=$OPTARG ;;
        B) build=$OPTARG ;; d) data=$OPTARG ;; x) extra=$OPTARG ;; y) ppl_extra=$OPTARG ;; *) exit 2 ;;
    esac
done
for bin in joulebench llama-perplexity; do
    [ -x "$build/bin/$bin" ] || { echo "eval_throughput: $build/bin/$bin missing; build it: cmake --build $build --target $bin" >&2; exit 2; }
done
hs="$data/hellaswag/hellaswag_val_full.txt"
arc="$data/arc/ARC-Easy/ARC-Easy-Test.jsonl"
for f in "$hs" "$arc"; do [ -f "$f" ] || { echo "eval_throughput: $f missing (-d)" >&2; exit 2; }; done
n_hs=$(( $(wc -l < "$hs") / 6 ))
n_arc=$(wc -l < "$arc")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# llama-perplexity's multiple-choice format (perplexity.cpp, multiple_choice_task::deserialize).
python3 - "$arc" "$tmp/arc.bin" <<'PY'
import json, struct, sys
tasks = []
for line in open(sys.argv[1], encoding="utf-8"):
    q = json.loads(line)
    def s(x):
        b = x.encode("utf-8")
        return struct.pack("<I", len(b)) + b
    ch = q["question"]["choices"]
    t = s("Question: " + q["question"]["stem"] + "\nAnswer:") + struct.pack("<I", len(ch))
    t += b"".join(s(c["text"]) for c in ch)
    t += b"".join(struct.pack("<i", 1 if c["label"] == q["answerKey"] else 0) for c in ch)
    t += struct.pack("<I", 0)
    tasks.append(t)
pos = 4 + 4 * len(tasks)
head = struct.pack("<I", len(tasks))
for t in tasks:
    head += struct.pack("<I", pos)
    pos += len(t)
open(sys.argv[2], "wb").write(head + b"".join(tasks))
PY

ppl() {  # task -> llama-perplexity's command
    case $1 in
        hellaswag) echo "$build/bin/llama-perplexity -m $model -t $threads -ngl $ngl -f $hs --hellaswag --hellaswag-tasks $n_hs $ppl_extra" ;;
        arc_easy) echo "$build/bin/llama-perplexity -m $model -t $threads -ngl $ngl -bf $tmp/arc.bin --multiple-choice $ppl_extra" ;;
    esac
}
jb() {
    echo "$build/bin/joulebench eval -m $model --tasks $1 --data-dir $data --token-norm --idle-s 0 -t $threads --ngl $ngl -o json $extra"
}
# One command, timed: wall seconds and CPU seconds (user + system of the command and its children);
# its output goes to $tmp/<label>.out and .log.
timed() {
    local label=$1; shift
    python3 - "$tmp/$label" "$@" <<'PY' || { echo "eval_throughput: $label failed:" >&2; tail -5 "$tmp/$label.log" >&2; exit 1; }
import resource, subprocess, sys, time
base, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
with open(base + ".out", "w") as out, open(base + ".log", "w") as err:
    rc = subprocess.call(cmd, stdout=out, stderr=err)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall:.3f}\t{ru.ru_utime + ru.ru_stime:.3f}")
sys.exit(rc)
PY
}

: > "$tmp/times.tsv"
for task in hellaswag arc_easy; do
    for ((i = 1; i <= pairs; i++)); do
        if (( i % 2 )); then
            p=$(timed "ppl-$task-$i" $(ppl $task)); j=$(timed "jb-$task-$i" $(jb $task))
        else
            j=$(timed "jb-$task-$i" $(jb $task)); p=$(timed "ppl-$task-$i" $(ppl $task))
        fi
        printf '%s\t%s\t%s\t%s\n' "$task" "$i" "$p" "$j" >> "$tmp/times.tsv"
        echo "eval_throughput: $task pair $i: llama-perplexity ${p%%$'\t'*} s, joulebench ${j%%$'\t'*} s (wall)" >&2
    done
done

python3 - "$tmp" "$model" "$threads" "$ngl" "$n_hs" "$n_arc" "$extra" "$ppl_extra" <<'PY'
import json, os, re, statistics, sys
tmp, model, threads, ngl, n_hs, n_arc, extra, ppl_extra = sys.argv[1:]
rows = {}
cpu = {}
for line in open(os.path.join(tmp, "times.tsv")):
    task, i, p, p_cpu, j, j_cpu = line.split("\t")
    rows.setdefault(task, []).append((int(i), float(p), float(j)))
    cpu.setdefault(task, []).append((float(p_cpu), float(j_cpu)))

def ppl_acc(task, i):
    log = open(os.path.join(tmp, f"ppl-{task}-{i}.out")).read() + open(os.path.join(tmp, f"ppl-{task}-{i}.log")).read()
    last = [l for l in log.splitlines() if re.match(r"^\d+\t[\d.]+%?(\t|$)", l)][-1]
    return float(last.split("\t")[1].rstrip("%"))

def jb_acc(task, i):
    doc = json.load(open(os.path.join(tmp, f"jb-{task}-{i}.out")))
    return next(r["value_pct"] for r in doc["accuracy"]["rows"] if r["metric"] == "acc_norm_tokens")

items = {"hellaswag": n_hs, "arc_easy": n_arc}
res = {"model": os.path.basename(model), "threads": int(threads), "ngl": int(ngl), "joulebench_extra": extra, "llama_perplexity_extra": ppl_extra, "tasks": {}}
md = ["| task (items) | pairs | llama-perplexity wall (s) | joulebench wall (s) | **throughput ratio** (wall) | CPU-time ratio | accuracy, llama-perplexity / joulebench |",
      "|---|---:|---:|---:|---:|---:|---|"]
for task, r in rows.items():
    ratios = [p / j for _, p, j in r]
    cpu_ratios = [p / j for p, j in cpu[task]]
    acc = (ppl_acc(task, r[0][0]), jb_acc(task, r[0][0]))
    res["tasks"][task] = {"items": int(items[task]),
                          "pairs": [{"pair": i, "llama_perplexity_s": p, "joulebench_s": j, "ratio": p / j,
                                     "llama_perplexity_cpu_s": pc, "joulebench_cpu_s": jc}
                                    for (i, p, j), (pc, jc) in zip(r, cpu[task])],
                          "median_ratio": statistics.median(ratios), "median_cpu_ratio": statistics.median(cpu_ratios),
                          "accuracy_pct": {"llama_perplexity": acc[0], "joulebench_acc_norm_tokens": acc[1]}}
    md.append(f"| {task} ({items[task]}) | {len(r)} | {statistics.median(p for _, p, _ in r):.2f} | "
              f"{statistics.median(j for _, _, j in r):.2f} | **{statistics.median(ratios):.2f}×** "
              f"({min(ratios):.2f}-{max(ratios):.2f}) | {statistics.median(cpu_ratios):.2f}× | {acc[0]:.2f} % / {acc[1]:.2f} % |")
md.append("")
md.append(f"Model {os.path.basename(model)}, {threads} threads, ngl {ngl}. Medians over A/B pairs run back to back "
          f"(order alternating); a ratio is llama-perplexity's time over joulebench's for the whole command, model "
          f"load included: above 1, joulebench is faster. CPU time is user + system time of the command."
          + (f" joulebench extra options: `{extra}`." if extra else "")
          + (f" llama-perplexity extra options: `{ppl_extra}`." if ppl_extra else " Both tools at their default sizes."))
text = "\n".join(md)
print(text)
out = os.environ.get("OUT")
if out:
    open(os.path.join(out, "eval_throughput.md"), "w").write(text + "\n")
    json.dump(res, open(os.path.join(out, "eval_throughput.json"), "w"), indent=2)
PY
