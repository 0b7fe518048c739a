# cuda-build-lib.sh: sourced by the lent-GPU check scripts (run from the repository root): the
# paths they share, and their build, memcheck and row-tagging steps.
# cuda_build OUT TARGET...: configures $b (build-gpu unless the caller set another) headless for
# sm_90 with the carried nlohmann json (.carry-json; the device has no network), adding
# $cuda_flags to CMAKE_CUDA_FLAGS when set, and builds only TARGET..., so an unrelated broken
# target does not stop a check. Logs go to OUT; on failure the errors are printed and the
# calling script exits.
# memcheck OUT NAME TIMEOUT CMD...: CMD under compute-sanitizer memcheck, log in OUT/memcheck-NAME.log,
# prints its exit status and the error summary.
# rows TAG: the bench's result rows from stdin, prefixed with TAG (for A/B logs).
b=${b:-build-gpu}
bench=$b/app/ridgeline-bench
m=models/SmolLM2-135M-Instruct.Q4_1.gguf
l=synthetic:llama3-8b

cuda_build() {
  local out=$1; shift
  cmake -S . -B $b -G Ninja -DCMAKE_BUILD_TYPE=Release -DRIDGELINE_GUI=OFF -DRIDGELINE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 ${cuda_flags:+-DCMAKE_CUDA_FLAGS="$cuda_flags"} \
    -DRIDGELINE_JSON_INCLUDE_DIR="$PWD/.carry-json" >"$out/configure.log" 2>&1 ||
    { tail -20 "$out/configure.log"; exit 1; }
  cmake --build $b -j"$(nproc)" --target "$@" >"$out/build.log" 2>&1 ||
    { grep -E "error|FAILED" "$out/build.log" | head -30; exit 1; }
}

memcheck() {
  local out=$1 name=$2 limit=$3; shift 3
  echo "== memcheck $name"
  timeout "$limit" compute-sanitizer --tool memcheck --error-exitcode 3 "$@" >"$out/memcheck-$name.log" 2>&1
  echo "rc=$?"; grep -E "ERROR SUMMARY" "$out/memcheck-$name.log" | tail -1
}

rows() { grep -E "^(decode|prefill)" | sed "s|^|$1 |"; }
