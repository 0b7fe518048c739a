#!/usr/bin/env bash
# cuda-decode-ab.sh: validates and times the small-batch decode paths against their switches in
# one lent-GPU session, in two calls (the SmolLM2 model travels in two carried pieces):
#   call 1 (carry .carry1 .carry-json):  dev/gpu/cuda-decode-ab.sh kernels $OUT
#       stashes modelpart.00; builds; GPU kernel and fused tests (test_gpu_fused's shapes take
#       both GEMV depths); memcheck; same-call decode A/B on the synthetic shapes of the short-row
#       GEMV (RIDGELINE_TUNING=gemv_deep_k=K, kernels/tuning.h). (It also timed the cluster merge
#       against the global one; that switch is gone, the A/B settled: dev/notes/kernel-switches.md.)
#   call 2 (carry .carry2 .carry-json), within 30 s:  dev/gpu/cuda-decode-ab.sh model $OUT
#       joins the model; test_gpu_backend (GPU vs CPU logits) and its memcheck; real SmolLM2 A/B.
set -uo pipefail
phase=${1:?usage: cuda-decode-ab.sh kernels|model OUT}
out=${2:?usage: cuda-decode-ab.sh kernels|model OUT}
cd "$(dirname "$0")/../.."
. dev/gpu/cuda-build-lib.sh
if [ "$phase" = kernels ]; then
  mkdir -p /tmp/rl && cp .carry1/modelpart.00 /tmp/rl/
  cuda_build "$out" ridgeline-bench test_gpu_kernels test_gpu_fused test_gpu_backend
  echo "== test_gpu_kernels"; $b/tests/test_gpu_kernels 2>&1 | grep -E "FAIL|Totals"
  echo "== test_gpu_fused"; $b/tests/test_gpu_fused 2>&1 | grep -E "FAIL|Totals"
  memcheck "$out" fused 120 $b/tests/test_gpu_fused
  s=synthetic:smollm2-135m
  for k in 2048 0 1024 2048 0; do
    RIDGELINE_TUNING=gemv_deep_k=$k $bench decode --model $s --backend cuda --batch 1,2,4 --context 256 --steps 32 2>&1 | rows "K$k"
  done
  $bench decode --model $s --backend cuda --batch 8,64,256 --context 256 --steps 32 --json "$out/decode-smollm2-synth.json" 2>&1 | rows "smollm2"
else
  mkdir -p models
  [ -f $m ] || cat /tmp/rl/modelpart.00 .carry2/modelpart.01 > $m
  sha256sum $m
  $b/tests/test_gpu_backend 2>&1 | grep -E "rel L2|FAIL|Totals"
  memcheck "$out" backend 150 $b/tests/test_gpu_backend
  for r in 1 2; do
    for k in 2048 0; do
      RIDGELINE_TUNING=gemv_deep_k=$k $bench decode --model $m --backend cuda --batch 1,2,8,64 --context 256 --steps 32 2>&1 | rows "K$k"
    done
  done
  $bench decode --model $m --backend cuda --batch 1,8,64,256 --context 256 --steps 32 --json "$out/decode-smollm2.json" 2>&1 | rows "final"
fi
