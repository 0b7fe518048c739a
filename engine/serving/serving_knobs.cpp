// serving_knobs.cpp: the knob table (see serving_knobs.h) and the text conversions every reader
// shares. Ranges are what the engine accepts; the other engines' flags are the ones their own
// documentation names (vLLM engine arguments, SGLang server arguments, llama-server --help).
#include "serving/serving_knobs.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rl {
namespace {

constexpr std::string_view k_policies[] = {"fcfs", "priority"};
constexpr std::string_view k_preemptions[] = {"recompute"};

#define RL_KNOB_ACCESS(field, type)                                                     \
    .get = [](const serving_config& c) { return double(c.field); },                     \
    .set = [](serving_config& c, double v) { c.field = static_cast<type>(v); }

// In the panel's order: batching, then the KV pool, then admission control.
const knob_info k_knobs[] = {
    {.name = "max_num_seqs", .flag = "--max-num-seqs", .group = "Batching", .type = knob_type::integer,
     .min = 1, .max = 4096, .unit = "sequences", .help = "Most sequences in one step (the batch-size limit)",
     .vllm_flag = "--max-num-seqs", .sglang_flag = "--max-running-requests", .llama_server_flag = "-np",
     RL_KNOB_ACCESS(max_num_seqs, int)},
    {.name = "max_num_batched_tokens", .flag = "--max-num-batched-tokens", .group = "Batching",
     .type = knob_type::integer, .min = 0, .max = 262144, .step = 64, .unit = "tokens",
     .help = "Token budget of one step (prefill + decode); at least max_num_seqs; auto: 2048 on a GPU, "
             "about a quarter second of prefill on the CPU",
     .zero_means = "auto",
     .vllm_flag = "--max-num-batched-tokens", .sglang_flag = "--max-prefill-tokens", .llama_server_flag = "-b",
     RL_KNOB_ACCESS(max_num_batched_tokens, int)},
    {.name = "chunked_prefill", .flag = "--chunked-prefill", .group = "Batching", .type = knob_type::boolean,
     .max = 1, .help = "Split long prompts across steps so decodes keep running",
     .vllm_flag = "--enable-chunked-prefill", .sglang_flag = "--chunked-prefill-size",
     RL_KNOB_ACCESS(chunked_prefill, bool)},
    {.name = "policy", .flag = "--policy", .group = "Batching", .type = knob_type::choice, .max = 1,
     .help = "fcfs: arrival order; priority: higher priority first (your chat 10, virtual users 0)",
     .choices = k_policies, .vllm_flag = "--scheduling-policy", .sglang_flag = "--schedule-policy",
     .get = [](const serving_config& c) { return c.policy == schedule_policy::priority ? 1.0 : 0.0; },
     .set = [](serving_config& c, double v) {
         c.policy = v >= 0.5 ? schedule_policy::priority : schedule_policy::fcfs;
     }},
    {.name = "preemption", .flag = "--preemption", .group = "Batching", .type = knob_type::choice,
     .help = "Preempted sequences drop their blocks and recompute later (the only mode for now)",
     .choices = k_preemptions,   // vLLM V1 removed --preemption-mode: recompute is its only mode too
     .get = [](const serving_config&) { return 0.0; },
     .set = [](serving_config& c, double) { c.preemption = preemption_mode::recompute; }},
    {.name = "max_model_len", .flag = "--max-model-len", .group = "KV pool", .type = knob_type::integer,
     .min = 0, .max = 1 << 20, .step = 256, .unit = "tokens",
     .help = "Longest sequence (prompt + reply); the pool must hold one; auto: the model's, at most 8192",
     .zero_means = "auto", .restarts_pool = true, .vllm_flag = "--max-model-len", .sglang_flag = "--context-length",
     RL_KNOB_ACCESS(max_model_len, int)},
    {.name = "kv_blocks", .flag = "--kv-blocks", .group = "KV pool", .type = knob_type::integer, .min = 0,
     .max = 1 << 22, .unit = "blocks", .help = "KV pool size in blocks; auto sizes it from memory",
     .zero_means = "auto", .restarts_pool = true, .vllm_flag = "--num-gpu-blocks-override",
     .sglang_flag = "--max-total-tokens", .llama_server_flag = "-c", RL_KNOB_ACCESS(kv_blocks, int)},
    {.name = "kv_budget_gib", .flag = "--kv-budget-gib", .group = "KV pool", .type = knob_type::real, .min = 0,
     .max = 4096, .decimals = 3, .step = 0.25, .unit = "GiB",
     .help = "KV pool budget in memory when kv_blocks is auto; auto: gpu_memory_utilization decides",
     .zero_means = "auto", .restarts_pool = true, .sizes_auto_pool = true, RL_KNOB_ACCESS(kv_budget_gib, double)},
    {.name = "block_size", .flag = "--block-size", .group = "KV pool", .type = knob_type::integer, .min = 8,
     .max = 256, .power_of_two = true, .unit = "tokens", .help = "Tokens per KV block (a power of two)",
     .restarts_pool = true, .vllm_flag = "--block-size", .sglang_flag = "--page-size",
     RL_KNOB_ACCESS(block_size, int)},
    {.name = "prefix_caching", .flag = "--prefix-caching", .group = "KV pool", .type = knob_type::boolean,
     .max = 1, .help = "Reuse KV blocks of identical prompt prefixes (conversations, shared system prompts)",
     .vllm_flag = "--enable-prefix-caching", .sglang_flag = "--disable-radix-cache",
     .llama_server_flag = "--cache-prompt", RL_KNOB_ACCESS(prefix_caching, bool)},
    {.name = "gpu_memory_utilization", .flag = "--gpu-memory-utilization", .group = "KV pool",
     .type = knob_type::real, .min = 0, .max = 0.98, .min_exclusive = true, .decimals = 2, .step = 0.05,
     .unit = "fraction",
     .help = "Share of device memory the process may use; the KV pool gets what the weights leave (auto pool)",
     .restarts_pool = true, .sizes_auto_pool = true, .vllm_flag = "--gpu-memory-utilization", .sglang_flag = "--mem-fraction-static",
     RL_KNOB_ACCESS(gpu_memory_utilization, double)},
    {.name = "max_waiting", .flag = "--max-waiting", .group = "Admission control", .type = knob_type::integer,
     .min = 0, .max = 1 << 20, .unit = "requests",
     .help = "Admission control: longest queue before new requests are rejected", .zero_means = "no queue",
     RL_KNOB_ACCESS(max_waiting, int)},
    {.name = "max_queue_ms", .flag = "--max-queue-ms", .group = "Admission control", .type = knob_type::real,
     .min = 0, .max = 3.6e6, .unit = "ms",
     .help = "Admission control: reject a request that waited longer than this", .zero_means = "off",
     RL_KNOB_ACCESS(max_queue_ms, double)},
};
#undef RL_KNOB_ACCESS

std::string number_text(double v, knob_type t) {
    if (t == knob_type::integer) return std::to_string(static_cast<long long>(v));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string range_text(const knob_info& k) {
    return std::string(k.min_exclusive ? "(" : "[") + number_text(k.min, k.type) + ", " +
           number_text(k.max, k.type) + "]";
}

} // namespace

std::span<const knob_info> serving_knobs() { return k_knobs; }

const knob_info* find_knob(std::string_view name_or_flag) {
    for (const knob_info& k : k_knobs)
        if (k.name == name_or_flag || k.flag == name_or_flag) return &k;
    return nullptr;
}

std::string knob_text(const knob_info& k, const serving_config& c) {
    const double v = k.get(c);
    switch (k.type) {
    case knob_type::boolean: return v != 0 ? "true" : "false";
    case knob_type::choice: return std::string(k.choices[size_t(v)]);
    default: return number_text(v, k.type);
    }
}

std::string knob_default_text(const knob_info& k) { return knob_text(k, serving_config{}); }

std::string knob_range_text(const knob_info& k) {
    if (k.type != knob_type::integer && k.type != knob_type::real) return "";
    return range_text(k);
}

double knob_lowest(const knob_info& k) {
    if (!k.min_exclusive) return k.min;
    return k.min + (k.type == knob_type::real ? std::pow(10.0, -k.decimals) : 1.0);
}

bool knob_is_zero_special(const knob_info& k, const serving_config& c) {
    return !k.zero_means.empty() && k.get(c) == 0;
}

config_error check_knob(const knob_info& k, const serving_config& c) {
    const double v = k.get(c);
    const std::string name(k.name);
    if (k.type == knob_type::boolean || k.type == knob_type::choice) return {};
    const bool below = k.min_exclusive ? !(v > k.min) : !(v >= k.min);
    if (below || !(v <= k.max)) {
        std::string msg = name + " must be in " + range_text(k);
        if (!k.zero_means.empty()) msg += " (0 = " + std::string(k.zero_means) + ")";
        return {name, msg + ", got " + number_text(v, k.type)};
    }
    if (k.power_of_two) {
        const auto i = static_cast<long long>(v);
        if ((i & (i - 1)) != 0)
            return {name, name + " must be a power of two in " + range_text(k) + ", got " + number_text(v, k.type)};
    }
    return {};
}

config_error set_knob_text(const knob_info& k, std::string_view text, serving_config& c) {
    const std::string name(k.name);
    const auto refuse = [&](const std::string& what) {
        return config_error{name, name + ": '" + std::string(text) + "' is not " + what};
    };
    switch (k.type) {
    case knob_type::boolean:
        if (text == "true" || text == "1" || text == "on" || text == "yes") k.set(c, 1);
        else if (text == "false" || text == "0" || text == "off" || text == "no") k.set(c, 0);
        else return refuse("true or false");
        return {};
    case knob_type::choice:
        for (size_t i = 0; i < k.choices.size(); ++i)
            if (k.choices[i] == text) {
                k.set(c, double(i));
                return {};
            }
        {
            std::string words;
            for (size_t i = 0; i < k.choices.size(); ++i) words += (i ? " or " : "") + std::string(k.choices[i]);
            return refuse(words);
        }
    case knob_type::integer:
    case knob_type::real: {
        double v = 0;
        if (k.type == knob_type::integer) {
            long long i = 0;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
            if (ec != std::errc() || end != text.data() + text.size()) return refuse("an integer");
            // Out of range is refused before the value reaches the int field (no narrowing).
            if (i < static_cast<long long>(k.min) || i > static_cast<long long>(k.max))
                return {name, name + " must be in " + range_text(k) + ", got " + std::string(text)};
            v = double(i);
        } else {
            const std::string s(text);
            char* end = nullptr;
            v = std::strtod(s.c_str(), &end);
            if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) return refuse("a number");
            // Kept at the precision the panel shows, so a panel edit elsewhere sends it back unchanged.
            const double scale = std::pow(10.0, k.decimals);
            v = std::round(v * scale) / scale;
        }
        serving_config probe = c;  // a refusal leaves c as it was
        k.set(probe, v);
        if (auto e = check_knob(k, probe)) return e;
        k.set(c, v);
        return {};
    }
    }
    return {};
}

} // namespace rl
