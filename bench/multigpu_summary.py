#!/usr/bin/env python3
"""Summarises a multi-GPU database (bench/gpu_multigpu.sh) as Markdown, with a JSON twin.

usage: multigpu_summary.py MULTIGPU.db LLAMA_BENCH.jsonl GPU.txt > multigpu.md

Per (scheme, workload, placement), over repeats (mean ± sample sd): tokens/s, J/token gross and
net of idle (all metered GPUs summed), each GPU's average power and the share of its energy that
is its idle draw, the change against the one-GPU placement, and joulebench tokens/s / llama-bench
tokens/s from the same build, file and placement. A one-GPU cell meters only the card it runs on;
the column "+ idle GPU 1" adds what the unused second card draws at idle over the same time (its
idle power measured before the two-GPU sweeps), the machine-level cost of leaving it unused."""
import json, os, re, sqlite3, statistics, sys

from campaign_summary import fmt, llama_bench, ms


def placement_name(workload_fp):
    """From the placement the sweep appends to a cell's workload fingerprint ("|gpus=0,1|sm=tensor")."""
    parts = dict(p.split("=", 1) for p in workload_fp.split("|")[1:] if "=" in p)
    gpus = parts.get("gpus", "").split(",") if parts.get("gpus") else []
    sm = parts.get("sm", "layer")
    if len(gpus) == 1:
        return "one"
    return sm if len(gpus) == 2 else f"{len(gpus) or 'all'} GPUs {sm}"


