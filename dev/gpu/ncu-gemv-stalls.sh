#!/usr/bin/env bash
# ncu-gemv-stalls.sh: one device call (carry .carry-json). Why a batch-1 GEMV runs ~5-7 us longer
# than a pure read of its bytes (dev/notes/benchmarks-2026-11.md, 2026-11-30 e): Nsight Compute's full section
# set, with warp-stall sampling per SASS instruction, on four consecutive GEMV launches in the
# middle of a Llama-3-8B batch-1 decode, exported as text: OUT/ncu-gemv-details.txt (sections),
# OUT/ncu-gemv-raw.csv (every metric, incl. smsp__pcsamp_warps_issue_stalled_*),
# OUT/ncu-gemv-source.csv (per instruction, each launch under a === line). Where in the layer
# the four start is not fixed (start-up and prefill launch GEMVs too); tell them apart by
# template and grid. As run (2026-11-30 e, one warp per row pair, 4-warp CTAs): q/k/v
# <1,2,2,0,3,1> 768 CTAs, gate/up <1,2,2,1,0,1> 3,584, o and down <1,2,2,0,2,0> 512 (down runs
# 3.5x as long: k 14,336), the LM head <1,2,2,0,1,0>. Since 2026-11-30 f the template ends in
# <..., KS, W> and the grids follow kernel_tuning::gemv_k_split (kernels/tuning.h;
# RIDGELINE_TUNING=gemv_split=1x4 gives the old ones).
# Builds with -lineinfo in its own directory.
#   usage: dev/gpu/ncu-gemv-stalls.sh OUT
set -uo pipefail
out=${1:?usage: ncu-gemv-stalls.sh OUT}
cd "$(dirname "$0")/../.."
exec > >(tee "$out/log.txt") 2>&1
b=build-gpu-lineinfo cuda_flags=-lineinfo
. dev/gpu/cuda-build-lib.sh
cuda_build "$out" ridgeline-bench
echo "built at ${SECONDS}s"
rep=/tmp/gemv
timeout 150 ncu --set full --import-source yes --clock-control none --kernel-name regex:gemv_kernel \
  --launch-skip 1000 --launch-count 4 -f -o $rep \
  $bench decode --model $l --backend cuda --batch 1 --context 256 --steps 16 >"$out/ncu-run.txt" 2>&1
echo "ncu exit $? at ${SECONDS}s"; tail -3 "$out/ncu-run.txt"
ncu -i $rep.ncu-rep --page details >"$out/ncu-gemv-details.txt" 2>&1
ncu -i $rep.ncu-rep --page raw --csv >"$out/ncu-gemv-raw.csv" 2>&1
for k in 0 1 2 3; do
  echo "=== launch $k"
  ncu -i $rep.ncu-rep --page source --print-source sass --csv --launch-skip $k --launch-count 1 2>&1
done >"$out/ncu-gemv-source.csv"
ls -la "$out"
grep -E "gemv_kernel|Duration|Memory Throughput|DRAM Throughput|Achieved Occupancy|Warp Cycles Per Issued" "$out/ncu-gemv-details.txt" | head -40
