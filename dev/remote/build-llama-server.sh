#!/usr/bin/env bash
# Builds llama-server (CPU only) from the llama.cpp that llama-cpp-python 0.3.36's sdist vendors:
# the peer that dev/remote/scrape-llama-server.sh and dev/remote/check-remote-llama.sh run.
#   bash dev/remote/build-llama-server.sh [DIR]      # DIR default /work/lcpp-remote
# Downloads the sdist with pip (once), unpacks vendor/llama.cpp, configures without network
# (no prebuilt web UI, no curl, no OpenSSL) and builds only the llama-server target with -j2
# (JOBS). Prints the binary's path: DIR/build/bin/llama-server.
# GGML_NATIVE=OFF and GGML_AMX=OFF: a portable build; these VMs' CPUs fault on AMX tile opcodes.
set -euo pipefail
dir=${1:-/work/lcpp-remote} ver=0.3.36 jobs=${JOBS:-2}
mkdir -p "$dir" && cd "$dir"
[ -f llama_cpp_python-$ver.tar.gz ] ||
  pip download --no-deps --no-binary :all: llama-cpp-python==$ver -d .
src=llama_cpp_python-$ver/vendor/llama.cpp
[ -d "$src/tools/server" ] || tar xzf llama_cpp_python-$ver.tar.gz "$src"
if [ ! -f build/build.ninja ]; then
  cmake -S "$src" -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=OFF -DGGML_AMX=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF >configure.log 2>&1 ||
    { tail -30 configure.log; exit 1; }
fi
ninja -C build -j"$jobs" llama-server >build.log 2>&1 || { grep -E "error|FAILED" build.log | head -30; exit 1; }
echo "$dir/build/bin/llama-server"
