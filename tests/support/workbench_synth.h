// workbench_synth: synthetic metrics for tests/test_workbench_plots.cpp: step records, a plausible
// serving run fed as MetricsFrames at 10 Hz (Synth), and random KV maps (makeMap).
#pragma once
#include "MetricsFrame.h"

#include <cmath>
#include <memory>
#include <random>

using State = rl::block_manager::block_state;

inline rl::step_record step(double t, double d, int prefill, int decode, int running, int waiting) {
    rl::step_record s;
    s.t_s = t;
    s.duration_s = d;
    s.prefill_tokens = prefill;
    s.decode_tokens = decode;
    s.sampled_tokens = decode;
    s.num_running = running;
    s.num_waiting = waiting;
    return s;
}

/// A plausible serving run: 135M-ish model on a fast device, batch swelling and draining.
struct Synth {
    std::mt19937 rng{7};
    uint64_t index = 0;
    double t = 0;
    int total = 4096;
    rl::device_peaks peaks{50e12, 2.0e12, "measured"};

    std::vector<rl::step_record> run(double until, double stepS) {
        std::vector<rl::step_record> out;
        std::uniform_real_distribution<double> u(0, 1);
        while (t < until) {
            const double phase = 0.5 + 0.5 * std::sin(t / 40.0);
            const int batch = 1 + int(31 * phase * (0.8 + 0.4 * u(rng)));
            const bool pre = u(rng) < 0.15;
            const int prefill = pre ? 64 + int(400 * u(rng)) : 0;
            rl::step_record s = step(t, stepS * (0.7 + 0.6 * u(rng)) * (pre ? 2.5 : 1.0), prefill, batch, batch,
                                     int(8 * std::max(0.0, phase - 0.6) * u(rng) * 10));
            s.index = ++index;
            const double params = 135e6;
            s.flops = 2 * params * s.tokens();
            s.bytes = 2 * params + 2.0 * 30 * 2 * 576 / 9 * 3 * 200 * batch;   // weights + KV read
            s.flops_util = s.flops / s.duration_s / peaks.flops;
            s.bw_util = s.bytes / s.duration_s / peaks.bytes_per_s;
            s.kv_used = std::min(total, 60 * batch + int(100 * u(rng)));
            s.kv_cached = std::min(total - s.kv_used, int(1500 * (0.5 + 0.5 * std::cos(t / 70.0))));
            s.kv_free = total - s.kv_used - s.kv_cached;
            if (u(rng) < 0.002) s.preemptions = 1;
            if (u(rng) < 0.004) s.evicted_blocks = 1 + int(20 * u(rng));
            if (pre) {
                s.prefix_queries = uint32_t(prefill + 100);
                s.prefix_hits = uint32_t((prefill + 100) * (0.4 + 0.5 * u(rng)));
                s.recomputed_tokens = u(rng) < 0.2 ? uint32_t(prefill / 2) : 0;
            }
            out.push_back(s);
            t += s.duration_s + (phase < 0.1 ? 0.05 : 0.0005);
        }
        return out;
    }
    MetricsFrame frame(double now, std::vector<rl::step_record> steps) {
        MetricsFrame f;
        f.snap.t_s = now;
        f.snap.kv_total = total;
        f.snap.ttft_s = {0.08 + 0.04 * std::sin(now / 30), 0.1, 0.25 + 0.1 * std::sin(now / 20), 50};
        f.snap.tpot_s = {0.011 + 0.003 * std::sin(now / 25), 0.014, 0.02 + 0.004 * std::sin(now / 25), 50};
        f.snap.prefix_hit_rate = 0.6 + 0.2 * std::sin(now / 50);
        f.snap.recomputed_tok_s = 40 + 30 * std::sin(now / 35);
        f.snap.steps = index;
        f.snap.new_steps = std::move(steps);
        f.measured = peaks;
        f.device = {"cuda", "NVIDIA H100 80GB HBM3", 132, size_t(80) << 30, size_t(61) << 30};
        f.specBandwidth = 3.35e12;
        f.specBf16 = 989e12;
        f.specFp8 = 1979e12;
        f.backendName = QStringLiteral("cuda");
        f.modelName = QStringLiteral("SmolLM2-135M-Instruct");
        f.weightBytes = 270e6;
        f.kvBlocks = total;
        f.blockSize = 16;
        f.kvPoolBytes = total * 2.0 * 30 * 16 * 3 * 64 * 2;
        return f;
    }
    /// Feeds `seconds` of history into the consumers in 100 ms frames.
    template <typename... W>
    void feed(double seconds, double stepS, W*... widgets) {
        const double end = t + seconds;
        while (t < end) {
            const double now = t + 0.1;
            MetricsFrame f = frame(now, run(now, stepS));
            (widgets->onFrame(f), ...);
        }
    }
};

inline std::shared_ptr<rl::engine::kv_map_view> makeMap(int n, uint64_t seed) {
    auto m = std::make_shared<rl::engine::kv_map_view>();
    m->t_s = 100;
    m->block_size = 16;
    std::mt19937_64 rng(seed);
    for (int i = 0; i < n; ++i) {
        const int r = int(rng() % 10);
        const State st = r < 4 ? State::used : r < 7 ? State::cached : State::free;
        const uint64_t kind = rng() % 3;
        const uint64_t owner = st == State::free ? 0
                               : kind == 0 ? 1 + i / 64
                               : kind == 1 ? rl::kOwnerVirtualBit | uint64_t(1 + i / 50)
                                           : rl::kOwnerApiBit | 7;
        m->blocks.push_back({st, owner, uint64_t(i), 100 - (i % 60) * 0.5});
    }
    return m;
}
