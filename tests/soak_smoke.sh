#!/usr/bin/env bash
# soak_smoke.sh: ridgeline-soak for 45 s on the default model (CPU): scenario changes, knob
# changes with a KV pool restart, the API client; dev/soak/analyze.py --counts-only must find no
# stuck, mismatched or failed request and the restart. The memory slope needs the long runs
# (dev/soak/cpu.sh, dev/gpu/soak.sh).   usage: soak_smoke.sh RIDGELINE_SOAK MODEL SOURCE_DIR
set -euo pipefail
soak=$1 model=$2 src=$3
[ -f "$model" ] || { echo "model missing: run scripts/fetch-model"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$soak" --model "$model" --backend cpu --duration 45 --segment 6 --first-knob 8 --knob-every 12 \
  --sample-every 2 --users 4 --api-clients 1 --max-num-seqs 4 --csv "$dir/soak.csv" 2>&1 | tail -n 4
python3 "$src/dev/soak/analyze.py" "$dir/soak.csv" --counts-only | tail -n 28
