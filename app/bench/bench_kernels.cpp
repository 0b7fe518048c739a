// ridgeline-bench decode | prefill: times the model's forward pass directly on a backend (no
// scheduler), for a list of batch sizes, and reports tok/s, ms/step, achieved TB/s and TFLOP/s
// (from the cost model), and those as fractions of the measured and the spec roofs.
//   decode:  each of B sequences holds `--context` tokens of KV, then `--steps` decode steps are timed.
//   prefill: B sequences of `--context` tokens are prefilled in one step (`--steps` repetitions).
// Each timed step is the whole forward plus what the engine needs back from it. By default that
// is the greedy token of every sequence, chosen on the backend (llama_model::forward_greedy:
// 4 bytes per sequence come back); `--logits host` downloads the full f32 logits rows instead
// (the engine's sampler path today; for llama3-8b at batch 64 that is 33 MB per step).
#include "bench_common.h"

#include "runtime/backend_factory.h"
#include "gguf/gguf_file.h"
#include "metrics/calibrate.h"
#include "metrics/cost_model.h"
#include "metrics/device_specs.h"
#include "model/llama_model.h"
#include "model/synthetic.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace {

// Builds one step for `batch` sequences: each gets `n` new tokens after `start` cached ones.
rl::step_input make_step(int batch, int n, int start, int blocks_per_seq, int block_size, int vocab, uint32_t seed) {
    rl::step_input in;
    for (int b = 0; b < batch; ++b) {
        rl::seq_slice sl;
        sl.token_begin = in.n_tokens();
        sl.n_tokens = n;
        sl.start_pos = start;
        for (int i = 0; i < blocks_per_seq; ++i) sl.block_table.push_back(b * blocks_per_seq + i);
        (void)block_size;
        for (int i = 0; i < n; ++i) {
            seed = seed * 1664525u + 1013904223u;
            in.tokens.push_back(int32_t(seed % uint32_t(vocab)));
            in.positions.push_back(start + i);
        }
        in.logit_rows.push_back(sl.token_begin + n - 1);
        in.seqs.push_back(std::move(sl));
    }
    return in;
}

} // namespace

