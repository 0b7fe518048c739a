#!/usr/bin/env bash
# before-after.sh: a change's GPU check beside its base commit, on one warm lent machine, in two
# calls (the SmolLM2 file travels in two carried halves, .carry1/modelpart.00 and
# .carry2/modelpart.01, made with `split -n 2 -d -a 2 FILE modelpart.`). Set up here first:
#   mkdir -p .carry-before/src && git archive BASE | tar -x -C .carry-before/src
#   mkdir -p .carry-json && cp -r /usr/include/nlohmann /usr/include/CLI .carry-json/
#   call 1 (carry .carry1 .carry-json .carry-before):  dev/gpu/before-after.sh build OUT
#       builds this tree (build-gpu, every headless target) and the base (build-before,
#       ridgeline-bench only), then runs ctest -L gpu without test_gpu_backend (it needs the model).
#   call 2 (carry .carry2 .carry-json), within 30 s:  dev/gpu/before-after.sh bench OUT
#       joins the model, runs test_gpu_backend, then ridgeline-bench decode on SmolLM2 and on
#       synthetic:llama3-8b at batch 1 and 64, base and change alternating, twice each.
#   call 3 (carry .carry-json), within 30 s:  dev/gpu/before-after.sh sanitize OUT
#       every GPU test of this tree under compute-sanitizer memcheck.
set -uo pipefail
phase=${1:?usage: before-after.sh build|bench|sanitize OUT}
out=${2:?usage: before-after.sh build|bench|sanitize OUT}
cd "$(dirname "$0")/../.."
mkdir -p "$out"
json="$PWD/.carry-json"
m=models/SmolLM2-135M-Instruct.Q4_1.gguf
configure() {  # configure SRC BUILD
  cmake -S "$1" -B "$2" -G Ninja -DCMAKE_BUILD_TYPE=Release -DRIDGELINE_GUI=OFF -DRIDGELINE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DRIDGELINE_JSON_INCLUDE_DIR="$json" -DRIDGELINE_CLI11_INCLUDE_DIR="$json" \
    >"$out/configure-$(basename "$2").log" 2>&1 || { tail -20 "$out/configure-$(basename "$2").log"; exit 1; }
}
bench() {  # bench TAG BUILD MODEL BATCHES
  "$2/app/ridgeline-bench" decode --model "$3" --backend cuda --batch "$4" --context 256 --steps 64 2>&1 |
    grep -E '^decode' | sed "s|^|$1 $(basename "$3") |"
}
case $phase in
build)
  mkdir -p /tmp/rl && cp .carry1/modelpart.00 /tmp/rl/
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv | tee "$out/gpu.csv"
  configure . build-gpu
  configure .carry-before/src build-before
  cmake --build build-gpu -j"$(nproc)" >"$out/build-gpu.log" 2>&1 || { grep -E "error|FAILED" "$out/build-gpu.log" | head -30; exit 1; }
  cmake --build build-before -j"$(nproc)" --target ridgeline-bench >"$out/build-before.log" 2>&1 ||
    { grep -E "error|FAILED" "$out/build-before.log" | head -30; exit 1; }
  (cd build-gpu && ctest -L gpu -E test_gpu_backend --output-on-failure) 2>&1 | tee "$out/ctest-gpu.log" | tail -15
  ;;
bench)
  mkdir -p models
  [ -f $m ] || cat /tmp/rl/modelpart.00 .carry2/modelpart.01 > $m
  sha256sum $m | tee "$out/model.sha256"
  (cd build-gpu && ctest -R test_gpu_backend --output-on-failure) 2>&1 | tee "$out/ctest-backend.log" | tail -5
  for round in 1 2; do
    for side in before gpu; do
      bench "$side" "build-$side" $m 1,64
      bench "$side" "build-$side" synthetic:llama3-8b 1,64
    done
  done 2>&1 | tee "$out/bench.log"
  ;;
sanitize)
  for t in build-gpu/tests/test_gpu_*; do
    n=$(basename "$t")
    echo "== memcheck $n"
    timeout 300 compute-sanitizer --tool memcheck --error-exitcode 3 "$t" >"$out/memcheck-$n.log" 2>&1
    echo "rc=$?"; grep -E "ERROR SUMMARY|Totals" "$out/memcheck-$n.log" | tail -2
  done
  ;;
*) echo "before-after.sh: unknown phase $phase" >&2; exit 2 ;;
esac
