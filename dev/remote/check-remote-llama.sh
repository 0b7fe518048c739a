#!/usr/bin/env bash
# Export -> launch -> watch, against a real llama-server: Ridgeline's exported llama-server command is
# run as it is (only --host/--port added), remote mode's reader (dev/remote/remote_watch.cpp, the
# interop code the window uses) scrapes its /metrics every second, and the decode rate it derives
# is checked against llama-server's own per-request timings:
#   1. one request alone: the generated tokens the reader counted over the run equal the reply's
#      completion_tokens, and the rate over the intervals wholly inside the generation (their
#      tokens / their time) is within 15% of timings.predicted_per_second (the two measure the
#      same decode steps; the interval edges and the scrape itself are the slack);
#   2. two requests at once on two slots: the counted tokens equal the sum of both replies'.
#   3. the same prompt again: the reader's prefix hit rate is above 0 (llama-server's cached
#      prompt tokens, prompt_tokens_cached_total).
#   bash dev/remote/check-remote-llama.sh [OUT]      # from the repository root; OUT default /tmp/remote-check
# Needs: build/ configured (ridgeline_interop, ridgeline_core built), curl, python3, and llama-server
# (LLAMA_SERVER, default /work/lcpp-remote/build/bin/llama-server: dev/remote/build-llama-server.sh).
# MODEL (default models/SmolLM2-135M-Instruct.Q4_1.gguf), PORT (18392), THREADS (2).
set -euo pipefail
out=${1:-/tmp/remote-check}
bin=${LLAMA_SERVER:-/work/lcpp-remote/build/bin/llama-server}
model=${MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
port=${PORT:-18392} threads=${THREADS:-2}
base=http://127.0.0.1:$port
mkdir -p "$out"
ninja -C build -j2 ridgeline_interop ridgeline_core >/dev/null
g++ -std=c++20 -O2 -I. -Iengine dev/remote/remote_watch.cpp build/interop/libridgeline_interop.a \
  build/engine/libridgeline_core.a -o "$out/remote_watch"

# The export for a 4-sequence, 256-block (x 16 tokens) pool, context 2048, on $threads CPU threads.
"$out/remote_watch" export 4096 "$threads" 4 2048 "$model" >"$out/llama-server.sh"
mkdir -p "$out/shim" && ln -sf "$(readlink -f "$bin")" "$out/shim/llama-server"
printf '%s \\\n  --host 127.0.0.1 --port %s\n' "$(cat "$out/llama-server.sh")" "$port" >"$out/launch.sh"
echo "== exported command (+ --host/--port):"; grep -v '^#' "$out/launch.sh"
PATH="$out/shim:$PATH" sh "$out/launch.sh" >"$out/server.log" 2>&1 & pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 600); do curl -sf "$base/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$base/metrics" >/dev/null || { echo "FAIL: /metrics does not answer (exported without --metrics?)"; exit 1; }

ask() {   # ask N_TOKENS OUTFILE: one chat request, non-streaming, greedy
  curl -sf "$base/v1/chat/completions" -H 'Content-Type: application/json' -d '{"messages":[{"role":"user",
    "content":"Write a long story about a lighthouse keeper and the sea."}],"max_tokens":'"$1"',
    "temperature":0,"ignore_eos":true}' >"$2"
}
phase() {   # phase NAME COMMAND...: the reader watches from 2 s before COMMAND to 2.5 s after it
  local name=$1; shift
  "$out/remote_watch" watch "$base/metrics" 1000 3600 >"$out/$name.jsonl" & local w=$!
  sleep 2   # idle scrapes first: the baseline
  "$@"
  sleep 2.5
  kill $w; wait $w 2>/dev/null || true
}
phase single ask "${TOKENS:-160}" "$out/single.json"
phase pair bash -c "$(declare -f ask); base=$base; ask 80 '$out/pair1.json' & ask 80 '$out/pair2.json'; wait"
phase again ask 8 "$out/again.json"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
rows = lambda n: [json.loads(l) for l in open(f"{out}/{n}.jsonl") if '"t0"' in l]
reply = lambda n: json.load(open(f"{out}/{n}.json"))
ok = True
def check(cond, what):
    global ok
    print(("ok   " if cond else "FAIL ") + what)
    ok &= cond

r = reply("single"); s = rows("single")
n, tps = r["usage"]["completion_tokens"], r["timings"]["predicted_per_second"]
counted = sum(x["generation_tokens"] or 0 for x in s)
check(abs(counted - n) <= 1, f"single: reader counted {counted:.0f} generated tokens, the reply says {n}")
# Intervals wholly inside the generation: those strictly between the first and the last interval
# with tokens (which may straddle the prompt or the end of the reply), empty ones included: on a
# busy machine a second can pass without a decode step, and leaving those out would inflate the rate.
busy = [i for i, x in enumerate(s) if (x["generation_tokens"] or 0) > 0]
inside = s[busy[0] + 1:busy[-1]] if busy else []
if len(inside) >= 3:
    rate = sum(x["generation_tokens"] for x in inside) / sum(x["t1"] - x["t0"] for x in inside)
    spread = ", ".join("%.1f" % x["generation_tok_s"] for x in inside)
    check(abs(rate - tps) <= 0.15 * tps,
          f"single: reader's decode rate over {len(inside)} intervals inside the generation {rate:.2f} tok/s, "
          f"llama-server's predicted_per_second {tps:.2f} ({100 * (rate - tps) / tps:+.1f}%); per interval: {spread}")
else:
    check(False, f"single: only {len(inside)} intervals inside the generation (too fast? raise TOKENS)")
tpot = [x["tpot_mean_s"] for x in s if x["tpot_mean_s"] is not None]
if tpot:
    print(f"info single: reader's mean TPOT {1000 * tpot[-1]:.2f} ms, llama-server's predicted_per_token_ms "
          f"{r['timings']['predicted_per_token_ms']:.2f} ms (the reader's reads low by 1/n)")

p = rows("pair"); a, b = reply("pair1"), reply("pair2")
want = a["usage"]["completion_tokens"] + b["usage"]["completion_tokens"]
counted = sum(x["generation_tokens"] or 0 for x in p)
check(abs(counted - want) <= 2, f"pair: reader counted {counted:.0f} generated tokens, the replies say {want}")
rates = ", ".join("%.0f" % x["generation_tok_s"] for x in p if (x["generation_tokens"] or 0) > 0)
print(f"info pair: peak running {max(x['running'] or 0 for x in p):.0f}; decode rates per interval {rates}")

g = rows("again"); ag = reply("again")
hits = [x["prefix_hit_rate"] for x in g if x["prefix_hit_rate"] is not None]
check(bool(hits) and max(hits) > 0, f"again: prefix hit rate {max(hits) if hits else None} "
      f"(llama-server cached {ag['timings'].get('cache_n')} of {ag['usage']['prompt_tokens']} prompt tokens)")
sys.exit(0 if ok else 1)
PY
