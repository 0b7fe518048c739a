#!/usr/bin/env bash
# cuda-attn-ab.sh: one device call (carry .carry-json) for decode attention's batch-1 shape (one
# query head per CTA up to attn_one_head_rows rows, kernels/tuning.h and attention_decode.cu).
# Checks both shapes against the CPU reference (plain and under memcheck), times the default
# against RIDGELINE_TUNING=attn_one_head_rows=0 (head groups at every batch) in alternating runs,
# then folds one Llama-3-8B batch-1 step's ncu counters into per-kernel time and bytes
# (dev/gpu/ncu-step.sh).
# Logs each line to $OUT/log.txt as it comes.
#   usage: dev/gpu/cuda-attn-ab.sh OUT
set -uo pipefail
out=${1:?usage: cuda-attn-ab.sh OUT}
cd "$(dirname "$0")/../.."
exec > >(tee "$out/log.txt") 2>&1
. dev/gpu/cuda-build-lib.sh
cuda_build "$out" ridgeline-bench test_gpu_kernels
echo "built at ${SECONDS}s"
for v in "" RIDGELINE_TUNING=attn_one_head_rows=0; do
  env $v $b/tests/test_gpu_kernels 2>&1 | grep -E "FAIL|Totals" | sed "s|^|[kernels ${v:-default}] |"
done
memcheck "$out" kernels 150 $b/tests/test_gpu_kernels
echo "checks at ${SECONDS}s"
for r in 1 2; do
  for v in RIDGELINE_TUNING=attn_one_head_rows=0 ""; do
    t=${v:-default}
    env $v $bench decode --model $l --backend cuda --batch 1,2,8,64 --context 256 --steps 48 \
      --json "$out/llama-$r-${v:+off}.json" 2>&1 | rows "[$t llama]"
    env $v $bench decode --model $l --backend cuda --batch 1 --context 2048 --steps 48 2>&1 | rows "[$t llama ctx2048]"
    env $v $bench decode --model synthetic:qwen2.5-7b --backend cuda --batch 1 --context 256 --steps 48 2>&1 | rows "[$t qwen]"
    env $v $bench decode --model synthetic:smollm2-135m --backend cuda --batch 1 --context 256 --steps 96 2>&1 | rows "[$t smol]"
  done
  echo "  round $r at ${SECONDS}s"
done
NCU_CACHE=none timeout 200 bash dev/gpu/ncu-step.sh "$out" llama-b1 $l 1 $bench
echo "ncu at ${SECONDS}s"
