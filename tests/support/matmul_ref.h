// matmul_ref.h: the double-precision reference of one output of x . w^T (row r of w against row
// i of x), and the sum of the products' magnitudes, the scale a rounding tolerance is relative
// to. The CPU product tests (test_cpu_quant, test_cpu_gemm) check every output against it.
#pragma once
#include <cmath>
#include <cstdint>

struct reference_dot {
    double value = 0, magnitude = 0;
};

inline reference_dot dot_reference(const float* w, const float* x, int64_t k) {
    reference_dot d;
    for (int64_t e = 0; e < k; ++e) {
        const double p = double(w[e]) * double(x[e]);
        d.value += p;
        d.magnitude += std::fabs(p);
    }
    return d;
}
