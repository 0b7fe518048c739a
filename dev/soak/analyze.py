#!/usr/bin/env python3
"""Judges a ridgeline-soak CSV (docs/reliability.md, "Long runs").

Memory is judged by its slope after warm-up, not by one start-to-end ratio: a least-squares line
through the resident set size (and the soak process's device memory as nvidia-smi reports it) over the samples after
warm-up, extrapolated to growth per hour relative to the fitted level where the window starts.
The window is the last 15 minutes (--window-s), or from the end of warm-up where that is later.
Warm-up ends when the engine that runs to the end (the one the last pool restart loaded) has
served every scenario of the rotation (chat, idle-return, ramp) and the next one begins: by then
its pool, its bounded histories and the allocator's arenas have seen each load shape, while a
sample earlier than that still measures a fresh engine filling up, or two engines side by side
during the restart. --warmup-s overrides it. Bounded histories (the window's 600 s of plotted
bins, the metrics hub's 15 minutes of records) may still be filling after warm-up; the heap_mib
column (malloc's bytes in use) tells that filling apart from other growth, rss_anon_mib and
rss_file_mib anonymous memory from library and model pages, heap_free_mib (freed, kept by malloc)
fragmentation, and gemm_plans, cuda_graphs and cuda_graphs_live new shapes.

Checks: growth under --max-growth-perc-per-h (2) for RSS and device memory; no stuck request
(submitted = ended at the end, and never one silent for 60 s); no request whose streamed tokens
differ from the engine's count; no request that ended in an engine error; no failed API request
other than the deliberately abandoned streams (those interrupted by a pool restart are reported
apart). Exit 0 when every check holds.

    dev/soak/analyze.py soak.csv [--plot soak.png] [--json verdict.json]

Standard library only (the plot needs matplotlib, and is skipped without it).
"""
import argparse
import csv
import json
import sys


def fit(ts, ys):
    """Least-squares slope and intercept of ys over ts."""
    n = len(ts)
    mt, my = sum(ts) / n, sum(ys) / n
    var = sum((t - mt) ** 2 for t in ts)
    slope = sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / var if var > 0 else 0.0
    return slope, my - slope * mt


def warmup_end(rows):
    """The start of the first scenario after the last-loaded engine has served all three."""
    loads = max(int(r["loads"]) for r in rows)
    seen, prev = set(), None
    for r in rows:
        if int(r["loads"]) < loads:
            continue
        if prev is not None and r["scenario"] != prev and len(seen) >= 3:
            return float(r["t_s"])
        seen.add(r["scenario"])
        prev = r["scenario"]
    return None


def device_memory_key(rows):
    """The soak process's own device memory (nvidia-smi --query-compute-apps) where every sample
    has it, so that another program on the same GPU (the window shown beside a soak) does not
    count; else the whole device's."""
    if rows and all(float(r.get("gpu_process_mib", -1)) >= 0 for r in rows):
        return "gpu_process_mib"
    return "gpu_used_mib"


