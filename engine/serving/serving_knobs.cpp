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
    [](const serving_config& c) { return double(c.field); },                            \
    [](serving_config& c, double v) { c.field = static_cast<type>(v); }

const knob_info k_knobs[] = {
    {"max_num_seqs", "--max-num-seqs", knob_type::integer, 1, 4096, false, false, "sequences",
     "Most sequences in one step (the batch-size limit)", "", {}, false,
     "--max-num-seqs", "--max-running-requests", "-np", RL_KNOB_ACCESS(max_num_seqs, int)},
    {"max_num_batched_tokens", "--max-num-batched-tokens", knob_type::integer, 1, 262144, false, false, "tokens",
     "Token budget of one step (prefill + decode); at least max_num_seqs", "", {}, false,
     "--max-num-batched-tokens", "--max-prefill-tokens", "-b", RL_KNOB_ACCESS(max_num_batched_tokens, int)},
    {"chunked_prefill", "--chunked-prefill", knob_type::boolean, 0, 1, false, false, "",
     "Split long prompts across steps so decodes keep running", "", {}, false,
     "--enable-chunked-prefill", "--chunked-prefill-size", "", RL_KNOB_ACCESS(chunked_prefill, bool)},
    {"prefix_caching", "--prefix-caching", knob_type::boolean, 0, 1, false, false, "",
     "Reuse KV blocks of identical prompt prefixes (conversations, shared system prompts)", "", {}, false,
     "--enable-prefix-caching", "--disable-radix-cache", "--cache-reuse", RL_KNOB_ACCESS(prefix_caching, bool)},
    {"policy", "--policy", knob_type::choice, 0, 1, false, false, "",
     "fcfs: arrival order; priority: higher priority first (your chat 10, virtual users 0)", "", k_policies,
     false, "--scheduling-policy", "--schedule-policy", "",
     [](const serving_config& c) { return c.policy == schedule_policy::priority ? 1.0 : 0.0; },
     [](serving_config& c, double v) { c.policy = v >= 0.5 ? schedule_policy::priority : schedule_policy::fcfs; }},
    {"preemption", "--preemption", knob_type::choice, 0, 0, false, false, "",
     "Preempted sequences drop their blocks and recompute later (the only mode for now)", "", k_preemptions,
     false, "--preemption-mode", "", "",
     [](const serving_config&) { return 0.0; },
     [](serving_config& c, double) { c.preemption = preemption_mode::recompute; }},
    {"max_waiting", "--max-waiting", knob_type::integer, 0, 1 << 20, false, false, "requests",
     "Admission control: longest queue before new requests are rejected (0 = no queue)", "", {}, false,
     "", "", "", RL_KNOB_ACCESS(max_waiting, int)},
    {"max_queue_ms", "--max-queue-ms", knob_type::real, 0, 3.6e6, false, false, "ms",
     "Admission control: reject a request that waited longer than this", "off", {}, false,
     "", "", "", RL_KNOB_ACCESS(max_queue_ms, double)},
    {"block_size", "--block-size", knob_type::integer, 8, 256, false, true, "tokens",
     "Tokens per KV block (a power of two)", "", {}, true,
     "--block-size", "--page-size", "", RL_KNOB_ACCESS(block_size, int)},
    {"kv_blocks", "--kv-blocks", knob_type::integer, 0, 1 << 22, false, false, "blocks",
     "KV pool size in blocks; auto sizes it from memory", "auto", {}, true,
     "--num-gpu-blocks-override", "--max-total-tokens", "-c", RL_KNOB_ACCESS(kv_blocks, int)},
    {"gpu_memory_utilization", "--gpu-memory-utilization", knob_type::real, 0, 0.98, true, false, "fraction",
     "Share of device memory the process may use; the KV pool gets what the weights leave (auto pool)", "", {},
     true, "--gpu-memory-utilization", "--mem-fraction-static", "", RL_KNOB_ACCESS(gpu_memory_utilization, double)},
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
    case knob_type::integer: {
        long long v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size()) return refuse("an integer");
        if (v < static_cast<long long>(k.min) || v > static_cast<long long>(k.max))
            return {name, name + " must be in " + range_text(k) + ", got " + std::string(text)};
        k.set(c, double(v));
        break;
    }
    case knob_type::real: {
        const std::string s(text);
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) return refuse("a number");
        serving_config probe = c;
        k.set(probe, v);
        if (auto e = check_knob(k, probe)) return e;
        k.set(c, v);
        break;
    }
    }
    return check_knob(k, c);
}

} // namespace rl
