#!/usr/bin/env bash
# cuda-attn-cluster-check.sh: one device call that validates and measures the cluster merge of
# split-K decode attention (branch wip/attn-cluster) against the global-workspace merge:
# GPU kernel tests in both modes, memcheck and racecheck in the cluster mode, then same-call
# decode A/B with RIDGELINE_ATTN_CLUSTER=1/0 (carry .carry-json).   usage: ... OUT
set -uo pipefail
out=${1:?usage: cuda-attn-cluster-check.sh OUT}
cd "$(dirname "$0")/.."
b=build-gpu
cmake -S . -B $b -G Ninja -DCMAKE_BUILD_TYPE=Release -DRIDGELINE_GUI=OFF -DRIDGELINE_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DRIDGELINE_JSON_INCLUDE_DIR=$PWD/.carry-json >"$out/configure.log" 2>&1 || { tail -20 "$out/configure.log"; exit 1; }
cmake --build $b -j16 --target ridgeline-bench test_gpu_kernels test_gpu_fused >"$out/build.log" 2>&1 || { grep -E "error|FAILED" "$out/build.log" | head -30; exit 1; }
for c in 1 0; do echo "== ATTN_CLUSTER=$c"; RIDGELINE_ATTN_CLUSTER=$c $b/tests/test_gpu_kernels 2>&1 | grep -E "FAIL|Totals|decode"; done
$b/tests/test_gpu_fused 2>&1 | grep -E "FAIL|Totals"
echo "== memcheck"; timeout 200 compute-sanitizer --tool memcheck --error-exitcode 3 $b/tests/test_gpu_kernels >"$out/memcheck.log" 2>&1; echo "rc=$?"; grep -E "FAIL|Totals|ERROR SUMMARY" "$out/memcheck.log"
echo "== racecheck"; timeout 200 compute-sanitizer --tool racecheck --error-exitcode 3 $b/tests/test_gpu_kernels >"$out/racecheck.log" 2>&1; echo "rc=$?"; grep -E "Totals|RACECHECK SUMMARY" "$out/racecheck.log"; grep -E "Race reported" "$out/racecheck.log" | grep -v nvjet | head -5
s=synthetic:smollm2-135m
for c in 1 0 1 0; do
  echo "== ATTN_CLUSTER=$c"
  RIDGELINE_ATTN_CLUSTER=$c $b/app/ridgeline-bench decode --model $s --backend cuda --batch 1,2,4,8 --context 256 --steps 32 2>&1 | grep -E "^decode"
  RIDGELINE_ATTN_CLUSTER=$c $b/app/ridgeline-bench decode --model $s --backend cuda --batch 1 --context 2048 --steps 32 2>&1 | grep -E "^decode"
done
for c in 1 0; do
  echo "== ATTN_CLUSTER=$c llama"
  RIDGELINE_ATTN_CLUSTER=$c $b/app/ridgeline-bench decode --model synthetic:llama3-8b --backend cuda --batch 1,8 --context 256 --steps 16 2>&1 | grep -E "^decode"
done
for d in 1 0 1 0; do
  echo "== GEMV_DEEP=$d llama"
  RIDGELINE_GEMV_DEEP=$d $b/app/ridgeline-bench decode --model synthetic:llama3-8b --backend cuda --batch 1 --context 256 --steps 16 2>&1 | grep -E "^decode"
  RIDGELINE_GEMV_DEEP=$d $b/app/ridgeline-bench decode --model $s --backend cuda --batch 1 --context 256 --steps 32 2>&1 | grep -E "^decode"
done
RIDGELINE_GEMV_DEEP=1 $b/tests/test_gpu_fused 2>&1 | grep -E "FAIL|Totals"
