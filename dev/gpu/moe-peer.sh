#!/usr/bin/env bash
# moe-peer.sh: llama.cpp and Ridgeline on one random Qwen3-30B-A3B-shaped Q4_K_M file, on the GPU
# machine, in one warm lease (issue 22's peer). The file is written in block formats directly by
# dev/tools/random_moe_gguf.py (~17 GB, about a minute; no BF16 original, no llama-quantize).
# Set up here:
#   bash ../shared/tools/fetch-llamacpp-source .lcpp && cp ../shared/tools/peer-llamacpp .lcpp/
#   .carry-tiny (dev/gpu/soak.sh's header: the gguf package and the qwen2 vocabulary) and .carry-json
# Calls (each within 30 s of the last):
#   build OUT (carry .lcpp .carry-json): llama.cpp for sm_90 (~4 min; repeat if cut) and our
#              headless tree (build-gpu, ~1 min)
#   gguf  OUT (carry .carry-tiny): the random file in /tmp/moe (Qwen's own 151,936-token vocabulary)
#   bench OUT: llama-bench tg128 and llama-batched-bench at 1, 8 and 64 sequences against
#              ridgeline-bench decode --batch 1,8,64 on the same file, in this one call
set -uo pipefail
phase=${1:?usage: moe-peer.sh build|gguf|bench OUT}
out=${2:?usage: moe-peer.sh build|gguf|bench OUT}
cd "$(dirname "$0")/../.."
mkdir -p "$out" /tmp/moe
export PATH=/usr/local/cuda/bin:/opt/torch/.venv/bin:$PATH
f=/tmp/moe/qwen3-30b-a3b-random-q4_k_m.gguf
lb=/tmp/lcpp-build/bin
case $phase in
build)
  LCPP_SRC=.lcpp OUT=$out/lcpp BUDGET=${BUDGET:-420} bash .lcpp/peer-llamacpp build 2>&1 | tail -3
  json=/tmp/rl/json && mkdir -p $json && cp -r .carry-json/. $json/
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DRIDGELINE_GUI=OFF -DRIDGELINE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DRIDGELINE_JSON_INCLUDE_DIR=$json -DRIDGELINE_CLI11_INCLUDE_DIR=$json \
    >/tmp/moe/build.log 2>&1 && cmake --build build-gpu -j16 --target ridgeline-bench >>/tmp/moe/build.log 2>&1
  echo "ridgeline build rc=$?"; tail -2 /tmp/moe/build.log
  ;;
gguf)
  [ -f $f ] || PYTHONPATH=.carry-tiny/py python3 dev/tools/random_moe_gguf.py --vocab-from .carry-tiny/vocab/ggml-vocab-qwen2.gguf \
    --out $f 2>&1 | tail -2
  ls -la $f
  ;;
bench)
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$out/gpu.txt"
  timeout 200 $lb/llama-bench -m $f -ngl 99 -fa 1 -p 0 -n 128 -r 3 -o json >"$out/llama-bench.json" 2>"$out/llama-bench.log"
  echo "llama-bench rc=$?"; python3 -c 'import json,sys;[print("llama.cpp tg%d: %.1f +- %.1f tok/s"%(r["n_gen"],r["avg_ts"],r["stddev_ts"])) for r in json.load(open(sys.argv[1]))]' "$out/llama-bench.json"
  timeout 200 $lb/llama-batched-bench -m $f -ngl 99 -fa 1 -c 24576 -npp 256 -ntg 128 -npl 1,8,64 --output-format jsonl \
    2>"$out/batched-bench.log" | grep '^{' >"$out/batched-bench.jsonl"
  python3 -c 'import json,sys;[print("llama.cpp batched B=%d: tg %.1f tok/s"%(r["pl"],r["speed_tg"])) for r in map(json.loads,open(sys.argv[1]))]' "$out/batched-bench.jsonl"
  timeout 200 build-gpu/app/ridgeline-bench decode --model $f --backend cuda --batch 1,8,64 --context 256 --steps 64 \
    --json "$out/ridgeline-decode.json" >"$out/ridgeline-decode.log" 2>&1
  echo "ridgeline-bench rc=$?"; grep -vE "^\s*$" "$out/ridgeline-decode.log" | tail -5 | cut -c1-200
  ;;
esac
