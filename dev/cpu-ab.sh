#!/usr/bin/env bash
# cpu-ab.sh: ridgeline-bench against llama.cpp's llama-bench on the CPU, same model file, same
# thread count, run alternately (llama.cpp, then ours, per measurement, ROUNDS times) with the
# machine's load average (`uptime`) recorded beside every run, since on a shared 2-core machine
# the other load moves both by far more than the difference being measured.
#
#   usage: dev/cpu-ab.sh MODEL.gguf [ROUNDS=3] [THREADS=2] > table.md
#   env:   RL_BENCH (default build-cpu/app/ridgeline-bench), LLAMA_BENCH (default
#          /tmp/lcpp-build/bin/llama-bench), RL_WEIGHTS (default auto: native blocks on the CPU)
# Builds: ours as in README (a CPU-only Release tree in build-cpu); llama.cpp from the source that
# /work/shared/tools/fetch-llamacpp-source fetches, CPU only, without AMX (its Q4_1 path dies with
# an illegal instruction on these VMs):
#   cmake -S SRC -B /tmp/lcpp-build -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
#     -DGGML_AVX2=ON -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_VBMI=ON -DGGML_AMX_TILE=OFF \
#     -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
#     -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=OFF
#   ninja -C /tmp/lcpp-build -j2 llama-bench llama-quantize
# Measurements (tokens/s, higher is better):
#   generation: llama-bench -n 64 -p 0 (64 tokens from an empty context) against
#               ridgeline-bench decode --batch 1 --context 32 --steps 64 (contexts 33..96: a
#               little more attention work than llama.cpp's 1..64)
#   prompt:     llama-bench -p 128 -n 0 against ridgeline-bench prefill --batch 1 --context 128
set -euo pipefail
model=${1:?usage: dev/cpu-ab.sh MODEL.gguf [ROUNDS] [THREADS]}
rounds=${2:-3}
threads=${3:-2}
rl=${RL_BENCH:-build-cpu/app/ridgeline-bench}
lb=${LLAMA_BENCH:-/tmp/lcpp-build/bin/llama-bench}
weights=${RL_WEIGHTS:-auto}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

load() { uptime | sed 's/.*load average: //; s/,.*//'; }  # the 1-minute load average
llama() {  # $1: -n N -p M arguments; prints avg tokens/s
    "$lb" -m "$model" -t "$threads" $1 -r 3 -o csv 2>/dev/null | tail -1 | awk -F'","' '{print $(NF-1)}' | tr -d '"'
}
ours() {  # $1: decode|prefill, $2: arguments; prints tokens/s
    "$rl" "$1" -m "$model" --backend cpu --threads "$threads" --weights "$weights" $2 --json "$tmp/r.json" \
        >/dev/null 2>&1
    python3 -c "import json,sys; print('%.1f' % json.load(open(sys.argv[1]))['results'][0]['tok_s'])" "$tmp/r.json"
}

echo "model: $(basename "$model"), $threads threads, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
echo "| round | llama.cpp tg64 | load | ours decode | load | llama.cpp pp128 | load | ours prefill 128 | load |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in $(seq 1 "$rounds"); do
    l1=$(load); a=$(llama "-n 64 -p 0" | xargs printf '%.1f')
    l2=$(load); b=$(ours decode "--batch 1 --context 32 --steps 64")
    l3=$(load); c=$(llama "-n 0 -p 128" | xargs printf '%.1f')
    l4=$(load); d=$(ours prefill "--batch 1 --context 128 --steps 3")
    echo "| $r | $a | $l1 | $b | $l2 | $c | $l3 | $d | $l4 |"
done
