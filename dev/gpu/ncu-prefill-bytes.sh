#!/usr/bin/env bash
# ncu-prefill-bytes.sh: DRAM bytes of one whole prefill step from Nsight Compute, next to the cost
# model's bytes_per_step for the same run (docs/metrics.md, "Checked against Nsight Compute").
# Profiles every launch with the two DRAM counters only (one replay pass each, so the whole run
# is cheap), then sums the last complete step: from its embedding kernel to its argmax.
#   usage: dev/gpu/ncu-prefill-bytes.sh OUT TAG MODEL CONTEXT [BENCH]
set -uo pipefail
out=$1 tag=$2 model=$3 ctx=$4 bench=${5:-build-gpu/app/ridgeline-bench}
ncu --clock-control none --print-units base --csv --metrics dram__bytes_read.sum,dram__bytes_write.sum \
  "$bench" prefill --model "$model" --backend cuda --batch 1 --context "$ctx" --steps 1 \
  --json "$out/ncu-bytes-$tag.json" >"$out/ncu-bytes-$tag.csv" 2>"$out/ncu-bytes-$tag.err"
echo "ncu exit $? ($tag)"
python3 - "$out/ncu-bytes-$tag.csv" "$out/ncu-bytes-$tag.json" "$tag" <<'EOF'
import csv, json, sys
from collections import defaultdict
rows = defaultdict(dict)
for r in csv.DictReader([l for l in open(sys.argv[1]) if l.startswith('"')]):
    rows[int(r["ID"])]["name"] = r["Kernel Name"]
    try: rows[int(r["ID"])][r["Metric Name"]] = float(r["Metric Value"].replace(",", ""))
    except ValueError: pass
ks = [rows[k] for k in sorted(rows)]
starts = [i for i, r in enumerate(ks) if "embed" in r["name"]]
if not starts: sys.exit("no embedding kernel profiled")
s = starts[-1]
ends = [i for i, r in enumerate(ks) if i > s and "argmax" in r["name"]]
e = ends[0] if ends else len(ks) - 1
rd = sum(r.get("dram__bytes_read.sum", 0) for r in ks[s:e + 1])
wr = sum(r.get("dram__bytes_write.sum", 0) for r in ks[s:e + 1])
model = json.load(open(sys.argv[2]))["results"][0]["bytes_per_step"]
print(f"{sys.argv[3]}: {e - s + 1} kernels, DRAM read {rd/1e6:.0f} MB + write {wr/1e6:.0f} MB = {(rd+wr)/1e6:.0f} MB; "
      f"cost model {model/1e6:.0f} MB; model vs counters {100*(model/(rd+wr)-1):+.1f}%")
EOF
