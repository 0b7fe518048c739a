#!/usr/bin/env bash
# window-shots.sh: the window on the GPU machine with the CUDA backend (issue 20's screenshots) and
# in one call. Built here (CUDA + Qt) and carried as a bundle (the window alone: with
# ridgeline-bench beside it the archive passes the 64 MiB a call may carry):
#   ninja -C build ridgeline
#   bash ../shared/tools/bundle-window-for-gpu build/app/ridgeline .carry-window/window.tar.xz
# The model must already be at /tmp/rl (dev/gpu/soak.sh model1 and model2). Carry .carry-window.
#   bash dev/gpu/window-shots.sh OUT
# The 1920x1080 window runs alone: its load measures the device's peaks (calibration wants an idle
# GPU) and keeps them in its data folder. The 1280x720 and 1366x768 windows then start from a copy
# of that folder, so they reuse the measured peaks and run side by side; their tok/s are those of
# a GPU shared two ways. (The kv-pressure story headless: soak.sh tests.)
set -uo pipefail
out=${1:?usage: window-shots.sh OUT}
cd "$(dirname "$0")/../.."
mkdir -p "$out"
m=/tmp/rl/SmolLM2-135M-Instruct.Q4_1.gguf
preset=${PRESET:-kv-pressure}
after=${AFTER:-45}
[ -f "$m" ] || { echo "no model at $m (run soak.sh model1 and model2 first)"; exit 1; }
rm -rf /tmp/rl-bundle && tar xJf .carry-window/window.tar.xz -C /tmp
# shellcheck disable=SC1091
. /tmp/rl-bundle/env.sh
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv | tee "$out/gpu.csv"
shot() {  # SIZE DATA_DIR
  RIDGELINE_DATA_DIR=$2 timeout 240 /tmp/rl-bundle/bin/ridgeline --model "$m" --backend cuda \
    --screenshot "$out/window-$1.png" --size "$1" --preset "$preset" --after "$after" >"$out/window-$1.log" 2>&1
  echo "window $1 rc=$?"
}
mkdir -p /tmp/w1080
shot 1920x1080 /tmp/w1080
cp /tmp/w1080/settings.json "$out/settings-1920x1080.json" 2>/dev/null
for s in 1280x720 1366x768; do rm -rf "/tmp/w$s" && cp -r /tmp/w1080 "/tmp/w$s"; done
shot 1280x720 /tmp/w1280x720 &
shot 1366x768 /tmp/w1366x768 &
wait
grep -hiE "error|fail" "$out"/window-*.log | head -5
ls -la "$out"
