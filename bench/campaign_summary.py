#!/usr/bin/env python3
"""Summarises a GPU campaign database (bench/gpu_campaign.sh) as Markdown, with a JSON twin.

usage: campaign_summary.py CAMPAIGN.db LLAMA_BENCH.jsonl GPU.txt [QUANT_JSON_DIR] > summary.md

Per (model, scheme, workload), over repeats (mean ± sample sd): tokens/s, J/token gross and net
of idle, average and peak GPU W; energy saving vs fp16 (1 - J/token / J/token(fp16), positive =
less energy, the convention of every joulebench table); decode bandwidth use = model bytes x
tokens/s / the card's peak memory bandwidth; joulebench tokens/s / llama-bench tokens/s from the
same build and file."""
import json, math, os, re, sqlite3, statistics, sys

CATALOGUE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "hardware", "gpus.json")


def token_match(name, pattern):
    """`pattern` occurs in `name` as whole tokens ("A10" is not in "A100-SXM4"), as the C++ catalogue
    matches (src/hardware/catalogue.cpp)."""
    at = name.find(pattern)
    while pattern and at >= 0:
        end = at + len(pattern)
        left = at == 0 or not name[at - 1].isalnum() or not pattern[0].isalnum()
        right = end == len(name) or not name[end].isalnum() or not pattern[-1].isalnum()
        if left and right:
            return True
        at = name.find(pattern, at + 1)
    return False


def peak_bw(gpu_name):
    """The catalogue entry (data/hardware/gpus.json) whose longest pattern matches the NVML name:
    (its name, peak memory bandwidth in bytes/s), or (None, None)."""
    best, best_len = None, 0
    with open(CATALOGUE) as f:
        gpus = json.load(f)["gpus"]
    for g in gpus:
        for m in g.get("match", []):
            if len(m) > best_len and token_match(gpu_name.lower(), m.lower()):
                best, best_len = g, len(m)
    if not best or not best.get("memory_bw_gbs"):
        return None, None
    return best["name"], best["memory_bw_gbs"] * 1e9


