// gpu_test.h: what the GPU tests share: the skip when no CUDA device is usable, bf16-exact random
// inputs, the relative L2 error against a double reference, a CUDA backend that owns the
// tensors a test makes (poisoned with NaN, so an unwritten output element fails the check), and
// scoped overrides of the kernels' tuning table and capability fallbacks (kernels/tuning.h), so
// a test can run the paths the defaults of this GPU do not take.
#pragma once
#include "rl_test.h"

#include "backend/cuda/cuda_backend.h"
#include "gguf/dequant.h"
#include "random_blocks.h"
#include "kernels.h"
#include "tuning.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#define GPU_OR_SKIP()                                                                                  \
    do {                                                                                               \
        std::string why_;                                                                              \
        if (!rl::kernels::cuda_available(&why_)) QSKIP(("no usable CUDA device (" + why_ + "); GPU tests skipped").c_str()); \
    } while (0)

namespace rl_gpu_test {

using rl_test_blocks::random_blocks;  // tests/support/random_blocks.h, shared with the CPU tests

using vec = std::vector<float>;
inline const float nan_f = std::numeric_limits<float>::quiet_NaN();

inline float rb(float x) { return rl::bf16_to_fp32(rl::fp32_to_bf16(x)); }

/// Normal(0, scale) values; bf16_exact rounds them so a reference sees what the GPU sees.
inline vec randn(size_t n, std::mt19937& rng, float scale = 1.f, bool bf16_exact = true) {
    std::normal_distribution<float> d(0.f, scale);
    vec v(n);
    for (auto& x : v) x = bf16_exact ? rb(d(rng)) : d(rng);
    return v;
}

/// ||got - ref|| / ||ref||; +inf if any output is not finite.
inline double rel_l2(const vec& got, const std::vector<double>& ref) {
    double num = 0, den = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
        num += (got[i] - ref[i]) * (got[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return std::sqrt(num / std::max(den, 1e-300));
}

/// "what: rel L2 x" for QVERIFY2, and printed, so a run shows the margins and not only PASS.
inline std::string fmt(const std::string& what, double err) {
    std::printf("  %-28s rel L2 %.3g\n", what.c_str(), err);
    return what + ": rel L2 " + std::to_string(err);
}

struct gpu {
    std::unique_ptr<rl::backend> be = rl::make_cuda_backend(0);
    std::vector<rl::tensor> owned;
    ~gpu() {
        for (auto& t : owned) be->release(t);
    }
    rl::tensor put(const vec& v, int64_t rows, int64_t cols, rl::dtype t = rl::dtype::bf16) {
        owned.push_back(be->alloc(rows, cols, t));
        be->upload(owned.back(), v.data());
        return owned.back();
    }
    rl::tensor poisoned(int64_t rows, int64_t cols, rl::dtype t = rl::dtype::bf16) {
        return put(vec(size_t(rows * cols), nan_f), rows, cols, t);
    }
    vec get(const rl::tensor& t) {
        vec v(size_t(t.numel()));
        be->download(t, v.data());
        return v;
    }
};

/// The kernels' tuning table replaced for one scope, then restored. Make it before the gpu (the
/// backend) that should see it: recorded graphs and sized workspaces keep what they were made with.
class scoped_tuning {
public:
    explicit scoped_tuning(const rl::kernels::kernel_tuning& t) { rl::kernels::set_tuning_for_test(t); }
    ~scoped_tuning() { rl::kernels::set_tuning_for_test(saved_); }
    scoped_tuning(const scoped_tuning&) = delete;
    scoped_tuning& operator=(const scoped_tuning&) = delete;

private:
    rl::kernels::kernel_tuning saved_ = rl::kernels::tuning();
};

/// Capability fallbacks forced for one scope (the paths of GPUs unlike this one), then restored.
class scoped_fallbacks {
public:
    explicit scoped_fallbacks(const rl::kernels::forced_fallbacks& f) { rl::kernels::force_fallbacks_for_test(f); }
    ~scoped_fallbacks() { rl::kernels::force_fallbacks_for_test(saved_); }
    scoped_fallbacks(const scoped_fallbacks&) = delete;
    scoped_fallbacks& operator=(const scoped_fallbacks&) = delete;

private:
    rl::kernels::forced_fallbacks saved_ = rl::kernels::fallbacks_forced();
};

/// Whether the running test function has failed so far: a test that runs other test functions
/// under an override stops at the first that fails.
inline bool test_failed() {
#if defined(RL_HAVE_QTTEST)
    return QTest::currentTestFailed();
#else
    return rl_qtest::current() == rl_qtest::outcome::fail;
#endif
}

/// One sequence of `tokens` at positions start_pos, start_pos + 1, ...
inline rl::step_input one_seq_step(const std::vector<int32_t>& tokens, int start_pos) {
    rl::step_input in;
    in.tokens = tokens;
    for (size_t i = 0; i < tokens.size(); ++i) in.positions.push_back(start_pos + int(i));
    in.seqs.push_back(rl::seq_slice{0, int(tokens.size()), start_pos, {}});
    return in;
}

} // namespace rl_gpu_test

// Fails the test when err >= 1e-2 (the GPU tests' bf16 tolerance); prints the error either way.
#define CHECK_REL(what, err)                                  \
    do {                                                      \
        const double e_ = (err);                              \
        const std::string m_ = rl_gpu_test::fmt((what), e_);  \
        QVERIFY2(e_ < 1e-2, m_.c_str());                      \
    } while (0)
