#!/usr/bin/env bash
# soak.sh: the GPU soak (docs/reliability.md, "Long runs") on one warm lent machine.
# ridgeline-soak is built here (CUDA + Qt, sm_90) and bundled with its libraries, because the GPU
# machine has no Qt and the soak runs the window's own Qt-Core parts. Set up here first:
#   ninja -C build ridgeline-soak && bash ../shared/tools/bundle-window-for-gpu build/app/ridgeline-soak .carry-soak/soak.tar.xz
#   split -n 2 -d -a 2 models/SmolLM2-135M-Instruct.Q4_1.gguf modelpart. -> .carry1/modelpart.00, .carry2/modelpart.01
#   mkdir -p .carry-json && cp -r /usr/include/nlohmann /usr/include/CLI .carry-json/
#   .carry-tiny/py: the gguf package and its imports from models/.venv-gguf; .carry-tiny/vocab:
#   models/vocab/ggml-vocab-{qwen2,llama-spm}.gguf (the tiny family models, 212 MB, are made on
#   the machine; with a model half they would pass the 64 MiB a call may carry)
# Calls, each within 30 s of the last (a machine goes cold 30 s after a call):
#   1 model1 (carry .carry1 .carry-json): the model's first half to /tmp.
#   2 model2 (carry .carry2): joins the model; with GPU_TESTS=1 (the default) builds the headless
#            tree in the foreground (about a minute) and runs every GPU test on it, memcheck on
#            test_gpu_quant and the kv-pressure story; GPU_TESTS=quick builds and runs
#            test_gpu_backend and test_gpu_families (the gate before a soak), GPU_TESTS=families
#            test_gpu_families and its memcheck alone (no model needed), GPU_TESTS=0 nothing. (A build
#            started in the background in model1 raced model2's copy of the tree.)
#   3 start  (carry .carry-soak): unpacks the bundle and starts the soak in its own session
#            (setsid: it outlives the call), then watches it for WATCH_S seconds.
#   4 watch  (no carry): watches for WATCH_S seconds more (repeat until it ends).
#   tests    (carry .carry-tiny .carry-json the first time: makes the tiny family models): the
#            GPU tests as model2 runs them, beside the soak or after it.
#   5 finish (no carry): waits for the end; the CSV, the log and analyze.py's verdict to OUT.
set -uo pipefail
phase=${1:?usage: soak.sh model1|model2|start|watch|finish OUT}
out=${2:?usage: soak.sh PHASE OUT}
cd "$(dirname "$0")/../.."
mkdir -p "$out"
export PATH=/usr/local/cuda/bin:$PATH
m=/tmp/rl/SmolLM2-135M-Instruct.Q4_1.gguf
duration=${DURATION:-1200}   # also SEGMENT, FIRST_KNOB, KNOB_EVERY (seconds) for a shorter lease
# KV_BLOCKS: the pool's size. The default (auto) gives SmolLM2 ~205,000 blocks on an H100, which
# the load takes ~10 minutes to fill once with cached prefixes; the prefix cache's index grows with
# the cached blocks until then, so warm-up would last that long. 24,576 blocks (~9 GB) still hold
# 64 users' contexts three times over and fill within the first minutes.
kv_blocks=${KV_BLOCKS:-24576}
watch() {  # prints a sample line every minute until WATCH_S pass or the soak ends
  local until=$(( $(date +%s) + ${WATCH_S:-540} ))
  while [ "$(date +%s)" -lt "$until" ]; do
    [ -f /tmp/soak/done ] && break
    sleep 20
  done
  grep -E "^t=" /tmp/soak/soak.log | awk 'NR % 6 == 0' | tail -12 | cut -c1-300
  grep -E "failure|refused|error" /tmp/soak/soak.log | tail -5
  [ -f /tmp/soak/done ] && echo "soak ended: $(cat /tmp/soak/done)"
}
case $phase in
model1)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.csv"
  mkdir -p /tmp/rl && cp .carry1/modelpart.00 /tmp/rl/
  mkdir -p /tmp/rl/json && cp -r .carry-json/. /tmp/rl/json/   # kept: later calls carry no json
  ;;
model2)
  [ -f $m ] || cat /tmp/rl/modelpart.00 .carry2/modelpart.01 > $m
  sha256sum $m | tee "$out/model.sha256"
  [ "${GPU_TESTS:-1}" = 0 ] && exit 0
  bash "$0" tests "$out"
  ;;
