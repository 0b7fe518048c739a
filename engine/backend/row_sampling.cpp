// row_sampling.cpp: see row_sampling.h. The thresholds are found by bisection on the keys, the
// same 32-step searches the device kernel (kernels/sampling.cu) runs, so both keep the same set.
#include "backend/row_sampling.h"

#include <cmath>
#include <limits>

namespace rl {
namespace {

// The largest key t in [lo, 2^32) with pred(t) true, given pred(lo) true and pred monotone.
template <class Pred>
uint32_t largest_true(uint32_t lo, Pred pred) {
    uint64_t l = lo, h = uint64_t(1) << 32;  // pred(l) true, pred(h) false
    while (h - l > 1) {
        const uint64_t m = l + (h - l) / 2;
        if (pred(uint32_t(m))) l = m;
        else h = m;
    }
    return uint32_t(l);
}

} // namespace

uint32_t sampling_threshold(const float* x, int vocab, const row_sampling& p) {
    float mx = -std::numeric_limits<float>::infinity();
    for (int i = 0; i < vocab; ++i)
        if (x[i] > mx) mx = x[i];
    uint32_t t = 1;  // every non-NaN, non -inf token
    if (p.top_k > 0 && p.top_k < vocab)
        t = largest_true(t, [&](uint32_t c) {
            int n = 0;
            for (int i = 0; i < vocab; ++i) n += sampling_key(x[i]) >= c;
            return n >= p.top_k;
        });
    if (p.top_p < 1.f) {
        auto mass = [&](uint32_t c) {
            double s = 0;
            for (int i = 0; i < vocab; ++i)
                if (sampling_key(x[i]) >= c) s += std::exp(double(x[i]) - mx);
            return s;
        };
        const double want = double(p.top_p) * mass(t);
        t = largest_true(t, [&](uint32_t c) { return mass(c) >= want; });
    }
    if (p.min_p > 0.f) {
        const uint32_t m = sampling_key(mx + std::log(p.min_p));
        if (m > t) t = m;
    }
    const uint32_t top = sampling_key(mx);  // the maximum is always kept
    return t > top ? top : t;
}

int32_t sample_row_reference(const float* x, int vocab, const row_sampling& p) {
    if (vocab <= 0) return 0;
    float mx = -std::numeric_limits<float>::infinity();
    int32_t arg = 0;
    for (int i = 0; i < vocab; ++i)
        if (x[i] > mx) mx = x[i], arg = i;
    if (p.temperature <= 0.f || !(mx > -std::numeric_limits<float>::infinity())) return arg;
    const uint32_t t = sampling_threshold(x, vocab, p);
    double total = 0;
    for (int i = 0; i < vocab; ++i)
        if (sampling_key(x[i]) >= t) total += std::exp((double(x[i]) - mx) / p.temperature);
    const double target = double(p.u) * total;
    double cum = 0;
    int32_t last = arg;
    for (int i = 0; i < vocab; ++i) {
        if (sampling_key(x[i]) < t) continue;
        cum += std::exp((double(x[i]) - mx) / p.temperature);
        last = i;
        if (cum > target) return i;
    }
    return last;
}

} // namespace rl
