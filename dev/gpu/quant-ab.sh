#!/usr/bin/env bash
# quant-ab.sh: native block-format weights (the int8 GEMV path, and the fp32 one through
# RIDGELINE_TUNING=gemv_int8_max_rows=0) against bf16 weights and llama.cpp, on one warm lent
# machine. Set up here first (all git-ignored):
#   bash ../shared/tools/fetch-llamacpp-source .lcpp && cp ../shared/tools/{peer-llamacpp,make_random_gguf.py} .lcpp/
#   mkdir -p .carry-json && cp -r /usr/include/nlohmann /usr/include/CLI .carry-json/
#   split -n 2 -d -a 2 models/SmolLM2-135M-Instruct.Q4_1.gguf modelpart. -> .carry1/modelpart.00, .carry2/modelpart.01
# Calls, each within 30 s of the last (the carry limit is 64 MiB a call):
#   1 build   (carry .lcpp .carry-json): llama.cpp's build starts in the background, this tree
#             builds (build-gpu), then the GPU tests that need no model.
#   2 model   (carry .carry1): the model's first half to /tmp.
#   3 bench   (carry .carry2 .carry-json): joins the model; test_gpu_backend; ridgeline-bench on
#             SmolLM2 and synthetic Llama-3-8B shapes: int8 path, fp32 path, bf16 weights.
#   4 peer    (carry .lcpp .carry-json): waits for llama.cpp, writes the random Llama-3-8B GGUF
#             (BF16) and quantizes it (Q8_0, Q4_K_M, Q6_K, Q5_K_M); then llama-bench and
#             ridgeline-bench (int8 path) on each file, alternating.
#   5 sanitize (carry .carry-json): every GPU test under compute-sanitizer memcheck.
set -uo pipefail
phase=${1:?usage: quant-ab.sh build|model|bench|peer|sanitize OUT}
out=${2:?usage: quant-ab.sh PHASE OUT}
cd "$(dirname "$0")/../.."
mkdir -p "$out"
json="$PWD/.carry-json"
m=models/SmolLM2-135M-Instruct.Q4_1.gguf
export PATH=/usr/local/cuda/bin:$PATH
configure() {  # configure SRC BUILD
  cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRIDGELINE_GUI=OFF -DRIDGELINE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DRIDGELINE_JSON_INCLUDE_DIR="$json" -DRIDGELINE_CLI11_INCLUDE_DIR="$json" \
    >"$out/configure-$(basename "$2").log" 2>&1 || { tail -20 "$out/configure-$(basename "$2").log"; exit 1; }
}
rb() {  # rb TAG BUILD MODE MODEL BATCHES [ARGS...]: one ridgeline-bench line per batch
  local tag=$1 b=$2 mode=$3 model=$4 batches=$5; shift 5
  "$b/app/ridgeline-bench" "$mode" --model "$model" --backend cuda --batch "$batches" "$@" 2>&1 |
    grep -E "^$mode|weights|error|Error" | sed "s|^|$tag $(basename "$model") |"
}
case $phase in
build)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.csv"
  # llama.cpp builds beside ours (half the cores), in its own session so it outlives this call.
  if [ ! -f /tmp/lcpp-build/bin/llama-quantize ]; then
    mkdir -p /tmp/lcpp-out
    setsid nohup env LCPP_SRC="$PWD/.lcpp" JOBS=8 BUDGET=1500 OUT=/tmp/lcpp-out bash .lcpp/peer-llamacpp build \
      >/tmp/lcpp-out/build-phase.log 2>&1 < /dev/null &
  fi
  configure . build-gpu
  cmake --build build-gpu -j12 >"$out/build-gpu.log" 2>&1 || { grep -E "error|FAILED" "$out/build-gpu.log" | head -30; exit 1; }
  (cd build-gpu && ctest -L gpu -E "test_gpu_backend|test_gpu_dequant" --output-on-failure) 2>&1 | tee "$out/ctest-gpu.log" | tail -25
  grep -E "rel L2" build-gpu/Testing/Temporary/LastTest.log | head -80 >"$out/rel-l2.txt"
  tail -3 /tmp/lcpp-out/build-phase.log
  ;;
model)
  mkdir -p /tmp/rl && cp .carry1/modelpart.00 /tmp/rl/ && ls -la /tmp/rl
  ;;