def main():
    db, lb_path, gpu_path = sys.argv[1:4]
    gpu = open(gpu_path).read().strip()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    host = con.execute("select hostname, driver, llama_commit, joulebench_version from hosts").fetchone()
    rows = con.execute("""
        select s.name, c.task, c.workload_fp, c.repeat_idx, c.status, c.error, c.prefill_tokens, c.decode_tokens,
               c.prefill_t_s, c.decode_t_s, c.prefill_energy_j, c.prefill_energy_net_j, c.decode_energy_j,
               c.decode_energy_net_j, c.prefill_tok_s, c.decode_tok_s, c.energy_json
        from cells c join schemes s on s.id = c.scheme_id order by c.id""").fetchall()

    lb = llama_bench(lb_path, "jb_scheme", "jb_placement")

    groups, failed, idle_w = {}, [], {}
    for (scheme, task, fp, rep, status, error, ptok, dtok, pt, dt, pj, pjn, dj, djn, pts, dts, ej) in rows:
        doc = json.loads(ej)
        place = placement_name(fp)
        if status != "ok":
            failed.append((scheme, task, place, error))
            continue
        decode = dtok > 0
        tokens, secs = (dtok, dt) if decode else (ptok, pt)
        joules, net = (dj, djn) if decode else (pj, pjn)
        gpus = {d["domain"]: d for d in doc.get("domains", []) if d["domain"].startswith("gpu")}
        for name, d in gpus.items():
            if d.get("idle_w") is not None:
                idle_w.setdefault(name, []).append(d["idle_w"])
        g = groups.setdefault((scheme, task, place), [])
        g.append({"rep": rep, "tokens": tokens, "secs": secs, "tok_s": dts if decode else pts,
                  "j_tok": joules / tokens if tokens else None,
                  "net_j_tok": net / tokens if tokens and net is not None else None, "gpus": gpus})
    gpu1_idle_w = statistics.mean(idle_w["gpu:1"]) if idle_w.get("gpu:1") else None

    print(f"# Multi-GPU: {gpu.splitlines()[0] if gpu else 'unknown GPU'} x {len(gpu.splitlines())}\n")
    print(f"host {host[0]}, {host[1]}, llama.cpp {host[2]}, joulebench {host[3]}. Synthetic model (random weights, "
          "real shape): energy and speed are real, accuracy is not. Per-GPU power and idle share over the cell's "
          "window, from repeats after the first (the first also spans the model load).\n")
    print("| scheme | workload | placement | tok/s | J/token | net J/token | + idle GPU 1 | vs one GPU | "
          "GPU 0 avg W (idle share) | GPU 1 avg W (idle share) | vs llama-bench |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    order = {"one": 0, "layer": 1, "tensor": 2, "row": 3}
    out = []
    for (scheme, task, place), reps in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][2], 9))):
        tok_s, tok_s_sd = ms([r["tok_s"] for r in reps])
        jt, jt_sd = ms([r["j_tok"] for r in reps])
        njt, njt_sd = ms([r["net_j_tok"] for r in reps])
        steady = [r for r in reps if r["rep"] > 0] or reps
        per_gpu = {}
        for name in sorted({n for r in steady for n in r["gpus"]}):
            ds = [r["gpus"][name] for r in steady if name in r["gpus"]]
            avg_w = statistics.mean(d["gross_j"] / d["duration_s"] for d in ds if d["duration_s"])
            share = statistics.mean(d["idle_w"] * d["duration_s"] / d["gross_j"] for d in ds
                                    if d.get("idle_w") is not None and d["gross_j"])
            per_gpu[name] = {"avg_w": avg_w, "idle_share": share}
        idle_extra = None
        if place == "one" and gpu1_idle_w is not None and "gpu:1" not in per_gpu:
            idle_extra, _ = ms([gpu1_idle_w * r["secs"] / r["tokens"] for r in reps if r["tokens"]])
        base = groups.get((scheme, task, "one"))
        vs_one = None
        if base and place != "one":
            base_jt, _ = ms([r["j_tok"] for r in base])
            base_ts, _ = ms([r["tok_s"] for r in base])
            vs_one = {"j_per_token": jt / base_jt - 1, "tok_s": tok_s / base_ts - 1}
        lb_ts = lb.get((scheme, place, re.sub(r"r[0-9]+$", "", task)))
        ratio = tok_s / lb_ts if lb_ts and tok_s else None
        out.append({"scheme": scheme, "workload": task, "placement": place, "n": len(reps), "tok_s": tok_s,
                    "tok_s_sd": tok_s_sd, "j_per_token": jt, "j_per_token_sd": jt_sd, "net_j_per_token": njt,
                    "idle_gpu1_j_per_token": idle_extra, "vs_one_gpu": vs_one, "per_gpu": per_gpu,
                    "llama_bench_tok_s": lb_ts, "ratio_vs_llama_bench": ratio})

        def gpu_cell(name):
            d = per_gpu.get(name)
            return f"{d['avg_w']:.0f} ({d['idle_share'] * 100:.0f} %)" if d else "not used"

        vs = (f"{vs_one['j_per_token'] * 100:+.1f} % J, {vs_one['tok_s'] * 100:+.1f} % tok/s" if vs_one else "")
        print(f"| {scheme} | {task} | {place} | {fmt(tok_s, tok_s_sd, 1)} | {fmt(jt, jt_sd, 4)} | {fmt(njt, njt_sd, 4)} | "
              f"{'' if idle_extra is None else f'+{idle_extra:.4f}'} | {vs} | {gpu_cell('gpu:0')} | {gpu_cell('gpu:1')} | "
              f"{'' if ratio is None else f'{ratio:.3f}'} |")
    if gpu1_idle_w is not None:
        print(f"\nGPU 1 idle power (before the two-GPU sweeps): {gpu1_idle_w:.1f} W.")
    if failed:
        print("\nFailed cells:\n")
        for f in sorted(set(failed)):
            print(f"- {f[0]} {f[1]} {f[2]} ({failed.count(f)}x): {f[3]}")
    json.dump({"gpu": gpu, "gpu1_idle_w": gpu1_idle_w, "rows": out, "failed": failed},
              open(os.path.splitext(db)[0] + "-summary.json", "w"), indent=1)


if __name__ == "__main__":
    main()
