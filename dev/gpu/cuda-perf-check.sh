#!/usr/bin/env bash
# cuda-perf-check.sh: the CUDA backend's accuracy and speed check for one lent-GPU session, in
# two calls because the SmolLM2 model travels in two carried pieces (see device-session.sh):
#   call 1 (carry .carry1 .carry-json):  dev/gpu/cuda-perf-check.sh build $OUT
#       stashes modelpart.00, builds the GPU tests and ridgeline-bench, runs the model-free GPU
#       tests and the synthetic llama3-8b decode/prefill benches.
#   call 2 (carry .carry2 .carry-json), while the machine is still warm:  ... model $OUT
#       joins the model, runs test_gpu_backend (GPU vs CPU logits), the SmolLM2 decode benches,
#       and compute-sanitizer memcheck on the backend and residual tests.
#   or, in one call (carry .carry-model .carry-json):  ... all $OUT
#       uses .carry-model/smol4.gguf (SmolLM2-135M with every tensor Q4_1, 39 MB) as the test
#       model: the GPU-vs-CPU comparison then runs on that variant of the same network.
set -uo pipefail
phase=${1:?usage: cuda-perf-check.sh build|model OUT}
out=${2:?usage: cuda-perf-check.sh build|model OUT}
cd "$(dirname "$0")/../.."
run() { echo "== $*"; "$@"; }
. dev/gpu/cuda-build-lib.sh
build() { cuda_build "$out" ridgeline-bench test_gpu_kernels test_gpu_residual test_gpu_backend test_gpu_dequant test_gpu_fused test_gpu_memory test_gpu_sampling; }
if [ "$phase" = all ]; then
  mkdir -p models
  [ -f $m ] || cp .carry-model/smol4.gguf $m
  sha256sum $m
  build
  run $b/tests/test_gpu_kernels 2>&1 | grep -E "FAIL|Totals"
  run $b/tests/test_gpu_residual 2>&1 | grep -E "FAIL|rel L2|Totals"
  run $b/tests/test_gpu_backend 2>&1 | grep -E "rel L2|WARN|FAIL|Totals"
  run $bench decode --model $m --backend cuda --batch 1,8,64,256 --context 256 --steps 32 --json "$out/decode-smollm2.json"
  run $bench decode --model synthetic:llama3-8b --backend cuda --batch 1,8,64 --context 256 --steps 16 --json "$out/decode-llama3-8b.json"
  RIDGELINE_TUNING=gemv_max_rows=0 run $bench decode --model synthetic:llama3-8b --backend cuda --batch 1,8 --context 256 --steps 16
  run $bench prefill --model synthetic:llama3-8b --backend cuda --batch 1 --context 2048 --steps 3 --json "$out/prefill-llama3-8b.json"
  for t in test_gpu_residual test_gpu_backend; do
    memcheck "$out" $t 100 $b/tests/$t
  done
elif [ "$phase" = build ]; then
  mkdir -p /tmp/rl && cp .carry1/modelpart.00 /tmp/rl/ 2>/dev/null
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
  build
  run $b/tests/test_gpu_kernels 2>&1 | grep -E "FAIL|Totals"
  run $b/tests/test_gpu_residual 2>&1 | grep -E "FAIL|Totals"
  run $b/tests/test_gpu_fused 2>&1 | grep -E "FAIL|Totals|norm|matmul_add"
  run $b/tests/test_gpu_memory 2>&1 | grep -E "refused|free before|FAIL|Totals"
  run $b/tests/test_gpu_sampling 2>&1 | grep -E "FAIL|Totals"
  for t in test_gpu_fused test_gpu_kernels; do
    memcheck "$out" $t 120 $b/tests/$t
  done
  # Decode against the open tuning choices (kernels/tuning.h): every product on cuBLASLt (which
  # also drops the GEMV's fused residual ends), and short rows without the deep loads. (The
  # fusion and cluster-merge switches this used to time are gone: dev/notes/kernel-switches.md.)
  s=synthetic:smollm2-135m
  run $bench decode --model $s --backend cuda --batch 1,2,4,8,64,256 --context 256 --steps 32 --json "$out/decode-smollm2-synth.json"
  RIDGELINE_TUNING=gemv_max_rows=0 run $bench decode --model $s --backend cuda --batch 1,2 --context 256 --steps 32
  RIDGELINE_TUNING=gemv_deep_k=0 run $bench decode --model $s --backend cuda --batch 1,2 --context 256 --steps 32
  run $bench decode --model $l --backend cuda --batch 1,2,4,8,64 --context 256 --steps 16 --json "$out/decode-llama3-8b.json"
  RIDGELINE_TUNING=gemv_max_rows=0 run $bench decode --model $l --backend cuda --batch 1,2 --context 256 --steps 16
  run $bench prefill --model $l --backend cuda --batch 1 --context 2048 --steps 3 --json "$out/prefill-llama3-8b.json"
else
  mkdir -p models
  [ -f $m ] || cat /tmp/rl/modelpart.00 .carry2/modelpart.01 > $m
  sha256sum $m
  [ -x $bench ] || build
  run $b/tests/test_gpu_backend 2>&1 | grep -E "rel L2|WARN|PASS|FAIL|Totals"
  run $bench decode --model $m --backend cuda --batch 1,8,64,256 --context 256 --steps 32 --json "$out/decode-smollm2.json"
  for t in test_gpu_backend test_gpu_fused; do
    memcheck "$out" $t 150 $b/tests/$t
  done
  # Soak: chat at saturation for SOAK_S seconds; device memory from nvidia-smi after the warm-up
  # (10% of the run, at most 60 s) and 5 s before the end, next to the bench's own soak record.
  d=${SOAK_S:-240}
  $bench serve --model $m --backend cuda --scenario chat --users 64 --duration $d --json "$out/soak-cuda.json" >"$out/soak.log" 2>&1 &
  pid=$!
  w=$(( d / 10 < 60 ? d / 10 : 60 )); sleep $(( w + 5 ))
  echo "device memory after warm-up: $(nvidia-smi --query-gpu=memory.used --format=csv,noheader)"
  sleep $(( d - w - 10 ))
  echo "device memory before the end: $(nvidia-smi --query-gpu=memory.used --format=csv,noheader)"
  wait $pid; echo "serve exit $?"; tail -6 "$out/soak.log"
  python3 -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1])).get('soak'), indent=1))" "$out/soak-cuda.json"
fi
