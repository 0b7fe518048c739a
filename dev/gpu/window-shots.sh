#!/usr/bin/env bash
# window-shots.sh: the window on the GPU machine with the CUDA backend (issue 20's screenshots).
# Built here (CUDA + Qt) and carried as a bundle (the window alone: with ridgeline-bench beside it
# the archive passes the 64 MiB a call may carry):
#   ninja -C build ridgeline
#   bash ../shared/tools/bundle-window-for-gpu build/app/ridgeline .carry-window/window.tar.xz
# The model must already be at /tmp/rl (dev/gpu/soak.sh model1 and model2).
#   first  OUT (carry .carry-window): unpacks the bundle to /tmp/rl-window (soak.sh start replaces
#          /tmp/rl-bundle) and takes the 1920x1080 shot on an otherwise idle GPU: its load
#          measures the device's peaks and keeps them in its data folder.
#   rest   OUT (no carry): 1280x720 and 1366x768 side by side, each from a copy of that folder, so
#          they reuse the measured peaks. Run beside the soak, their tok/s are those of a shared GPU.
#   all    OUT (carry .carry-window): the three one after another on an otherwise idle GPU.
#   one    OUT (carry .carry-window): SIZE alone (default 1280x720), measuring its own peaks.
set -uo pipefail
phase=${1:?usage: window-shots.sh first|rest|all|one OUT}
out=${2:?usage: window-shots.sh first|rest|all|one OUT}
cd "$(dirname "$0")/../.."
mkdir -p "$out"
m=${MODEL:-/tmp/rl/SmolLM2-135M-Instruct.Q4_1.gguf}   # or synthetic:smollm2-135m (no transfer)
w=/tmp/rl-window
preset=${PRESET:-kv-pressure}
after=${AFTER:-45}
[ -f "$m" ] || [[ $m == synthetic:* ]] || { echo "no model at $m (run soak.sh model1 and model2 first)"; exit 1; }
if [ "$phase" != rest ]; then
  rm -rf /tmp/rl-bundle "$w" && tar xJf .carry-window/window.tar.xz -C /tmp && mv /tmp/rl-bundle "$w"
  printf '<?xml version="1.0"?>\n<fontconfig><dir>%s/fonts</dir><cachedir>%s/fccache</cachedir></fontconfig>\n' "$w" "$w" \
    >"$w/fonts.conf"
fi
export LD_LIBRARY_PATH=$w/lib:/usr/local/cuda/lib64 QT_PLUGIN_PATH=$w/plugins QT_QPA_PLATFORM=offscreen
export FONTCONFIG_FILE=$w/fonts.conf XDG_RUNTIME_DIR=$w/run
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader | tee "$out/gpu-$phase.csv"
shot() {  # SIZE DATA_DIR
  RIDGELINE_DATA_DIR=$2 timeout 240 "$w/bin/ridgeline" --model "$m" --backend cuda \
    --screenshot "$out/window-$1.png" --size "$1" --preset "$preset" --after "$after" >"$out/window-$1.log" 2>&1
  echo "window $1 rc=$?"
}
case $phase in
first|all)
  mkdir -p /tmp/w1080
  shot 1920x1080 /tmp/w1080
  cp /tmp/w1080/settings.json "$out/settings-1920x1080.json" 2>/dev/null
  if [ "$phase" = all ]; then
    for s in 1280x720 1366x768; do rm -rf "/tmp/w$s" && cp -r /tmp/w1080 "/tmp/w$s" && shot "$s" "/tmp/w$s"; done
  fi
  ;;
one)
  rm -rf /tmp/wone && mkdir -p /tmp/wone && shot "${SIZE:-1280x720}" /tmp/wone
  ;;
rest)
  for s in 1280x720 1366x768; do rm -rf "/tmp/w$s" && cp -r /tmp/w1080 "/tmp/w$s"; done
  shot 1280x720 /tmp/w1280x720 &
  shot 1366x768 /tmp/w1366x768 &
  wait
  ;;
esac
grep -hiE "error|fail" "$out"/window-*.log | head -5
ls -la "$out"
