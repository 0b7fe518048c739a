#!/usr/bin/env bash
# cuda-prefill-check.sh: one lent-GPU call for prefill attention (carry .carry1 .carry-json, like
# cuda-perf-check.sh build, which it reuses for the build and the model-part stash):
#   the kernel tests (plain and under compute-sanitizer memcheck), prefill benches at 2048 and
#   8192 tokens, and Nsight Compute on the attention kernel alone and on one whole prefill step.
#   (It also timed the fp32 attention kernel against the tensor-core one; that switch is gone,
#   the fp32 kernel serves head_dim 256 only: dev/notes/kernel-switches.md.)
#   usage: dev/gpu/cuda-prefill-check.sh OUT
set -uo pipefail
out=${1:?usage: cuda-prefill-check.sh OUT}
cd "$(dirname "$0")/../.."
run() { echo "== $*"; "$@"; }
. dev/gpu/cuda-build-lib.sh
mkdir -p /tmp/rl && cp .carry1/modelpart.00 /tmp/rl/ 2>/dev/null
cuda_build "$out" ridgeline-bench test_gpu_kernels test_gpu_residual test_gpu_backend test_gpu_dequant test_gpu_fused test_gpu_memory test_gpu_sampling
run $b/tests/test_gpu_kernels 2>&1 | grep -E "FAIL|attention|Totals"
run $b/tests/test_gpu_residual 2>&1 | grep -E "FAIL|Totals"
run $b/tests/test_gpu_fused 2>&1 | grep -E "FAIL|Totals"
run $b/tests/test_gpu_sampling 2>&1 | grep -E "FAIL|Totals"
memcheck "$out" kernels 150 $b/tests/test_gpu_kernels
for ctx in 2048 8192; do
  run $bench prefill --model $l --backend cuda --batch 1 --context $ctx --steps 3 \
    --json "$out/prefill-llama3-8b-$ctx.json" | tail -3
done
run $bench prefill --model synthetic:qwen2.5-7b --backend cuda --batch 1 --context 2048 --steps 3 | tail -2
run $bench prefill --model synthetic:smollm2-135m --backend cuda --batch 1,8 --context 2048 --steps 3 | tail -3
if command -v ncu >/dev/null; then
  # The attention kernel alone, the 32 launches of one step (skip the warm-up step's).
  ncu --clock-control none --print-units base --csv --kernel-name regex:attention_prefill \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,sm__ops_path_tensor_src_bf16_dst_fp32.sum \
    --launch-skip 32 --launch-count 32 $bench prefill --model $l --backend cuda --batch 1 --context 2048 --steps 2 \
    >"$out/ncu-attn.csv" 2>"$out/ncu-attn.err"
  python3 - "$out/ncu-attn.csv" <<'EOF'
import csv, sys
from collections import defaultdict
tot = defaultdict(float); n = set()
for r in csv.DictReader([l for l in open(sys.argv[1]) if l.startswith('"')]):
    n.add(r["ID"])
    try: tot[r["Metric Name"]] += float(r["Metric Value"].replace(",", ""))
    except ValueError: pass
print("attention launches", len(n), {k: "%.4g" % v for k, v in tot.items()})
EOF
  NCU_SKIP=${NCU_SKIP:-1200} NCU_COUNT=${NCU_COUNT:-900} bash dev/gpu/ncu-step.sh "$out" prefill-2048 $l 1 $bench prefill 2048
fi
