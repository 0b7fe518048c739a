#!/usr/bin/env bash
# cuda-gemv-ab.sh: one device call (carry .carry-json) for the k-split GEMV at one and two x rows
# (gemv_kernel: KS warps per row pair in W-warp CTAs; kernel_tuning::gemv_k_split in
# kernels/tuning.h, [rows - 1][end] with ends add, glu, rope, out). Checks it against the
# references (test_gpu_fused, whose gemvEverySplitLayout runs every end under every layout;
# plain, memcheck and racecheck), then times Llama-3-8B and Qwen2.5-7B at batch 1 and 2 under
# several tables in alternating runs (dev/notes/benchmarks-2026-11.md, 2026-11-30 f). The tables
# below keep the lab's 8-character notation, [rows - 1][end]: 1 2 4 = that many warps per row
# pair in 4-warp CTAs, a b c = 1 2 4 in 8-warp CTAs; ks_tuning turns one into RIDGELINE_TUNING
# items. The default table is "2ba14ba1". Logs each line to $OUT/log.txt.
#   usage: dev/gpu/cuda-gemv-ab.sh OUT
set -uo pipefail
out=${1:?usage: cuda-gemv-ab.sh OUT}
cd "$(dirname "$0")/../.."
exec > >(tee "$out/log.txt") 2>&1
. dev/gpu/cuda-build-lib.sh

# ks_tuning LAYOUT: an 8-character layout as RIDGELINE_TUNING items (gemv_b1_add=2x4,...).
ks_tuning() {
  local s=$1 ends=(add glu rope out) i split items=""
  [ ${#s} = 8 ] || { echo "layout '$s' is not 8 characters" >&2; return 1; }
  for i in 0 1 2 3 4 5 6 7; do
    case ${s:$i:1} in
      1) split=1x4 ;; 2) split=2x4 ;; 4) split=4x4 ;; a) split=1x8 ;; b) split=2x8 ;; c) split=4x8 ;;
      *) echo "layout '$s': '${s:$i:1}' is not one of 1 2 4 a b c" >&2; return 1 ;;
    esac
    items+="${items:+,}gemv_b$((i / 4 + 1))_${ends[i % 4]}=$split"
  done
  echo "$items"
}

cuda_build "$out" ridgeline-bench test_gpu_fused
echo "built at ${SECONDS}s"
$b/tests/test_gpu_fused 2>&1 | grep -E "layout|FAIL|Totals" | sed "s|^|[fused] |"
memcheck "$out" fused 300 $b/tests/test_gpu_fused
echo "== racecheck"
timeout 300 compute-sanitizer --tool racecheck --error-exitcode 3 $b/tests/test_gpu_fused >"$out/racecheck.log" 2>&1
echo "rc=$?"; grep -E "RACECHECK SUMMARY|ERROR SUMMARY" "$out/racecheck.log" | tail -1
echo "checks at ${SECONDS}s"
run() {
  local t
  t=$(ks_tuning "$1") || return 1
  RIDGELINE_TUNING=$t $bench decode --model $2 --backend cuda --batch $3 --context ${4:-256} --steps 64 2>&1 |
    rows "[ks $1 $2 b$3 c${4:-256}]"
}
for r in 1 2; do
  for model in $l synthetic:qwen2.5-7b; do
    for ks in 11111111 22111111 2a111111 2b111111 2c111111 bb111111 2ba11111 2bb11111; do run $ks $model 1; done
    for ks in 11111111 11114211 11114b11 1111cb11 11114bb1 11114ba1; do run $ks $model 2; done
  done
  for ks in 11111111 22111111 2b111111 2bb11111; do run $ks $l 1 2048; done
  echo "  round $r at ${SECONDS}s"
done