def ms(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def fmt(m, sd=None, digits=3):
    if m is None:
        return ""
    return f"{m:.{digits}f}" + (f" ± {sd:.{digits}f}" if sd else "")


def llama_bench(path, *tags):
    """llama-bench's JSON rows (one per line, tagged by the script that ran it) as
    {(tag values..., "pp2048" | "tg256"): average tokens/s}; {} when the file does not exist."""
    out = {}
    if os.path.exists(path):
        for line in open(path):
            r = json.loads(line)
            test = f"pp{r['n_prompt']}" if r.get("n_gen", 0) == 0 else f"tg{r['n_gen']}"
            out[tuple(r[t] for t in tags) + (test,)] = r["avg_ts"]
    return out


def main():
    db, lb_path, gpu_path = sys.argv[1:4]
    quant_dir = sys.argv[4] if len(sys.argv) > 4 else None
    gpu = open(gpu_path).read().strip()
    gpu_name = gpu.split(",")[0].strip()
    bw_key, bw = peak_bw(gpu_name)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute("""
        select m.file_name, m.file_bytes, s.name, c.task, c.repeat_idx, c.status, c.error,
               c.prefill_tokens, c.decode_tokens, c.prefill_t_s, c.decode_t_s,
               c.prefill_energy_j, c.prefill_energy_net_j, c.decode_energy_j, c.decode_energy_net_j,
               c.prefill_tok_s, c.decode_tok_s, c.energy_json, c.idle_power_w, c.load_energy_j
        from cells c join models m on m.id = c.model_id join schemes s on s.id = c.scheme_id""").fetchall()
    host = con.execute("select hostname, driver, llama_commit, joulebench_version from hosts").fetchone()

    lb = llama_bench(lb_path, "jb_model", "jb_scheme")

    groups = {}
    failed = []
    for (model, model_bytes, scheme, task, rep, status, error, ptok, dtok, pt, dt, pj, pjn, dj, djn,
         pts, dts, energy_json, idle_w, lj) in rows:
        if status != "ok":
            failed.append((model, scheme, task, error))
            continue
        g = groups.setdefault((model, scheme, task), {"model_bytes": model_bytes, "reps": []})
        decode = dtok > 0
        tokens = dtok if decode else ptok
        joules = dj if decode else pj
        net = djn if decode else pjn
        secs = dt if decode else pt
        peak = max((d.get("peak_w", 0) for d in json.loads(energy_json).get("domains", [])
                    if d["domain"].startswith("gpu")), default=None)
        g["reps"].append({"tok_s": dts if decode else pts, "j_tok": joules / tokens if tokens else None,
                          "net_j_tok": net / tokens if tokens and net is not None else None,
                          "avg_w": joules / secs if secs else None, "peak_w": peak, "idle_w": idle_w,
                          "phase_j": [x if x is not None else 0.0 for x in (lj, pj, dj)]})

    arch_of = lambda f: f.replace("-synth-f16.gguf", "")
    file_bytes = {}
    if quant_dir:
        for name in os.listdir(quant_dir):
            if name.endswith(".json"):
                arch, scheme = name[:-5].rsplit(".", 1)  # "qwen2.5-7b.int8+kv8.json"
                try:
                    file_bytes[(arch, scheme)] = json.load(open(os.path.join(quant_dir, name)))["file_bytes"]
                except (ValueError, KeyError):
                    pass

    out = []
    print(f"# GPU campaign: {gpu}\n")
    print(f"host {host[0]}, {host[1]}, llama.cpp {host[2]}, joulebench {host[3]}; peak memory bandwidth "
          f"used for {bw_key or 'unknown card'}: {bw / 1e12 if bw else float('nan'):.2f} TB/s. "
          f"Models are synthetic (random weights, real shapes): energy and speed are real, accuracy is not.\n")
    print("| model | scheme | workload | tok/s | J/token | net J/token | avg W | peak W | energy saving vs fp16 | "
          "bandwidth use | vs llama-bench | energy by phase: prefill / decode |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for (model, scheme, task), g in sorted(groups.items()):
        reps = g["reps"]
        tok_s, tok_s_sd = ms([r["tok_s"] for r in reps])
        jt, jt_sd = ms([r["j_tok"] for r in reps])
        njt, njt_sd = ms([r["net_j_tok"] for r in reps])
        avg_w, _ = ms([r["avg_w"] for r in reps])
        peak_w = max((r["peak_w"] for r in reps if r["peak_w"] is not None), default=None)
        ref = groups.get((model, "fp16", task))
        saving = None
        if ref and jt:
            ref_jt, _ = ms([r["j_tok"] for r in ref["reps"]])
            saving = 1 - jt / ref_jt if ref_jt else None
        arch = arch_of(model)
        nbytes = file_bytes.get((arch, scheme)) or (g["model_bytes"] if scheme == "fp16" else None)
        bw_use = nbytes * tok_s / bw if (bw and nbytes and tok_s and re.match(r"tg[0-9]+(r[0-9]+)?$", task)) else None
        lb_ts = lb.get((arch, scheme, re.sub(r"r[0-9]+$", "", task)))
        ratio = tok_s / lb_ts if (lb_ts and tok_s) else None
        # The workload's own energy by phase; the model load (once per scheme, reported with each
        # cell) is shown apart.
        phase = [statistics.mean(r["phase_j"][i] for r in reps) for i in range(3)]
        work = phase[1] + phase[2]
        split = (f"{phase[1] / work * 100:.0f} % / {phase[2] / work * 100:.0f} % (load {phase[0]:.0f} J)"
                 if work > 0 else "")
        rec = {"model": model, "scheme": scheme, "workload": task, "n": len(reps), "tok_s": tok_s, "tok_s_sd": tok_s_sd,
               "phase_j_load_prefill_decode": phase,
               "j_per_token": jt, "j_per_token_sd": jt_sd, "net_j_per_token": njt, "avg_w": avg_w, "peak_w": peak_w,
               "saving_vs_fp16": saving, "model_bytes": nbytes, "bandwidth_use": bw_use,
               "llama_bench_tok_s": lb_ts, "ratio_vs_llama_bench": ratio}
        out.append(rec)
        print(f"| {arch} | {scheme} | {task} | {fmt(tok_s, tok_s_sd, 1)} | {fmt(jt, jt_sd, 4)} | {fmt(njt, njt_sd, 4)} | "
              f"{fmt(avg_w, None, 0)} | {fmt(peak_w, None, 0)} | "
              f"{'' if saving is None else f'{saving * 100:+.1f} %'} | "
              f"{'' if bw_use is None else f'{bw_use * 100:.0f} %'} | {'' if ratio is None else f'{ratio:.3f}'} | {split} |")
    if failed:
        print("\nFailed cells:\n")
        for f in failed:
            print(f"- {arch_of(f[0])} {f[1]} {f[2]}: {f[3]}")
    json.dump({"gpu": gpu, "peak_bandwidth_bytes_s": bw, "rows": out, "failed": failed},
              open(os.path.splitext(sys.argv[1])[0] + "-summary.json", "w"), indent=1)


if __name__ == "__main__":
    main()
