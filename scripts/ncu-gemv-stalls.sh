#!/usr/bin/env bash
# ncu-gemv-stalls.sh: one device call (carry .carry-json). Why a batch-1 GEMV runs ~5-7 us longer
# than a pure read of its bytes (docs/benchmarks.md, 2026-11-30 e): Nsight Compute's full section
# set, with warp-stall sampling per SASS instruction, on one layer's four GEMVs (q/k/v with the
# norm prologue and the rope + KV store epilogue, o, gate/up, down) in the middle of a Llama-3-8B
# batch-1 decode, exported as text: OUT/ncu-gemv-details.txt (sections), OUT/ncu-gemv-raw.csv
# (every metric, incl. smsp__pcsamp_warps_issue_stalled_*), OUT/ncu-gemv-source.csv (per
# instruction, each of the four launches under a === line). Builds with -lineinfo in its own directory.
#   usage: scripts/ncu-gemv-stalls.sh OUT
set -uo pipefail
out=${1:?usage: ncu-gemv-stalls.sh OUT}
cd "$(dirname "$0")/.."
exec > >(tee "$out/log.txt") 2>&1
. scripts/cuda-build-lib.sh
b=build-gpu-lineinfo bench=build-gpu-lineinfo/app/ridgeline-bench
cmake -S . -B $b -G Ninja -DCMAKE_BUILD_TYPE=Release -DRIDGELINE_GUI=OFF -DRIDGELINE_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_CUDA_FLAGS=-lineinfo -DRIDGELINE_JSON_INCLUDE_DIR="$PWD/.carry-json" \
  >/tmp/configure.log 2>&1 || { tail -20 /tmp/configure.log; exit 1; }
cmake --build $b -j"$(nproc)" --target ridgeline-bench >/tmp/build.log 2>&1 || { grep -E "error|FAILED" /tmp/build.log | head; exit 1; }
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
