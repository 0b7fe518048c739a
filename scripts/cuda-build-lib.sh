# cuda-build-lib.sh: sourced by the lent-GPU check scripts (run from the repository root).
# cuda_build OUT TARGET...: configures build-gpu headless for sm_90 with the carried nlohmann
# json (.carry-json; the device has no network) and builds only TARGET..., so an unrelated
# broken target does not stop a check. Logs go to OUT; on failure the errors are printed and the
# calling script exits.
cuda_build() {
  local out=$1; shift
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DRIDGELINE_GUI=OFF -DRIDGELINE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DRIDGELINE_JSON_INCLUDE_DIR="$PWD/.carry-json" >"$out/configure.log" 2>&1 ||
    { tail -20 "$out/configure.log"; exit 1; }
  cmake --build build-gpu -j"$(nproc)" --target "$@" >"$out/build.log" 2>&1 ||
    { grep -E "error|FAILED" "$out/build.log" | head -30; exit 1; }
}
