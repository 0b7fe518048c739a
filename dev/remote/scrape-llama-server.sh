#!/usr/bin/env bash
# Makes the llama-server fixtures of tests/data/remote/ from a real llama-server (CPU, SmolLM2):
#   bash dev/remote/scrape-llama-server.sh [OUT]     # OUT default tests/data/remote
# LLAMA_SERVER: the binary (default /work/lcpp-remote/build/bin/llama-server, which
# dev/remote/build-llama-server.sh builds); MODEL (default models/SmolLM2-135M-Instruct.Q4_1.gguf);
# PORT (default 18391). Run from the repository root. Writes:
#   llamacpp-no-metrics.txt  the body of GET /metrics without --metrics (HTTP 501)
#   llamacpp-idle.txt        /metrics after start, before any request
#   llamacpp-mid.txt         while one streamed reply is being generated (after its 40th chunk)
#   llamacpp-after.txt       after it finished and a second request with the same prompt
#                            (a prefix-cache hit on the same slot) finished too
# The numbers in them depend on timing (how far the stream got); tests/test_remote_metrics.cpp
# works its expectations out from the files as committed.
set -euo pipefail
out=${1:-tests/data/remote}
bin=${LLAMA_SERVER:-/work/lcpp-remote/build/bin/llama-server}
model=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
port=${PORT:-18391}
base=http://127.0.0.1:$port
tmp=$(mktemp -d)
pid=
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=; }
trap 'stop; rm -rf "$tmp"' EXIT
up() {
  for _ in $(seq 600); do
    curl -sf "$base/health" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { tail -20 "$tmp/server.log"; return 1; }
    sleep 0.1
  done
  return 1
}
# Two slots, a 2048-token cache, two threads: small and fast on a 2-core machine.
args=(-m "$model" --host 127.0.0.1 --port "$port" -np 2 -c 2048 -t 2 --no-webui)
"$bin" "${args[@]}" >"$tmp/server.log" 2>&1 & pid=$!
up
curl -s -o "$out/llamacpp-no-metrics.txt" -w '%{http_code}\n' "$base/metrics" | tee "$tmp/status"
stop
"$bin" "${args[@]}" --metrics >"$tmp/server.log" 2>&1 & pid=$!
up
curl -sf "$base/metrics" -o "$out/llamacpp-idle.txt"
body='{"messages":[{"role":"user","content":"Tell me a long story about a lighthouse keeper."}],
       "max_tokens":200,"temperature":0,"seed":1,"stream":STREAM}'
curl -sN "$base/v1/chat/completions" -H 'Content-Type: application/json' -d "${body/STREAM/true}" >"$tmp/stream" &
cpid=$!
for _ in $(seq 600); do [ "$(grep -c '^data: ' "$tmp/stream" || true)" -ge 40 ] && break; sleep 0.05; done
curl -sf "$base/metrics" -o "$out/llamacpp-mid.txt"
wait $cpid
curl -sf "$base/v1/chat/completions" -H 'Content-Type: application/json' -d "${body/STREAM/false}" >"$tmp/second"
curl -sf "$base/metrics" -o "$out/llamacpp-after.txt"
echo "first reply: $(grep -c '^data: ' "$tmp/stream") events; second: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["usage"], d.get("timings",{}).get("cache_n"))' "$tmp/second")"
"$bin" --version 2>&1 | head -1   # the sdist carries no git commit: "0.5.0-dev (build 0, commit unknown)"
