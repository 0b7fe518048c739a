#!/usr/bin/env bash
# ncu-step.sh: where one decode step's time and DRAM traffic go, from Nsight Compute counters.
# Profiles a window of ~1000 kernel launches in the middle of `ridgeline-bench decode` (past the
# weight upload and calibration), then folds them into per-step figures with ncu_summary.py, to
# set next to the bench's measured ms/step and the cost model's bytes/step (docs/metrics.md).
#   usage: scripts/ncu-step.sh OUT_DIR TAG MODEL BATCH [BENCH]
set -uo pipefail
out=$1 tag=$2 model=$3 batch=$4 bench=${5:-build-gpu/app/ridgeline-bench}
here=$(cd "$(dirname "$0")" && pwd)
ncu --clock-control none --print-units base --csv \
  --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum \
  --launch-skip "${NCU_SKIP:-3000}" --launch-count "${NCU_COUNT:-1000}" \
  "$bench" decode --model "$model" --backend cuda --batch "$batch" --context 256 --steps 48 \
  --json "$out/ncu-$tag-bench.json" >"$out/ncu-$tag.csv" 2>"$out/ncu-$tag.err"
echo "ncu exit $? ($tag)"
python3 "$here/ncu_summary.py" "$out/ncu-$tag.csv" --step-kernel embed --json "$out/ncu-$tag.json" | head -25
