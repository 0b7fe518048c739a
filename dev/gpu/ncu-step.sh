#!/usr/bin/env bash
# ncu-step.sh: where one step's time, DRAM traffic and tensor-core work go, from Nsight Compute
# counters. Profiles a window of kernel launches in the middle of `ridgeline-bench decode|prefill`
# (past the weight upload and calibration), then folds them into per-step figures with
# ncu_summary.py, to set next to the bench's measured ms/step and the cost model's bytes and
# FLOPs per step (docs/metrics.md). Tensor-core counters: every sm__ops_path_tensor_*bf16* metric
# this ncu knows for the chip (their names differ between ncu versions, so they are looked up).
#   usage: dev/gpu/ncu-step.sh OUT_DIR TAG MODEL BATCH [BENCH] [decode|prefill] [CONTEXT]
set -uo pipefail
out=$1 tag=$2 model=$3 batch=$4 bench=${5:-build-gpu/app/ridgeline-bench} mode=${6:-decode} ctx=${7:-256}
here=$(cd "$(dirname "$0")" && pwd)
tensor=$(ncu --query-metrics --chip gh100 2>/dev/null | awk '/^sm__ops_path_tensor.*bf16/ {print $1 ".sum"}' | paste -sd, -)
echo "tensor metrics: ${tensor:-none}" | tee "$out/ncu-$tag-metrics.txt"
steps=48; [ "$mode" = prefill ] && steps=3
ncu --clock-control none --cache-control "${NCU_CACHE:-all}" --print-units base --csv \
  --metrics "gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum${tensor:+,$tensor}" \
  --launch-skip "${NCU_SKIP:-3000}" --launch-count "${NCU_COUNT:-1000}" \
  "$bench" "$mode" --model "$model" --backend cuda --batch "$batch" --context "$ctx" --steps $steps \
  --json "$out/ncu-$tag-bench.json" >"$out/ncu-$tag.csv" 2>"$out/ncu-$tag.err"
echo "ncu exit $? ($tag)"
python3 "$here/ncu_summary.py" "$out/ncu-$tag.csv" --step-kernel embed --json "$out/ncu-$tag.json" | head -25
