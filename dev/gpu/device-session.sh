#!/usr/bin/env bash
# device-session.sh: what one lent-GPU session runs (see dev/notes/benchmarks-2026-11.md). Joins the model that
# travelled in two carried pieces, then in phase `check` runs scripts/gpu-check (build, GPU tests,
# compute-sanitizer), in phase `bench` the decode/prefill/serve benchmark set and the Nsight
# Compute step breakdowns (dev/gpu/ncu-step.sh); `all` does both. Results go to $1.
#   usage: dev/gpu/device-session.sh OUT_DIR [check|bench|all]
set -uo pipefail
out=${1:?usage: device-session.sh OUT_DIR [check|bench|all]}
phase=${2:-all}
cd "$(dirname "$0")/../.."
mkdir -p models "$out"
if [ ! -f models/SmolLM2-135M-Instruct.Q4_1.gguf ] && [ -f .carry1/modelpart.00 ] && [ -f .carry2/modelpart.01 ]; then
  cat .carry1/modelpart.00 .carry2/modelpart.01 > models/SmolLM2-135M-Instruct.Q4_1.gguf
fi
sha256sum models/SmolLM2-135M-Instruct.Q4_1.gguf | tee "$out/model.sha256"
export RIDGELINE_CMAKE_ARGS="-DRIDGELINE_JSON_INCLUDE_DIR=$PWD/.carry-json"
if [ "$phase" = check ] || [ "$phase" = all ]; then
  bash scripts/gpu-check "$out/gpu" --no-bench
fi
[ "$phase" = bench ] || [ "$phase" = all ] || exit 0
b=build-gpu/app/ridgeline-bench
m=models/SmolLM2-135M-Instruct.Q4_1.gguf
[ -x $b ] || bash scripts/gpu-check "$out/gpu" --no-bench --no-sanitizer >/dev/null
run() { echo "== $*"; "$@"; }
run $b decode --model $m --backend cuda --batch 1,8,64,256 --context 256 --steps 32 --json "$out/decode-smollm2.json"
run $b decode --model synthetic:llama3-8b --backend cuda --batch 1,8,64 --context 256 --steps 16 --json "$out/decode-llama3-8b.json"
run $b prefill --model synthetic:llama3-8b --backend cuda --batch 1 --context 2048 --steps 3 --json "$out/prefill-llama3-8b.json"
run $b serve --model $m --backend cuda --scenario ramp --users 64 --duration 20 \
  --json "$out/serve-ramp-cuda.json" --csv "$out/serve-ramp-cuda.csv" | tail -8
if command -v ncu >/dev/null; then
  bash dev/gpu/ncu-step.sh "$out" llama3-8b-b1 synthetic:llama3-8b 1 $b
  bash dev/gpu/ncu-step.sh "$out" smollm2-b64 $m 64 $b
fi
