#!/usr/bin/env bash
# cuda-ab.sh: a same-machine A/B of one source file. With build-gpu configured (after
# cuda-perf-check.sh build or gpu-check), builds ridgeline-bench from the working tree (B) and
# runs each bench command; swaps in OLD for FILE (A), rebuilds, runs them again; puts FILE back
# and rebuilds (not with AB_NO_REBUILD=1). The lent GPUs differ by ~6-7% between machines, so only pairs from one call compare.
#   usage: dev/gpu/cuda-ab.sh FILE OLD 'BENCH ARGS' ['BENCH ARGS' ...]
#   e.g.   dev/gpu/cuda-ab.sh kernels/attention_decode.cu .carry-old/attention_decode.cu \
#            'decode --model synthetic:smollm2-135m --backend cuda --batch 1,2 --context 256 --steps 32'
set -uo pipefail
file=${1:?usage: cuda-ab.sh FILE OLD 'BENCH ARGS'...} old=${2:?OLD copy of FILE}
shift 2
cd "$(dirname "$0")/../.."
b=build-gpu
bench() {
  cmake --build $b --target ridgeline-bench >/dev/null 2>&1 || { echo "build failed ($1)"; return 1; }
  for args in "$@"; do echo "== [$tag] ridgeline-bench $args"; $b/app/ridgeline-bench $args 2>&1 | grep -E "^(mode|decode|prefill)"; done
}
cp "$file" /tmp/ab-new
tag=B bench "$@"
cp "$old" "$file"
tag=A bench "$@"
cp /tmp/ab-new "$file"
[ "${AB_NO_REBUILD:-0}" = 1 ] || cmake --build $b --target ridgeline-bench >/dev/null 2>&1 || echo "rebuild of B failed"
