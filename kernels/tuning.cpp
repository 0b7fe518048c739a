// tuning.cpp: the one place that reads the kernels' tuning overrides (RIDGELINE_TUNING, see
// tuning.h): parses and range-checks them, keeps the table for the process, and the test hooks.
#include "tuning.h"

#include "kernels.h"

#include "common/engine_error.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace rl::kernels {
namespace {

constexpr const char* env_name = "RIDGELINE_TUNING";
constexpr const char* end_names[gemv_n_ends] = {"add", "glu", "rope", "out"};

[[noreturn]] void refuse(const std::string& what) {
    RL_THROW(std::string(env_name) + ": " + what + " (keys and ranges: kernels/tuning.h)");
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return std::string(s);
}

int parse_int(const std::string& key, const std::string& v, long lo, long hi) {
    errno = 0;
    char* end = nullptr;
    const long r = v.empty() ? 0 : std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != 0 || errno == ERANGE)
        refuse(key + "=" + v + " is not an integer");
    if (r < lo || r > hi)
        refuse(key + "=" + v + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
    return int(r);
}

bool parse_bool(const std::string& key, const std::string& v) {
    if (v == "0" || v == "1") return v == "1";
    refuse(key + "=" + v + " is not 0 or 1");
}

bool split_ok(const gemv_split& s) {
    return (s.warps_per_row_pair == 1 || s.warps_per_row_pair == 2 || s.warps_per_row_pair == 4) &&
           (s.cta_warps == 4 || s.cta_warps == 8);
}

std::string split_text(const gemv_split& s) {
    return std::to_string(s.warps_per_row_pair) + "x" + std::to_string(s.cta_warps);
}

gemv_split parse_split(const std::string& key, const std::string& v) {
    gemv_split s{0, 0};
    if (v.size() == 3 && v[1] == 'x') s = gemv_split{v[0] - '0', v[2] - '0'};
    if (!split_ok(s))
        refuse(key + "=" + v + " is not <warps per row pair>x<CTA warps> with 1, 2 or 4 x 4 or 8 (e.g. 2x8)");
    return s;
}

std::string gemv_key(int row, int end) {
    return "gemv_b" + std::to_string(row + 1) + "_" + end_names[end];
}

// Every range check, for a table however it was made (parsed or set by a test).
void check(const kernel_tuning& t) {
    auto in = [](const char* key, int v, long lo, long hi) {
        if (v < lo || v > hi)
            refuse(std::string(key) + "=" + std::to_string(v) + " is outside " + std::to_string(lo) + ".." +
                   std::to_string(hi));
    };
    // The ranges are the kernels' own limits (kernels.h), so a field can never ask for more.
    in("gemv_max_rows", t.gemv_max_rows, 0, int(gemv_max_rows));
    in("gemv_large_weights_mib", t.gemv_large_weights_mib, 0, 65536);
    in("gemv_deep_k", t.gemv_deep_k, 0, 1 << 30);
    in("graph_max_rows", t.graph_max_rows, 1, 4096);
    in("qmma_max_rows", t.qmma_max_rows, 0, 65536);
    in("gemv_int8_max_rows", t.gemv_int8_max_rows, 0, int(gemv_max_rows));
    in("attn_one_head_rows", t.attn_one_head_rows, 0, 65535);
    in("attn_max_heads_per_cta", t.attn_max_heads_per_cta, 1, 8);
    in("attn_max_splits", t.attn_max_splits, 1, attention_decode_max_splits);
    for (int r = 0; r < 2; ++r)
        for (int e = 0; e < gemv_n_ends; ++e)
            if (!split_ok(t.gemv_k_split[r][e]))
                refuse(gemv_key(r, e) + "=" + split_text(t.gemv_k_split[r][e]) + " is not a valid split");
}

void apply(kernel_tuning& t, const std::string& key, const std::string& v) {
    if (key == "cuda_graphs") t.cuda_graphs = parse_bool(key, v);
    else if (key == "pdl") t.pdl = parse_bool(key, v);
    else if (key == "graph_max_rows") t.graph_max_rows = parse_int(key, v, 1, 4096);
    else if (key == "gemv_max_rows") t.gemv_max_rows = parse_int(key, v, 0, int(gemv_max_rows));
    else if (key == "gemv_large_weights_mib") t.gemv_large_weights_mib = parse_int(key, v, 0, 65536);
    else if (key == "gemv_deep_k") t.gemv_deep_k = parse_int(key, v, 0, 1 << 30);
    else if (key == "qmma_max_rows") t.qmma_max_rows = parse_int(key, v, 0, 65536);
    else if (key == "gemv_int8_max_rows") t.gemv_int8_max_rows = parse_int(key, v, 0, int(gemv_max_rows));
    else if (key == "attn_one_head_rows") t.attn_one_head_rows = parse_int(key, v, 0, 65535);
    else if (key == "attn_max_heads_per_cta") t.attn_max_heads_per_cta = parse_int(key, v, 1, 8);
    else if (key == "attn_max_splits") t.attn_max_splits = parse_int(key, v, 1, attention_decode_max_splits);
    else if (key == "gemv_split") {
        const gemv_split s = parse_split(key, v);
        for (auto& row : t.gemv_k_split)
            for (auto& e : row) e = s;
    } else {
        for (int r = 0; r < 2; ++r)
            for (int e = 0; e < gemv_n_ends; ++e)
                if (key == gemv_key(r, e)) {
                    t.gemv_k_split[r][e] = parse_split(key, v);
                    return;
                }
        refuse("unknown key '" + key + "'; the keys: cuda_graphs, graph_max_rows, pdl, gemv_max_rows, gemv_large_weights_mib, "
               "gemv_deep_k, qmma_max_rows, gemv_int8_max_rows, gemv_split, gemv_b{1,2}_{add,glu,rope,out}, attn_one_head_rows, "
               "attn_max_heads_per_cta, attn_max_splits");
    }
}

kernel_tuning& table() {
    static kernel_tuning t = [] {
        const char* e = std::getenv(env_name);
        const kernel_tuning r = parse_tuning(e ? e : "");
        if (e && *e) {
            const std::string d = describe_tuning(r);
            std::fprintf(stderr, "ridgeline: %s applied: %s\n", env_name, d.empty() ? "nothing (the defaults)" : d.c_str());
        }
        return r;
    }();
    return t;
}

forced_fallbacks& fallbacks() {
    static forced_fallbacks f;
    return f;
}

} // namespace

