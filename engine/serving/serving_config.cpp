// serving_config.cpp: validation; each knob's range comes from the knob table, the rules that
// relate two knobs are here.
#include "serving/serving_config.h"

#include "serving/serving_knobs.h"

namespace rl {

config_error validate(const serving_config& c) {
    for (const knob_info& k : serving_knobs())
        if (auto e = check_knob(k, c)) return e;
    if (c.max_num_batched_tokens < c.max_num_seqs)
        return {"max_num_batched_tokens", "max_num_batched_tokens (" + std::to_string(c.max_num_batched_tokens) +
                                              ") must be at least max_num_seqs (" + std::to_string(c.max_num_seqs) +
                                              ") so every decode fits"};
    return {};
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
