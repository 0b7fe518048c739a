// backend.cpp: the non-virtual helpers of the backend interface (dtype sizes, random fill).
#include "backend/backend.h"
#include "backend/row_sampling.h"
#include "common/engine_error.h"

#include <algorithm>
#include <thread>
#include <vector>

namespace rl {

size_t dtype_size(dtype t) {
    switch (t) {
    case dtype::f32: return 4;
    case dtype::f16: return 2;
    case dtype::bf16: return 2;
    }
    return 4;
}

void backend::matmuls(const tensor& x, std::span<const tensor* const> w, std::span<tensor* const> out) {
    RL_CHECK(w.size() == out.size(), "matmuls: " + std::to_string(w.size()) + " weights for " +
                                         std::to_string(out.size()) + " outputs");
    for (size_t i = 0; i < w.size(); ++i) matmul(x, *w[i], *out[i]);
}

void backend::sample_rows(const tensor& x, const std::vector<row_sampling>& p, std::vector<int32_t>& ids) {
    RL_CHECK(x.type == dtype::f32 && size_t(x.rows) == p.size(),
             "sample_rows: " + std::to_string(p.size()) + " parameter sets for logits " + shape_of(x));
    std::vector<float> host(size_t(x.numel()));
    download(x, host.data());
    ids.resize(p.size());
    for (size_t r = 0; r < p.size(); ++r)
        ids[r] = sample_row_reference(host.data() + r * size_t(x.cols), int(x.cols), p[r]);
}

void backend::argmax_rows(const tensor& x, std::vector<int32_t>& ids) {
    std::vector<float> host(size_t(x.numel()));
    if (!host.empty()) download(x, host.data());
    ids.assign(size_t(x.rows), 0);
    for (int64_t r = 0; r < x.rows; ++r) {
        const float* v = host.data() + r * x.cols;
        int64_t best = 0;
        for (int64_t c = 1; c < x.cols; ++c)
            if (v[c] > v[best] || (v[best] != v[best] && v[c] == v[c])) best = c;  // NaN loses
        ids[size_t(r)] = int32_t(best);
    }
}

std::string shape_of(const tensor& t) {
    std::string s = "[";  // appended piecewise: GCC 12 warns falsely (-Wrestrict) on "[" + to_string
    s += std::to_string(t.rows);
    s += ", ";
    s += std::to_string(t.cols);
    return s + "]";
}

void check_attention_args(const tensor& q, const tensor& out, int n_heads, int n_kv_heads, int head_dim,
                          int n_tokens, const kv_cache_layout& kv) {
    RL_CHECK(n_heads > 0 && n_kv_heads > 0 && n_heads % n_kv_heads == 0, "attention: n_heads must be a multiple of n_kv_heads");
    RL_CHECK(n_kv_heads == kv.n_kv_heads && head_dim == kv.head_dim,
             "attention: kv heads / head_dim disagree with the KV pool layout");
    RL_CHECK(q.rows == n_tokens && q.cols == int64_t(n_heads) * head_dim && out.rows == q.rows && out.cols == q.cols,
             "attention: q " + shape_of(q) + ", out " + shape_of(out) + " for " + std::to_string(n_heads) + " heads x " +
                 std::to_string(head_dim));
}

void backend::fill_random(tensor& t, uint64_t seed, float lo, float hi) {
    std::vector<float> host(size_t(t.numel()));
    const unsigned nt = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    const size_t n = host.size(), per = (n + nt - 1) / nt;
    for (unsigned w = 0; w < nt; ++w)
        pool.emplace_back([&, w] {
            for (size_t i = w * per; i < std::min(n, (w + 1) * per); ++i) host[i] = random_uniform_at(seed, i, lo, hi);
        });
    for (auto& th : pool) th.join();
    upload(t, host.data());
}

} // namespace rl
