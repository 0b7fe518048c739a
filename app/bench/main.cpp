// ridgeline-bench: headless benchmarks.
//   ridgeline-bench decode|prefill --model PATH [--backend cpu|cuda] [--batch 1,8,64] [--context N]
//                                  [--steps N] [--logits device|host] [--json FILE]
//   ridgeline-bench serve --model PATH --scenario NAME [--backend cpu] [--users N] [--duration S]
//                         [--kv-blocks N] [--max-num-seqs N] [--max-num-batched-tokens N]
//                         [--block-size N] [--max-context N] [--no-prefix-caching]
//                         [--policy fcfs|priority] [--json FILE] [--csv FILE]
#include "bench_common.h"

#include "common/engine_error.h"

#include <cstdio>
#include <set>

namespace {
const char* kUsage =
    "usage: ridgeline-bench decode|prefill --model PATH [--backend cpu|cuda] [--batch 1,8,64,256]\n"
    "                       [--context N] [--steps N] [--logits device|host] [--json FILE]\n"
    "    --logits device (default): greedy token chosen on the backend; host: download all logits\n"
    "       ridgeline-bench serve --model PATH --scenario NAME [options]\n"
    "  --scenario chat|summarize|write|idle-return|ramp|poisson\n"
    "  --backend cpu          --threads N\n"
    "  --users N  --rate R (poisson)  --think S  --ramp S  --seed N  --duration S (default 30)\n"
    "  --temperature T  --top-p P   the users' sampling (default greedy; on cuda drawn on the GPU)\n"
    "  --kv-blocks N  --block-size N  --max-num-seqs N  --max-num-batched-tokens N  --max-context N\n"
    "  --no-prefix-caching  --no-chunked-prefill  --policy fcfs|priority  --max-waiting N  --max-queue-ms MS\n"
    "  --json FILE (summary)  --csv FILE (the last 32,768 steps)\n"
    "exit codes: 0 ok, 1 runtime failure, 2 bad arguments or model\n";
const std::set<std::string> kFlags = {"--no-prefix-caching", "--no-chunked-prefill", "--help", "--version"};
} // namespace

double BenchArgs::number(const std::string& k, double fallback) const {
    if (!has(k)) return fallback;
    try {
        size_t used = 0;
        const double v = std::stod(get(k), &used);
        if (used == get(k).size()) return v;
    } catch (const std::exception&) {
    }
    throw BenchError{k + " expects a number, got '" + get(k) + "'"};
}

rl::engine_options engineOptions(const BenchArgs& a) {
    if (!a.has("--model")) throw BenchError{"--model PATH is required"};
    rl::engine_options o;
    o.model_path = a.get("--model");
    o.backend = a.get("--backend", "cpu");
    o.threads = int(a.number("--threads", 0));
    o.max_context = int(a.number("--max-context", 2048));
    auto& s = o.serving;
    s.kv_blocks = int(a.number("--kv-blocks", 0));
    s.block_size = int(a.number("--block-size", 16));
    s.max_num_seqs = int(a.number("--max-num-seqs", 16));
    s.max_num_batched_tokens = int(a.number("--max-num-batched-tokens", 2048));
    s.max_waiting = int(a.number("--max-waiting", s.max_waiting));
    s.max_queue_ms = a.number("--max-queue-ms", 0);
    s.prefix_caching = !a.has("--no-prefix-caching");
    s.chunked_prefill = !a.has("--no-chunked-prefill");
    if (a.has("--policy") && !rl::parse_policy(a.get("--policy"), s.policy))
        throw BenchError{"--policy must be fcfs or priority"};
    if (auto err = rl::validate(s)) throw BenchError{err.message};
    return o;
}

int main(int argc, char** argv) {
    BenchArgs args;
    for (int i = 0; i < argc; ++i) args.commandLine += (i ? " " : "") + std::string(argv[i]);
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h") a = "--help";
        if (a.rfind("--", 0) == 0) {
            if (kFlags.count(a)) args.options[a] = "1";
            else if (i + 1 < argc) args.options[a] = argv[++i];
            else {
                std::fprintf(stderr, "ridgeline-bench: option %s needs a value\n", a.c_str());
                return 2;
            }
        } else if (args.command.empty()) {
            args.command = a;
        } else {
            std::fprintf(stderr, "ridgeline-bench: unexpected argument '%s'\n", a.c_str());
            return 2;
        }
    }
    if (args.has("--version")) { std::printf("ridgeline-bench %s\n", RL_VERSION); return 0; }
    if (args.has("--help")) { std::fputs(kUsage, stdout); return 0; }
    if (args.command.empty()) {
        std::fprintf(stderr, "ridgeline-bench: a command is needed: serve, decode or prefill (try --help)\n");
        return 2;
    }
    try {
        if (args.command == "serve") return runServe(args);
        if (args.command == "decode") return runKernelBench(args, true);
        if (args.command == "prefill") return runKernelBench(args, false);
        std::fprintf(stderr, "ridgeline-bench: unknown command '%s'\n%s", args.command.c_str(), kUsage);
        return 2;
    } catch (const BenchError& e) {
        std::fprintf(stderr, "ridgeline-bench: %s\n", e.message.c_str());
        return 2;
    } catch (const rl::engine_error& e) {
        std::fprintf(stderr, "ridgeline-bench: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ridgeline-bench: %s\n", e.what());
        return 1;
    }
}