tests)
  json=/tmp/rl/json
  [ -d .carry-json ] && mkdir -p $json && cp -r .carry-json/. $json/   # a first call without model1
  if [ -d .carry-tiny ] && [ ! -f /tmp/rl/tiny/tiny-mixtral.gguf ]; then   # numpy comes with PyTorch there
    PYTHONPATH=.carry-tiny/py python3 tests/golden/make_tiny_models.py --vocab-dir .carry-tiny/vocab \
      --out-dir /tmp/rl/tiny 2>&1 | tail -3
  fi
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DRIDGELINE_GUI=OFF -DRIDGELINE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DRIDGELINE_JSON_INCLUDE_DIR=$json -DRIDGELINE_CLI11_INCLUDE_DIR=$json \
    >/tmp/rl/build.log 2>&1 && cmake --build build-gpu -j16 >>/tmp/rl/build.log 2>&1
  rc=$?
  tail -3 /tmp/rl/build.log; echo "build rc=$rc"
  mkdir -p models && ln -sf $m models/SmolLM2-135M-Instruct.Q4_1.gguf
  [ -e models/tiny ] || ln -sfn /tmp/rl/tiny models/tiny
  if [ "${GPU_TESTS:-1}" = families ]; then   # the families alone (no SmolLM2 needed)
    (cd build-gpu && ctest -R '^test_gpu_families$' --output-on-failure -V) 2>&1 |
      tee "$out/ctest-gpu-families.log" | grep -E "rel L2 [0-9.e-]+ \(bound|logits rel L2|FAIL|PASS|tests passed|Passed|Failed|Totals" | tail -24
    timeout 120 compute-sanitizer --tool memcheck --error-exitcode 3 build-gpu/tests/test_gpu_families mistral_swa qwen3moe \
      >"$out/memcheck-families.log" 2>&1
    echo "memcheck test_gpu_families rc=$?"; grep -E "ERROR SUMMARY" "$out/memcheck-families.log" | tail -1
    exit 0
  fi
  if [ "${GPU_TESTS:-1}" = quick ]; then   # the gate before a soak: the GPU against the CPU
    (cd build-gpu && ctest -R '^test_gpu_(backend|families)$' --output-on-failure -V) 2>&1 |
      tee "$out/ctest-gpu-backend.log" | grep -E "rel L2 [0-9.e-]+ \(bound|FAIL|PASS|tests passed|Passed|Failed" | tail -24
    exit 0
  fi
  # Every GPU test (test_gpu_backend: native and bf16 weights against the CPU backend), then
  # compute-sanitizer memcheck on the quantized GEMV test.
  (cd build-gpu && ctest -L gpu --output-on-failure) 2>&1 | tee "$out/ctest-gpu.log" | tail -15
  grep -E "weights:|rel L2" build-gpu/Testing/Temporary/LastTest.log | head -40 >"$out/rel-l2.txt"
  timeout 150 compute-sanitizer --tool memcheck --error-exitcode 3 build-gpu/tests/test_gpu_quant >"$out/memcheck-quant.log" 2>&1
  echo "memcheck test_gpu_quant rc=$?"; grep -E "ERROR SUMMARY" "$out/memcheck-quant.log" | tail -1
  # The KV-pressure story headless (issue 20): evictions and recompute must move.
  timeout 150 build-gpu/app/ridgeline-bench serve --model $m --backend cuda --preset kv-pressure --duration 60 \
    --json "$out/serve-kv-pressure.json" >"$out/serve-kv-pressure.log" 2>&1
  echo "serve kv-pressure rc=$?"
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); [print(k, v) for k, v in d.items() if not isinstance(v, (dict, list))]" \
    "$out/serve-kv-pressure.json" 2>&1 | head -40
  ;;
start)
  rm -rf /tmp/rl-bundle /tmp/soak && mkdir -p /tmp/soak
  tar xJf .carry-soak/soak.tar.xz -C /tmp
  # shellcheck disable=SC1091
  . /tmp/rl-bundle/env.sh
  setsid nohup bash -c "/tmp/rl-bundle/bin/ridgeline-soak --model $m --backend cuda --duration $duration \
    --segment ${SEGMENT:-50} --first-knob ${FIRST_KNOB:-120} --knob-every ${KNOB_EVERY:-300} --sample-every 10 --users 64 --api-clients 4 --kv-blocks $kv_blocks \
    --csv /tmp/soak/soak.csv > /tmp/soak/soak.log 2>&1; echo \"exit \$?\" > /tmp/soak/done" </dev/null >/dev/null 2>&1 &
  sleep 20
  head -5 /tmp/soak/soak.log | cut -c1-300
  watch
  ;;
watch)
  watch
  ;;
finish)
  for i in $(seq 1 100); do [ -f /tmp/soak/done ] && break; sleep 6; done
  cp /tmp/soak/soak.csv /tmp/soak/soak.log "$out/" 2>/dev/null
  cat /tmp/soak/done 2>/dev/null
  grep -E "^ridgeline-soak" /tmp/soak/soak.log
  python3 dev/soak/analyze.py /tmp/soak/soak.csv --json "$out/verdict.json" | tail -40
  ;;
esac
