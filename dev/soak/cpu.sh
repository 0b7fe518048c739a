#!/usr/bin/env bash
# dev/soak/cpu.sh: the 10-minute CPU soak on this machine, with the GPU soak's checks
# (docs/reliability.md, "Long runs"): ridgeline-soak on the default model, 16 virtual users (a
# batch limit of 16: on 2 cores 64 would take minutes to first fill the batch, a high-water mark
# the judged window would see as growth)
# rotating chat / idle-return / ramp every 40 s, a serving knob changed at 60 s (the block size:
# a KV pool restart) and every 150 s after, 4 API client threads; then dev/soak/analyze.py
# judges the CSV.
#   dev/soak/cpu.sh [OUT]     (env: BUILD=build, DURATION=600)
# Exit status: analyze.py's (0 when every check holds).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${BUILD:-build}
out=${1:-/tmp/ridgeline-soak-cpu}
mkdir -p "$out"
cmake --build "$build" --target ridgeline-soak >/dev/null
"$build/app/ridgeline-soak" --model models/SmolLM2-135M-Instruct.Q4_1.gguf --backend cpu \
  --duration "${DURATION:-600}" --segment 40 --first-knob 60 --knob-every 150 --sample-every 5 --users 16 --max-num-seqs 16 --api-clients 4 \
  --csv "$out/soak.csv" 2>&1 | tee "$out/soak.log" | grep -E "^ridgeline-soak|failure|pool restart" || true
python3 dev/soak/analyze.py "$out/soak.csv" --plot "$out/soak.png" --json "$out/verdict.json"
