// calibrate.cpp: see calibrate.h. Sizes are chosen to be far larger than caches (bandwidth) and
// large enough to saturate the matmul; each measurement repeats until its share of the budget is used.
#include "metrics/calibrate.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <vector>

namespace rl {

namespace {
using clk = std::chrono::steady_clock;

template <typename F>
double best_seconds(backend& be, F&& op, double budget_s) {
    op();  // warm-up
    be.synchronize();
    double best = 1e30;
    const auto start = clk::now();
    for (int i = 0; i < 50; ++i) {
        const auto t0 = clk::now();
        op();
        be.synchronize();
        best = std::min(best, std::chrono::duration<double>(clk::now() - t0).count());
        if (std::chrono::duration<double>(clk::now() - start).count() > budget_s) break;
    }
    return best;
}

// The measurement's buffers, released however it ends: on a GPU whose pool left little room an
// allocation may throw half-way, and what was already allocated must not stay behind.
struct scratch {
    backend& be;
    std::vector<tensor> ts;
    tensor& alloc(int64_t rows, int64_t cols, dtype dt) {
        ts.reserve(8);
        ts.push_back(be.alloc(rows, cols, dt));
        return ts.back();
    }
    void release_all() noexcept {
        for (tensor& t : ts)
            try {
                if (t.data) be.release(t);
            } catch (...) {
            }
        ts.clear();
    }
    ~scratch() { release_all(); }
};

} // namespace

device_peaks calibrate_peaks(backend& be, double budget_s) {
    device_peaks p;
    p.source = "measured";
    p.measured_at = int64_t(std::time(nullptr));
    const bool gpu = be.info().kind == "cuda";
    const dtype dt = be.compute_dtype();
    // Matmul: [m, k] x [n, k]^T.
    const int64_t m = gpu ? 8192 : 256, k = gpu ? 8192 : 2048, n = gpu ? 8192 : 2048;
    scratch mm{be, {}};
    tensor& a = mm.alloc(m, k, dt);
    tensor& w = mm.alloc(n, k, dt);
    tensor& out = mm.alloc(m, n, dt);
    be.fill_random(a, 1, -1.f, 1.f);
    be.fill_random(w, 2, -1.f, 1.f);
    const double t_mm = best_seconds(be, [&] { be.matmul(a, w, out); }, budget_s / 2);
    p.flops = 2.0 * double(m) * double(n) * double(k) / t_mm;
    mm.release_all();
    // Bandwidth: x += y over buffers much larger than the last-level cache.
    const int64_t rows = gpu ? 16384 : 2048, cols = 8192;
    scratch add{be, {}};
    tensor& x = add.alloc(rows, cols, dt);
    tensor& y = add.alloc(rows, cols, dt);
    be.fill_random(x, 3, -1.f, 1.f);
    be.fill_random(y, 4, -1.f, 1.f);
    const double t_add = best_seconds(be, [&] { be.add(x, y); }, budget_s / 4);
    p.bytes_per_s = 3.0 * double(x.bytes()) / t_add;
    add.release_all();
    // And a read-only stream: one row against a weight far larger than the caches, decode's own
    // pattern. On CPUs a read-only stream runs ~35% faster than the add's mix of reads and writes
    // (2-core Xeon VM: 25 vs 18.7 GB/s), which had put decode steps above 100% of the roof.
    const int64_t gk = 8192, gn = 8192;  // 128 MiB bf16, 256 MiB fp32
    scratch mv{be, {}};
    tensor& gx = mv.alloc(1, gk, dt);
    tensor& gw = mv.alloc(gn, gk, dt);
    tensor& go = mv.alloc(1, gn, dt);
    be.fill_random(gx, 5, -1.f, 1.f);
    be.fill_random(gw, 6, -1.f, 1.f);
    const double t_gemv = best_seconds(be, [&] { be.matmul(gx, gw, go); }, budget_s / 4);
    p.bytes_per_s = std::max(p.bytes_per_s, double(gw.bytes() + gx.bytes() + go.bytes()) / t_gemv);
    mv.release_all();
    return p;
}

std::string peaks_key(const device_info& d, dtype compute) {
    return d.kind + "|" + d.name + "|" + std::to_string(d.compute_units) + "|" + dtype_name(compute);
}

} // namespace rl
