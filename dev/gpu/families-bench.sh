#!/usr/bin/env bash
# families-bench.sh: decode of the synthetic family shapes on the CUDA backend (issue 22), on the
# headless build that dev/gpu/soak.sh's tests phase made (build-gpu). Random weights at the real
# shapes, drawn on the device; each model in its own process so one failure does not hide the rest.
#   bash dev/gpu/families-bench.sh OUT
set -uo pipefail
out=${1:?usage: families-bench.sh OUT}
cd "$(dirname "$0")/../.."
mkdir -p "$out"
b=build-gpu/app/ridgeline-bench
for m in ${MODELS:-synthetic:qwen3-30b-a3b:q4_k_m synthetic:qwen3-8b synthetic:gemma3-12b synthetic:mixtral-8x7b-4layers}; do
  name=${m#synthetic:}; name=${name//:/-}
  echo "== $m"
  timeout ${PER_MODEL_S:-150} $b decode --model "$m" --backend cuda --batch ${BATCHES:-1,8,64} --context ${CONTEXT:-256} \
    --steps ${STEPS:-16} --json "$out/decode-$name.json" >"$out/decode-$name.log" 2>&1
  echo "rc=$?"
  grep -vE "^\s*$" "$out/decode-$name.log" | tail -${TAIL:-8} | cut -c1-220
done