kernel_tuning parse_tuning(const std::string& spec) {
    kernel_tuning t;
    size_t pos = 0;
    while (pos <= spec.size()) {
        const size_t comma = std::min(spec.find(',', pos), spec.size());
        const std::string item = trim(std::string_view(spec).substr(pos, comma - pos));
        pos = comma + 1;
        if (item.empty()) continue;
        const size_t eq = item.find('=');
        if (eq == std::string::npos) refuse("'" + item + "' is not key=value");
        apply(t, trim(std::string_view(item).substr(0, eq)), trim(std::string_view(item).substr(eq + 1)));
    }
    check(t);
    return t;
}

std::string describe_tuning(const kernel_tuning& t) {
    const kernel_tuning d;
    std::vector<std::string> items;
    auto num = [&](const char* key, int v, int dv) {
        if (v != dv) items.push_back(std::string(key) + "=" + std::to_string(v));
    };
    num("cuda_graphs", t.cuda_graphs, d.cuda_graphs);
    num("graph_max_rows", t.graph_max_rows, d.graph_max_rows);
    num("pdl", t.pdl, d.pdl);
    num("gemv_max_rows", t.gemv_max_rows, d.gemv_max_rows);
    num("gemv_large_weights_mib", t.gemv_large_weights_mib, d.gemv_large_weights_mib);
    num("gemv_deep_k", t.gemv_deep_k, d.gemv_deep_k);
    num("qmma_max_rows", t.qmma_max_rows, d.qmma_max_rows);
    num("gemv_int8_max_rows", t.gemv_int8_max_rows, d.gemv_int8_max_rows);
    for (int r = 0; r < 2; ++r)
        for (int e = 0; e < gemv_n_ends; ++e) {
            const gemv_split &s = t.gemv_k_split[r][e], &ds = d.gemv_k_split[r][e];
            if (s.warps_per_row_pair != ds.warps_per_row_pair || s.cta_warps != ds.cta_warps)
                items.push_back(gemv_key(r, e) + "=" + split_text(s));
        }
    num("attn_one_head_rows", t.attn_one_head_rows, d.attn_one_head_rows);
    num("attn_max_heads_per_cta", t.attn_max_heads_per_cta, d.attn_max_heads_per_cta);
    num("attn_max_splits", t.attn_max_splits, d.attn_max_splits);
    std::string out;
    for (const std::string& i : items) out += (out.empty() ? "" : ",") + i;
    return out;
}

const kernel_tuning& tuning() { return table(); }

void set_tuning_for_test(const kernel_tuning& t) {
    check(t);
    table() = t;
}

const forced_fallbacks& fallbacks_forced() { return fallbacks(); }
void force_fallbacks_for_test(const forced_fallbacks& f) { fallbacks() = f; }

} // namespace rl::kernels
