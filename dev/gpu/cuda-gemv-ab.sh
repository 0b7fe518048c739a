#!/usr/bin/env bash
# cuda-gemv-ab.sh: one device call (carry .carry-json) for the k-split GEMV at one and two x rows
# (gemv_kernel: KS warps per row pair in W-warp CTAs; RIDGELINE_GEMV_KS = 8 characters,
# [n - 1][end] with ends add, glu, rope, out: 1 2 4 = KS in 4-warp CTAs, a b c = KS 1 2 4 in
# 8-warp CTAs). Checks it against the references (test_gpu_fused with every end under every
# layout, plain, memcheck and racecheck), then times Llama-3-8B and Qwen2.5-7B at batch 1 and 2
# under several tables in alternating runs (docs/benchmarks.md, 2026-11-30 f; the default,
# "2ba14ba1", is what gemv.cu uses without the variable). Logs each line to $OUT/log.txt.
#   usage: dev/gpu/cuda-gemv-ab.sh OUT
set -uo pipefail
out=${1:?usage: cuda-gemv-ab.sh OUT}
cd "$(dirname "$0")/../.."
exec > >(tee "$out/log.txt") 2>&1
. dev/gpu/cuda-build-lib.sh
cuda_build "$out" ridgeline-bench test_gpu_fused
echo "built at ${SECONDS}s"
# DEEP_K=0 sends the tests' short rows (d 256, 576, 1536) to the long-row dispatch too, so every
# end (norm prologue, add, rope + KV store, bf16 and f32 out, GLU) takes the split.
for v in "" 22222222 44444444 aaaaaaaa bbbbbbbb cccccccc; do
  [ -n "$v" ] && v="RIDGELINE_GEMV_KS=$v RIDGELINE_GEMV_DEEP_K=0"
  env $v $b/tests/test_gpu_fused 2>&1 | grep -E "FAIL|Totals" | sed "s|^|[fused ${v:-default}] |"
done
export RIDGELINE_GEMV_KS=ccccbbbb RIDGELINE_GEMV_DEEP_K=0
memcheck "$out" fused-ks 150 $b/tests/test_gpu_fused
echo "== racecheck"
timeout 150 compute-sanitizer --tool racecheck --error-exitcode 3 $b/tests/test_gpu_fused >"$out/racecheck.log" 2>&1
echo "rc=$?"; grep -E "RACECHECK SUMMARY|ERROR SUMMARY" "$out/racecheck.log" | tail -1
unset RIDGELINE_GEMV_KS RIDGELINE_GEMV_DEEP_K
echo "checks at ${SECONDS}s"
run() { RIDGELINE_GEMV_KS=$1 $bench decode --model $2 --backend cuda --batch $3 --context ${4:-256} --steps 64 2>&1 | rows "[ks $1 $2 b$3 c${4:-256}]"; }
for r in 1 2; do
  for model in $l synthetic:qwen2.5-7b; do
    for ks in 11111111 22111111 2a111111 2b111111 2c111111 bb111111 2ba11111 2bb11111; do run $ks $model 1; done
    for ks in 11111111 11114211 11114b11 1111cb11 11114bb1 11114ba1; do run $ks $model 2; done
  done
  for ks in 11111111 22111111 2b111111 2bb11111; do run $ks $l 1 2048; done
  echo "  round $r at ${SECONDS}s"
done