int run_kernel_bench(const kernel_bench_args& args) {
    const bool decode = args.decode;
    const int context = args.context, steps = args.steps;
    // Block tables only need a consistent block size here; 16 is serving_config{}'s.
    const int block_size = rl::serving_config{}.block_size;
    const bool on_device = args.logits == "device";
    const char* sampling = on_device ? "greedy argmax on the backend (token ids copied back, logits stay on the device)"
                                     : "full f32 logits rows copied to the host each step";

    auto be = rl::create_backend(args.engine.backend, args.engine.threads);
    const std::string& path = args.engine.model_path;
    std::unique_ptr<rl::gguf_file> file;
    std::unique_ptr<rl::llama_model> model;
    if (rl::is_synthetic(path)) {
        model = rl::llama_model::synthetic_named(path.substr(std::string(rl::kSyntheticPrefix).size()), *be,
                                                 args.engine.weights);
    } else {
        file = rl::gguf_file::open(path);
        model = rl::llama_model::load(*file, *be, args.engine.weights);
    }
    const rl::model_config& cfg = model->config();
    const rl::device_info dev = be->info();
    const rl::device_peaks measured = rl::calibrate_peaks(*be);
    const rl::device_spec* spec = rl::find_device_spec(dev.name);
    const double elem = double(rl::dtype_size(be->compute_dtype()));
    rl::cost_model cm = rl::cost_model::on_device(cfg, elem, dev.kind, dev.compute_units);
    cm.matmul_weight_bytes = double(model->matmul_weight_bytes());
    cm.expert_bytes = double(model->expert_weight_bytes());
    cm.blocks_expand_above = model->block_matmuls() ? be->block_weights_expand_above() : 0;
    std::fprintf(stderr, "weights (%s): %s\n", rl::weight_storage_name(args.engine.weights), model->weight_types().c_str());

    nlohmann::json results = nlohmann::json::array();
    std::fprintf(stderr, "%s on %s (%s): measured %.1f TFLOP/s, %.2f TB/s\n", cfg.name.c_str(), dev.name.c_str(),
                 be->name().c_str(), measured.flops / 1e12, measured.bytes_per_s / 1e12);
    std::printf("sampling: %s\n", sampling);
    std::printf("%-6s %-8s %10s %10s %9s %9s %8s %8s %8s %8s %9s\n", "mode", "batch", "tok/s", "ms/step", "TB/s",
                "TFLOP/s", "%bw-meas", "%bw-spec", "%fl-meas", "%fl-spec", "ev-ms");
    for (int batch : args.batches) {
        const int total = context + (decode ? steps + 1 : 0);  // decode: the warm-up step, then --steps
        const int blocks_per_seq = (total + block_size - 1) / block_size;
        be->alloc_kv(model->kv_layout_for(batch * blocks_per_seq, block_size));
        std::vector<float> logits;
        std::vector<int32_t> ids;
        auto step = [&](const rl::step_input& in) {
            if (on_device) model->forward_greedy(in, ids);  // includes the per-step sync
            else model->forward(in, logits);
        };
        double seconds = 0, ev_seconds = 0, sum_flops = 0, sum_bytes = 0;
        // Each timed step is also timed by the backend's device timer (CUDA events around the
        // step's work on its stream): the check that wall-clock step times are device time.
        auto timed = [&](const rl::step_input& in) {
            be->timer_begin();
            const auto t0 = std::chrono::steady_clock::now();
            step(in);
            const double ev = be->timer_end_s();
            const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            seconds += wall;
            ev_seconds = ev < 0 || ev_seconds < 0 ? -1 : ev_seconds + ev;  // -1: no device timer
        };
        auto account = [&](int n, int start) {
            std::vector<rl::step_shape_seq> shape(size_t(batch), rl::step_shape_seq{n, start, true});
            const rl::step_cost c = cm.cost(shape, model->last_experts_read());   // the union the step routed to
            sum_flops += c.flops;
            sum_bytes += c.bytes();
        };
        int timed_steps = 0;
        if (decode) {
            // Fill the context in chunks (untimed), then time the decode steps.
            const int chunk = std::max(1, std::min(context, 4096 / batch));
            for (int p = 0; p < context; p += chunk)
                step(make_step(batch, std::min(chunk, context - p), p, blocks_per_seq, block_size, cfg.vocab_size,
                              uint32_t(p + 7)));
            be->synchronize();
            for (int s = 0; s <= steps; ++s) {  // step 0 warms up; --steps are timed after it
                const auto in = make_step(batch, 1, context + s, blocks_per_seq, block_size, cfg.vocab_size, uint32_t(s));
                if (s == 0) {
                    step(in);
                    continue;
                }
                timed(in);
                ++timed_steps;
                account(1, context + s);
            }
        } else {
            const auto in = make_step(batch, context, 0, blocks_per_seq, block_size, cfg.vocab_size, 3);
            step(in);  // warm-up
            for (int s = 0; s < steps; ++s) {
                timed(in);
                ++timed_steps;
                account(context, 0);
            }
        }
        const double per = 1.0 / std::max(1, timed_steps);
        const double flops = sum_flops * per, bytes = sum_bytes * per;
        const double step_s = seconds * per;
        const double ev_step_s = ev_seconds >= 0 ? ev_seconds * per : -1;  // -1: no device timer
        const double tok_s = (decode ? batch : double(batch) * context) / step_s;
        const double tbs = bytes / step_s, tfs = flops / step_s;
        const double spec_bw = spec ? spec->hbm_bytes_per_s : 0, spec_fl = spec ? spec->bf16_flops : 0;
        char ev_col[32] = "        -";  // the CPU backend has no device timer
        if (ev_step_s >= 0) std::snprintf(ev_col, sizeof ev_col, "%9.3f", ev_step_s * 1e3);
        std::printf("%-6s %-8d %10.1f %10.3f %9.3f %9.2f %8.1f %8.1f %8.1f %8.1f %s\n", decode ? "decode" : "prefill",
                    batch, tok_s, step_s * 1e3, tbs / 1e12, tfs / 1e12, 100 * tbs / measured.bytes_per_s,
                    spec_bw ? 100 * tbs / spec_bw : 0.0, 100 * tfs / measured.flops, spec_fl ? 100 * tfs / spec_fl : 0.0,
                    ev_col);
        results.push_back({{"batch", batch}, {"context", context}, {"steps", timed_steps}, {"tok_s", tok_s},
                           {"ms_per_step", step_s * 1e3}, {"event_ms_per_step", ev_step_s >= 0 ? nlohmann::json(ev_step_s * 1e3) : nlohmann::json(nullptr)}, {"bytes_per_step", bytes}, {"flops_per_step", flops},
                           {"tb_s", tbs / 1e12}, {"tflop_s", tfs / 1e12},
                           {"bw_frac_measured", tbs / measured.bytes_per_s}, {"flops_frac_measured", tfs / measured.flops},
                           {"bw_frac_spec", spec_bw ? tbs / spec_bw : 0.0}, {"flops_frac_spec", spec_fl ? tfs / spec_fl : 0.0}});
    }
    nlohmann::json j = {{"command", args.command_line}, {"mode", decode ? "decode" : "prefill"},
                        {"model", cfg.name}, {"backend", be->name()}, {"device", dev.name},
                        {"sampling", sampling}, {"logits", args.logits},
                        {"measured", {{"flops", measured.flops}, {"bytes_per_s", measured.bytes_per_s}}},
                        {"spec", spec ? nlohmann::json{{"bf16_flops", spec->bf16_flops}, {"bytes_per_s", spec->hbm_bytes_per_s}}
                                      : nlohmann::json(nullptr)},
                        {"results", results}};
    if (!args.json.empty()) {
        std::ofstream f(args.json);
        if (!f) throw bench_error{"cannot write " + args.json};
        f << j.dump(2) << '\n';
    }
    return 0;
}