def growth(rows, key, t0):
    pts = [(float(r["t_s"]), float(r[key])) for r in rows if float(r["t_s"]) >= t0 and float(r[key]) >= 0]
    if len(pts) < 3:
        return None
    ts, ys = zip(*pts)
    slope, icpt = fit(ts, ys)
    level = icpt + slope * ts[0]
    return {
        "samples": len(pts),
        "from_s": ts[0],
        "to_s": ts[-1],
        "level_mib": round(level, 1),
        "slope_mib_per_h": round(slope * 3600, 2),
        "growth_perc_per_h": round(100 * slope * 3600 / level, 3) if level > 0 else None,
        "min_mib": min(ys),
        "max_mib": max(ys),
        "fit": (slope, icpt),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv")
    ap.add_argument("--warmup-s", type=float)
    ap.add_argument("--window-s", type=float, default=900, help="fit the last this many seconds (after warm-up)")
    ap.add_argument("--max-growth-perc-per-h", type=float, default=2.0)
    ap.add_argument("--counts-only", action="store_true",
                    help="judge the counts only (a run too short for a memory slope: the CTest smoke run)")
    ap.add_argument("--plot")
    ap.add_argument("--json")
    a = ap.parse_args()
    with open(a.csv) as f:
        rows = list(csv.DictReader(f))
    # The last row is taken after the load stopped and the engine went idle: counts, not memory.
    run = [r for r in rows if r["event"] != "end"] or rows
    last = rows[-1]
    t0 = a.warmup_s if a.warmup_s is not None else warmup_end(run)
    if a.counts_only:
        t0 = float("inf")
    elif t0 is None:
        sys.exit("analyze: the run never completed one rotation of the scenarios; give --warmup-s")
    end = float(run[-1]["t_s"])
    t_fit = max(t0, end - a.window_s)
    v = {"csv": a.csv, "duration_s": end, "warmup_end_s": None if a.counts_only else t0,
         "fit_from_s": None if a.counts_only else t_fit, "checks": {}}
    ok = True
    gpu_key = device_memory_key(run)
    v["device_memory_column"] = gpu_key
    for key, name in (("rss_mib", "rss"), (gpu_key, "device_memory")):
        g = growth(run, key, t_fit)
        if g is None:
            continue
        good = g["growth_perc_per_h"] is not None and g["growth_perc_per_h"] < a.max_growth_perc_per_h
        v[name] = {k: x for k, x in g.items() if k != "fit"}
        v["checks"][name + "_growth_under_%g_perc_per_h" % a.max_growth_perc_per_h] = good
        ok &= good
    stuck = int(last["submitted"]) - int(last["ended"])
    counts = {
        "submitted": int(last["submitted"]),
        "ended": int(last["ended"]),
        "stuck_at_end": stuck,
        "most_stalled_at_once": max(int(r["stalled"]) for r in rows),
        "mismatched": int(last["mismatched"]),
        "streamed_tokens": int(last["streamed_tokens"]),
        "generated_tokens": int(last["generated_tokens"]),
        "api_streams_ok": int(last["api_streams_ok"]),
        "api_plain_ok": int(last["api_plain_ok"]),
        "api_abandoned": int(last["api_abandoned"]),
        "api_interrupted_by_restart": int(last["api_interrupted"]),
        "api_failed": int(last["api_failed"]),
        "pool_loads": int(last["loads"]),
    }
    if "errors" in last:   # CSVs before these columns lack them
        counts["rejected"] = int(last["rejected"])
        counts["errored"] = int(last["errors"])
    # Attribution, not checks: which part of the resident set moves (anonymous or file-backed
    # pages), malloc's bytes in use and the free bytes it keeps (fragmentation), and the CUDA
    # graphs held. CSVs before a column lack it.
    for key, name in (("heap_mib", "heap"), ("rss_anon_mib", "rss_anon"), ("rss_file_mib", "rss_file"),
                      ("heap_free_mib", "heap_free"), ("cuda_graphs_live", "cuda_graphs_live")):
        if key in last and not a.counts_only:
            h = growth(run, key, t_fit)
            if h:
                v[name] = {k: x for k, x in h.items() if k != "fit"}
    v["counts"] = counts
    for name, good in (("no_stuck_requests", stuck == 0 and counts["most_stalled_at_once"] == 0),
                       ("streamed_equals_generated", counts["mismatched"] == 0
                        and counts["streamed_tokens"] == counts["generated_tokens"]),
                       ("no_request_errors", counts.get("errored", 0) == 0),
                       ("no_failed_api_requests", counts["api_failed"] == 0),
                       ("a_pool_restart_happened", counts["pool_loads"] >= 2)):
        v["checks"][name] = good
        ok &= good
    v["ok"] = ok
    print(json.dumps(v, indent=2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(v, f, indent=2)
    if a.plot and not a.counts_only:
        plot(run, t0, t_fit, a.plot, v)
    return 0 if ok else 1


def plot(rows, t0, t_fit, path, v):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("analyze: no matplotlib, no plot", file=sys.stderr)
        return
    t = [float(r["t_s"]) / 60 for r in rows]
    series = [("rss_mib", "resident set (MiB)", "rss")]
    gpu_key = device_memory_key(rows)
    if any(float(r[gpu_key]) >= 0 for r in rows):
        series.append((gpu_key, "device memory, nvidia-smi (MiB): " + gpu_key, "device_memory"))
    if "heap_mib" in rows[0]:
        series.append(("heap_mib", "malloc in use (MiB)", "heap"))
    if "rss_anon_mib" in rows[0]:
        series.append(("rss_anon_mib", "resident, anonymous (MiB)", "rss_anon"))
        series.append(("heap_free_mib", "malloc free, kept (MiB)", "heap_free"))
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 2.8 * len(series)), sharex=True, squeeze=False)
    for ax, (key, label, name) in zip(axes[:, 0], series):
        ys = [float(r[key]) for r in rows]
        ax.plot(t, ys, lw=1, color="#1f77b4")
        g = growth(rows, key, t_fit)
        if g:
            s, c = g["fit"]
            xs = [g["from_s"], g["to_s"]]
            ax.plot([x / 60 for x in xs], [c + s * x for x in xs], lw=1, ls="--", color="#d62728",
                    label="fit: %+.2f %%/h" % g["growth_perc_per_h"])
            ax.legend(loc="lower right", fontsize=8)
        ax.axvspan(0, t0 / 60, color="#dddddd", lw=0)
        for r in rows:
            if "pool restart" in r["event"]:
                ax.axvline(float(r["t_s"]) / 60, color="#ff7f0e", lw=0.8)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("minutes (grey: warm-up; orange: pool restart)")
    fig.suptitle("ridgeline-soak: %s" % ("all checks hold" if v["ok"] else "a check failed"), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
