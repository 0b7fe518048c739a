#!/usr/bin/env bash
# cuda-attn-ab.sh: one device call (carry .carry-json) on Llama-3-8B batch-1 decode attention,
# which ncu had at 15.6 us per layer for ~0.8 MB of K/V (10.6% of the step; docs/benchmarks.md,
# 2026-11-30 d). Checks the launch shapes the A/B knobs select against the CPU reference, then
# times them in one call, logging each line to $OUT/log.txt as it comes:
#   RIDGELINE_ATTN_GP=1|2            fewer query heads per CTA (more CTAs; K/V re-read from L2)
#   RIDGELINE_ATTN_MAX_SPLITS=4|8    fewer context slices, so a smaller cluster
#   RIDGELINE_ATTN_CLUSTER=0         the global-workspace merge
# then an Nsight Compute "full" section set on three attention launches (stall reasons). On branch
# wip/device-fill it first checks the device fill of synthetic weights (test_gpu_dequant
# randomFillMatchesHost, plain and under memcheck) and times a Llama-3-8B bench start.
#   usage: scripts/cuda-attn-ab.sh OUT
set -uo pipefail
out=${1:?usage: cuda-attn-ab.sh OUT}
cd "$(dirname "$0")/.."
exec > >(tee "$out/log.txt") 2>&1
. scripts/cuda-build-lib.sh
cuda_build "$out" ridgeline-bench test_gpu_kernels test_gpu_dequant
echo "built at ${SECONDS}s"
$b/tests/test_gpu_dequant randomFillMatchesHost 2>&1 | grep -E "FAIL|PASS.*randomFill|Totals"
memcheck "$out" fill 120 $b/tests/test_gpu_dequant randomFillMatchesHost
t0=$SECONDS; $bench decode --model $l --backend cuda --batch 1 --context 256 --steps 16 2>&1 | grep -E "^decode"; echo "one Llama b1 bench: $((SECONDS - t0)) s"
for v in "" RIDGELINE_ATTN_GP=1 RIDGELINE_ATTN_GP=2 RIDGELINE_ATTN_MAX_SPLITS=4 "RIDGELINE_ATTN_CLUSTER=0 RIDGELINE_ATTN_GP=1"; do
  env $v $b/tests/test_gpu_kernels 2>&1 | grep -E "FAIL|Totals" | sed "s|^|[${v:-default}] |"
done
echo "tests at ${SECONDS}s"
for v in "" RIDGELINE_ATTN_GP=2 RIDGELINE_ATTN_GP=1 RIDGELINE_ATTN_MAX_SPLITS=4 RIDGELINE_ATTN_MAX_SPLITS=8 \
         RIDGELINE_ATTN_CLUSTER=0 "RIDGELINE_ATTN_GP=1 RIDGELINE_ATTN_MAX_SPLITS=4" ""; do
  env $v $bench decode --model $l --backend cuda --batch 1,2,8 --context 256 --steps 16 2>&1 | rows "[${v:-default}]"
  echo "  at ${SECONDS}s"
done
timeout 150 ncu --set full --kernel-name regex:attention_decode --launch-skip 300 --launch-count 3 \
  $bench decode --model $l --backend cuda --batch 1 --context 256 --steps 8 >"$out/ncu-attn.txt" 2>&1
echo "ncu exit $? at ${SECONDS}s"
grep -E "Duration|Registers Per|Achieved Occupancy|Warp Cycles Per Issued|Stall|L2 Hit|DRAM Throughput|Block Size|Grid Size|Cluster" "$out/ncu-attn.txt" | head -60