bench)
  mkdir -p models
  [ -f $m ] || cat /tmp/rl/modelpart.00 .carry2/modelpart.01 > $m
  sha256sum $m | tee "$out/model.sha256"
  (cd build-gpu && ctest -R test_gpu_backend --output-on-failure -V) 2>&1 | tee "$out/ctest-backend.log" |
    grep -E "weights:|rel L2|WARNING|PASS|FAIL|tests passed" | tail -30
  fp32=gemv_int8_max_rows=0
  for round in 1; do
    rb int8 build-gpu decode $m 1,8,64 --context 256 --steps 64 --weights native
    RIDGELINE_TUNING=$fp32 rb fp32 build-gpu decode $m 1,8,64 --context 256 --steps 64 --weights native
    rb bf16 build-gpu decode $m 1,8,64 --context 256 --steps 64 --weights bf16
  done 2>&1 | tee "$out/bench-smollm2.log"
  for s in synthetic:llama3-8b:q4_k_m synthetic:llama3-8b:q8_0 synthetic:llama3-8b:q6_k synthetic:llama3-8b:q5_k_m; do
    rb int8 build-gpu decode $s 1,8 --context 256 --steps 32
    RIDGELINE_TUNING=$fp32 rb fp32 build-gpu decode $s 1,8 --context 256 --steps 32
  done 2>&1 | tee "$out/bench-synthetic.log"
  rb bf16 build-gpu decode synthetic:llama3-8b 1,8 --context 256 --steps 32 2>&1 | tee -a "$out/bench-synthetic.log"
  timeout 120 compute-sanitizer --tool memcheck --error-exitcode 3 build-gpu/tests/test_gpu_quant >"$out/memcheck-quant.log" 2>&1
  echo "memcheck test_gpu_quant rc=$?"; grep -E "ERROR SUMMARY" "$out/memcheck-quant.log" | tail -1
  # 70B at Q4_K_M (about 40 GB) on one card (the bench prints the weight bytes it holds).
  rb int8 build-gpu decode synthetic:llama3-70b:q4_k_m 1,8 --context 256 --steps 16 2>&1 | tee -a "$out/bench-synthetic.log"
  ;;
peer)
  for i in $(seq 1 50); do [ -f /tmp/lcpp-build/bin/llama-quantize ] && break; sleep 5; done
  tail -3 /tmp/lcpp-out/build-phase.log
  [ -f /tmp/lcpp-build/bin/llama-quantize ] || { echo "llama.cpp not built yet"; exit 3; }
  mkdir -p models
  [ -f $m ] || { echo "no model (run bench first)"; exit 1; }
  LCPP_SRC=$PWD/.lcpp VOCAB=$m OUT=$out/lcpp JOBS=16 bash .lcpp/peer-llamacpp gguf || exit 1
  g=/tmp/lcpp-gguf
  [ -f $g/rand-llama3-8b-Q6_K.gguf ] || /tmp/lcpp-build/bin/llama-quantize $g/rand-llama3-8b-BF16.gguf \
    $g/rand-llama3-8b-Q6_K.gguf Q6_K 16 >"$out/quantize-Q6_K.log" 2>&1
  [ -f $g/rand-llama3-8b-Q5_K_M.gguf ] || /tmp/lcpp-build/bin/llama-quantize $g/rand-llama3-8b-BF16.gguf \
    $g/rand-llama3-8b-Q5_K_M.gguf Q5_K_M 16 >"$out/quantize-Q5_K_M.log" 2>&1
  ls -la $g
  for q in Q4_K_M Q8_0 Q6_K Q5_K_M; do
    f=$g/rand-llama3-8b-$q.gguf
    /tmp/lcpp-build/bin/llama-bench -m $f -ngl 99 -fa 1 -p 0 -n 128 -r 3 -o csv 2>/dev/null | tail -1 |
      awk -F, -v q=$q '{print "llama.cpp " q " tg128 " $(NF-1) " tok/s"}'
    rb int8 build-gpu decode $f 1,8 --context 256 --steps 64
  done 2>&1 | tee "$out/bench-files.log"
  ;;
sanitize)
  for t in build-gpu/tests/test_gpu_quant build-gpu/tests/test_gpu_backend; do
    n=$(basename "$t")
    echo "== memcheck $n"
    timeout 240 compute-sanitizer --tool memcheck --error-exitcode 3 "$t" >"$out/memcheck-$n.log" 2>&1
    echo "rc=$?"; grep -E "ERROR SUMMARY|Totals" "$out/memcheck-$n.log" | tail -2
  done
  ;;
esac
