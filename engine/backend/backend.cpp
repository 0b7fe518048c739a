// backend.cpp: the non-virtual helpers of the backend interface (dtype sizes, random fill).
#include "backend/backend.h"
#include "backend/row_sampling.h"
#include "common/engine_error.h"
#include "gguf/ggml_types.h"

#include <algorithm>
#include <thread>
#include <vector>

namespace rl {

size_t dtype_size(dtype t) {
    switch (t) {
    case dtype::f32: return 4;
    case dtype::f16: return 2;
    case dtype::bf16: return 2;
    default: break;
    }
    RL_THROW(std::string("dtype_size: ") + dtype_name(t) + " is a block format; its size is per row");
}

int graph_capture_rows(int n, int max_rows) {
    if (n < 1) return 0;
    const int step = n <= 4 ? 0 : n <= 128 ? 8 : n <= 256 ? 16 : 32;
    const int rows = step == 0 ? (n <= 1 ? 1 : n <= 2 ? 2 : 4) : (n + step - 1) / step * step;
    return rows <= max_rows ? rows : 0;
}

bool is_quantized(dtype t) { return t != dtype::f32 && t != dtype::f16 && t != dtype::bf16; }

ggml_type to_ggml_type(dtype t) {
    switch (t) {
    case dtype::f32: return ggml_type::f32;
    case dtype::f16: return ggml_type::f16;
    case dtype::bf16: return ggml_type::bf16;
    case dtype::q8_0: return ggml_type::q8_0;
    case dtype::q4_0: return ggml_type::q4_0;
    case dtype::q4_1: return ggml_type::q4_1;
    case dtype::q5_0: return ggml_type::q5_0;
    case dtype::q5_1: return ggml_type::q5_1;
    case dtype::q4_k: return ggml_type::q4_k;
    case dtype::q5_k: return ggml_type::q5_k;
    case dtype::q6_k: return ggml_type::q6_k;
    }
    return ggml_type::f32;
}

std::optional<dtype> block_dtype(ggml_type t) {
    switch (t) {
    case ggml_type::q8_0: return dtype::q8_0;
    case ggml_type::q4_0: return dtype::q4_0;
    case ggml_type::q4_1: return dtype::q4_1;
    case ggml_type::q5_0: return dtype::q5_0;
    case ggml_type::q5_1: return dtype::q5_1;
    case ggml_type::q4_k: return dtype::q4_k;
    case ggml_type::q5_k: return dtype::q5_k;
    case ggml_type::q6_k: return dtype::q6_k;
    default: return std::nullopt;
    }
}

size_t dtype_row_bytes(dtype t, int64_t n) {
    if (!is_quantized(t)) return size_t(n) * dtype_size(t);
    return ggml_row_bytes(to_ggml_type(t), n);
}

const char* dtype_name(dtype t) {
    switch (t) {
    case dtype::f32: return "f32";
    case dtype::f16: return "f16";
    case dtype::bf16: return "bf16";
    default: break;
    }
    return ggml_traits(to_ggml_type(t)).name;
}

const char* weight_storage_name(weight_storage w) {
    switch (w) {
    case weight_storage::automatic: return "auto";
    case weight_storage::native: return "native";
    case weight_storage::bf16: return "bf16";
    case weight_storage::f32: return "f32";
    }
    return "native";
}

bool parse_weight_storage(const std::string& s, weight_storage& out) {
    for (weight_storage w : {weight_storage::automatic, weight_storage::native, weight_storage::bf16, weight_storage::f32})
        if (s == weight_storage_name(w)) return out = w, true;
    return false;
}

weight_storage resolve_weight_storage(weight_storage ws, dtype compute, size_t expanded_bytes, size_t free_bytes) {
    if (ws != weight_storage::automatic) return ws;
    if (free_bytes != 0 && expanded_bytes > free_bytes / 4 * 3) return weight_storage::native;
    return compute == dtype::f32 ? weight_storage::f32 : weight_storage::bf16;
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
