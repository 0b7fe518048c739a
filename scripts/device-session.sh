#!/usr/bin/env bash
# device-session.sh: what one lent-GPU session runs (see docs/benchmarks.md). Joins the model that
# travelled in two carried pieces, runs scripts/gpu-check (build, GPU tests, compute-sanitizer,
# benchmarks) and the decode/prefill benchmark set, and leaves results in $1.
set -uo pipefail
out=${1:?usage: device-session.sh OUT_DIR}
cd "$(dirname "$0")/.."
mkdir -p models
if [ ! -f models/SmolLM2-135M-Instruct.Q4_1.gguf ] && [ -f .carry1/modelpart.00 ] && [ -f .carry2/modelpart.01 ]; then
  cat .carry1/modelpart.00 .carry2/modelpart.01 > models/SmolLM2-135M-Instruct.Q4_1.gguf
fi
sha256sum models/SmolLM2-135M-Instruct.Q4_1.gguf | tee "$out/model.sha256"
export RIDGELINE_CMAKE_ARGS="-DRIDGELINE_JSON_INCLUDE_DIR=$PWD/.carry-json"
bash scripts/gpu-check "$out/gpu" ${GPU_CHECK_ARGS:---no-bench}
b=build-gpu/app/ridgeline-bench
m=models/SmolLM2-135M-Instruct.Q4_1.gguf
run() { echo "== $*"; "$@"; }
run $b decode --model $m --backend cuda --batch 1,8,64,256 --context 256 --steps 32 --json "$out/decode-smollm2.json"
run $b decode --model synthetic:llama3-8b --backend cuda --batch 1,8,64 --context 256 --steps 16 --json "$out/decode-llama3-8b.json"
run $b prefill --model synthetic:llama3-8b --backend cuda --batch 1 --context 2048 --steps 3 --json "$out/prefill-llama3-8b.json"
