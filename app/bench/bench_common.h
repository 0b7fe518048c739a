// What ridgeline-bench's commands take (main.cpp defines their options on app/options) and the
// functions that run them. Each returns the exit code; bench_error is a refusal found while
// running (a file that cannot be written), reported with exit 2.
#pragma once
#include "runtime/engine.h"
#include "runtime/load_generator.h"
#include "runtime/stories.h"

#include <optional>

#include <string>
#include <vector>

struct bench_error {
    std::string message;
};

/// ridgeline-bench decode | prefill: the forward pass timed directly on a backend.
struct kernel_bench_args {
    rl::engine_options engine;       // model_path, backend, threads (no scheduler, no pool knobs)
    bool decode = true;              // false: prefill
    std::vector<int> batches;        // --batch 1,8,64
    int context = 0;                 // tokens of KV per sequence (decode), prompt length (prefill)
    int steps = 0;
    std::string logits = "device";   // device: greedy token chosen on the backend; host: all logits back
    std::string json;                // summary file; "" = none
    std::string command_line;        // recorded in the summary
};

/// ridgeline-bench serve's engine. Its context is 2048 tokens unless --max-model-len says otherwise,
/// not the engine's min(model context, 8192): every scenario's conversation fits in 2048, the
/// auto-sized pool (every sequence a full context) stays a quarter of the size on the CPU, and
/// the runs published in docs/performance.md and docs/reliability.md were made with it.
inline rl::engine_options bench_serve_engine_options() {
    rl::engine_options o;
    o.serving.max_model_len = 2048;
    return o;
}

/// ridgeline-bench serve: a load-generator scenario against the engine.
struct serve_bench_args {
    rl::engine_options engine = bench_serve_engine_options();
    rl::scenario scenario;           // the preset with the command line's changes
    std::optional<rl::story> story;  // --preset: its counters go into the summary under "story"
    double duration_s = 30;
    std::string json, csv;           // summary and step-record files; "" = none
    std::string command_line;
};

int run_kernel_bench(const kernel_bench_args& args);
int run_serve(const serve_bench_args& args);
