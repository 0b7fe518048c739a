#!/usr/bin/env bash
# cuda-read-bound.sh: one device call (carry .carry-json). Sets Llama-3-8B batch-1 decode next to
# the bound of dev/gpu/gpu-read-chain.cu (the step's bytes read by one dependent kernel per matmul,
# with nothing computed), in the same call, then times the split-count cap of decode attention
# (RIDGELINE_TUNING=attn_max_splits=8, and one head per CTA with 4 splits) against the default in
# alternating runs. Logs each line to $OUT/log.txt as it comes.
#   usage: dev/gpu/cuda-read-bound.sh OUT
set -uo pipefail
out=${1:?usage: cuda-read-bound.sh OUT}
cd "$(dirname "$0")/../.."
exec > >(tee "$out/log.txt") 2>&1
. dev/gpu/cuda-build-lib.sh
nvcc -O3 -arch=sm_90 -std=c++17 -o "$out/gpu-read-chain" dev/gpu/gpu-read-chain.cu || exit 1
"$out/gpu-read-chain" 50
cuda_build "$out" ridgeline-bench
echo "built at ${SECONDS}s"
for r in 1 2 3; do
  for v in "" RIDGELINE_TUNING=attn_max_splits=8 RIDGELINE_TUNING=attn_max_heads_per_cta=1,attn_max_splits=4; do
    env $v $bench decode --model $l --backend cuda --batch 1,2,8,64 --context 256 --steps 48 \
      --json "$out/r$r-${v//[ =]/_}.json" 2>&1 | rows "[${v:-default}]"
  done
  echo "  round $r at ${SECONDS}s"
done
"$out/gpu-read-chain" 50
