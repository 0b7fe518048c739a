// serving_config.cpp: validation messages name the field and the accepted range.
#include "serving/serving_config.h"

namespace rl {

const char* to_string(schedule_policy p) {
    return p == schedule_policy::priority ? "priority" : "fcfs";
}

bool parse_policy(const std::string& s, schedule_policy& out) {
    if (s == "fcfs") out = schedule_policy::fcfs;
    else if (s == "priority") out = schedule_policy::priority;
    else return false;
    return true;
}

std::string validate(const serving_config& c) {
    if (c.max_num_seqs < 1) return "max_num_seqs must be at least 1, got " + std::to_string(c.max_num_seqs);
    if (c.max_num_seqs > 4096) return "max_num_seqs must be at most 4096, got " + std::to_string(c.max_num_seqs);
    if (c.max_num_batched_tokens < 1)
        return "max_num_batched_tokens must be at least 1, got " + std::to_string(c.max_num_batched_tokens);
    if (c.max_num_batched_tokens < c.max_num_seqs)
        return "max_num_batched_tokens (" + std::to_string(c.max_num_batched_tokens) +
               ") must be at least max_num_seqs (" + std::to_string(c.max_num_seqs) + ") so every decode fits";
    if (c.block_size < 8 || c.block_size > 256 || (c.block_size & (c.block_size - 1)) != 0)
        return "block_size must be a power of two from 8 to 256, got " + std::to_string(c.block_size);
    if (c.kv_blocks < 0) return "kv_blocks must be 0 (automatic) or positive, got " + std::to_string(c.kv_blocks);
    if (!(c.gpu_memory_utilization > 0.0 && c.gpu_memory_utilization <= 0.98))
        return "gpu_memory_utilization must be in (0, 0.98], got " + std::to_string(c.gpu_memory_utilization);
    if (c.max_waiting < 0) return "max_waiting must be 0 or more, got " + std::to_string(c.max_waiting);
    if (!(c.max_queue_ms >= 0)) return "max_queue_ms must be 0 (off) or more";
    return "";
}

std::string validate_pool(const serving_config& c, int kv_blocks, int max_context) {
    const int per_seq = (max_context + c.block_size - 1) / c.block_size;
    if (kv_blocks < per_seq)
        return "KV pool of " + std::to_string(kv_blocks) + " blocks cannot hold one " + std::to_string(max_context) +
               "-token sequence (needs " + std::to_string(per_seq) + " blocks of " + std::to_string(c.block_size) +
               " tokens)";
    return "";
}

bool needs_pool_restart(const serving_config& a, const serving_config& b) {
    return a.block_size != b.block_size || a.kv_blocks != b.kv_blocks ||
           a.gpu_memory_utilization != b.gpu_memory_utilization;
}

} // namespace rl
