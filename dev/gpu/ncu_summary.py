#!/usr/bin/env python3
"""ncu_summary.py: folds an Nsight Compute CSV (ncu --csv --print-units base, metrics
gpu__time_duration.sum, dram__bytes_read.sum, dram__bytes_write.sum) over a window of decode steps
into per-step figures: kernel time and DRAM bytes per step, and a per-kernel table sorted by time.
Steps are counted by the launches of the step's first kernel (--step-kernel, a name substring).
Usage: ncu_summary.py CSV --step-kernel embed [--json OUT]"""
import argparse, csv, json, sys
from collections import defaultdict

ap = argparse.ArgumentParser()
ap.add_argument("csv")
ap.add_argument("--step-kernel", default="embed")
ap.add_argument("--json")
a = ap.parse_args()

rows = defaultdict(dict)   # launch id -> {name, metric: value}
with open(a.csv, newline="") as f:
    lines = [l for l in f if l.startswith('"')]   # ncu prints ==PROF== lines before the table
for r in csv.DictReader(lines):
    k = r["ID"]
    rows[k]["name"] = r["Kernel Name"]
    v = r["Metric Value"].replace(",", "")
    try:
        rows[k][r["Metric Name"]] = float(v)
    except ValueError:
        pass
launches = [rows[k] for k in sorted(rows, key=int)]
# Keep whole steps only: from the first step kernel up to (excluding) the last one.
starts = [i for i, r in enumerate(launches) if a.step_kernel in r["name"]]
if len(starts) < 2:
    sys.exit(f"ncu_summary: fewer than two launches of '{a.step_kernel}' in {a.csv}")
window = launches[starts[0]:starts[-1]]
steps = len(starts) - 1
tot = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0])
for r in window:
    t = tot[r["name"][:90]]
    t[0] += 1
    t[1] += r.get("gpu__time_duration.sum", 0)
    t[2] += r.get("dram__bytes_read.sum", 0)
    t[3] += r.get("dram__bytes_write.sum", 0)
    t[4] += sum(v for k, v in r.items() if k.startswith("sm__ops_path_tensor") and isinstance(v, float))
ns = sum(t[1] for t in tot.values()) / steps
rd = sum(t[2] for t in tot.values()) / steps
wr = sum(t[3] for t in tot.values()) / steps
tops = sum(t[4] for t in tot.values()) / steps
per_metric = defaultdict(float)
for r in window:
    for k, v in r.items():
        if k.startswith("sm__ops_path_tensor") and isinstance(v, float):
            per_metric[k] += v / steps
for k, v in sorted(per_metric.items()):
    print(f"  {k}: {v:.4g} per step")
print(f"tensor-core ops/step {tops:.4g} (sum of the sm__ops_path_tensor_* counters above)")
print(f"steps {steps}, kernels/step {len(window)/steps:.0f}, kernel time/step {ns/1e3:.1f} us, "
      f"DRAM read/step {rd/1e6:.2f} MB, write/step {wr/1e6:.2f} MB, kernel-time bandwidth {(rd+wr)/ns:.0f} GB/s")
print(f"{'kernel':90s} {'n/step':>6s} {'us/step':>9s} {'%':>5s} {'MB/step':>9s} {'GB/s':>6s}")
for name, t in sorted(tot.items(), key=lambda kv: -kv[1][1]):
    b = t[2] + t[3]
    print(f"{name:90s} {t[0]/steps:6.1f} {t[1]/steps/1e3:9.1f} {100*t[1]/steps/ns:5.1f} {b/steps/1e6:9.2f} {b/max(t[1],1):6.0f}")
if a.json:
    json.dump({"steps": steps, "kernel_ns_per_step": ns, "tensor_ops_per_step": tops, "tensor_metrics": per_metric, "dram_read_per_step": rd, "dram_write_per_step": wr,
               "kernels": {n: {"per_step": t[0]/steps, "ns": t[1]/steps, "bytes": (t[2]+t[3])/steps}
                           for n, t in tot.items()}}, open(a.json, "w"), indent=1)
