// serving_config.cpp: validation; each knob's range comes from the knob table, the rules that
// relate two knobs are here.
#include "serving/serving_config.h"

#include "serving/serving_knobs.h"

#include <algorithm>
#include <cmath>

namespace rl {

config_error validate(const serving_config& c) {
    for (const knob_info& k : serving_knobs())
        if (auto e = check_knob(k, c)) return e;
    if (c.max_num_batched_tokens != 0 && c.max_num_batched_tokens < c.max_num_seqs)
        return {"max_num_batched_tokens", "max_num_batched_tokens (" + std::to_string(c.max_num_batched_tokens) +
                                              ") must be at least max_num_seqs (" + std::to_string(c.max_num_seqs) +
                                              ") so every decode fits"};
    return {};
}

int auto_batched_tokens(bool gpu, double peak_flops, double params) {
    if (gpu) return 2048;
    if (!(peak_flops > 0) || !(params > 0)) return 512;
    const double tokens = peak_flops * 0.25 / (2 * params);
    int p = 64;
    while (p * 2 <= tokens && p < 2048) p *= 2;
    return p;
}

int resolve_max_model_len(int max_model_len, int model_context) {
    return max_model_len > 0 ? std::min(max_model_len, model_context) : std::min(model_context, 8192);
}

int kv_blocks_for_budget(double gib, size_t per_block_bytes) {
    if (!(gib > 0) || per_block_bytes == 0) return 0;
    return int(std::min(std::floor(gib * 1024.0 * 1024.0 * 1024.0 / double(per_block_bytes)), double(1 << 22)));
}

serving_config resolve_step_budget(serving_config c, int auto_tokens) {
    if (c.max_num_batched_tokens == 0) c.max_num_batched_tokens = std::max(auto_tokens, c.max_num_seqs);
    return c;
}

config_error validate_pool(const serving_config& c, int kv_blocks, int max_context) {
    const int per_seq = (max_context + c.block_size - 1) / c.block_size;
    if (kv_blocks < per_seq)
        return {"kv_blocks", "KV pool of " + std::to_string(kv_blocks) + " blocks cannot hold one " +
                                 std::to_string(max_context) + "-token sequence (needs " + std::to_string(per_seq) +
                                 " blocks of " + std::to_string(c.block_size) + " tokens)"};
    return {};
}

bool needs_pool_restart(const serving_config& a, const serving_config& b) {
    for (const knob_info& k : serving_knobs()) {
        if (!k.restarts_pool || k.get(a) == k.get(b)) continue;
        if (k.sizes_auto_pool && a.kv_blocks != 0 && b.kv_blocks != 0) continue;
        return true;
    }
    return false;
}

serving_config with_pool_of(serving_config next, const serving_config& in_force) {
    for (const knob_info& k : serving_knobs())
        if (k.restarts_pool) k.set(next, k.get(in_force));
    return next;
}

} // namespace rl
