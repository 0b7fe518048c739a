// export_commands.cpp: see export_commands.h. Flag names follow each engine's own documentation
// (vLLM engine arguments, SGLang server arguments, llama-server --help); a note is written only
// where the other engine means something different, so the comments read as a list of caveats.
#include "interop/export_commands.h"

#include <cstdio>

namespace rl {

namespace {

std::string num(int v) { return std::to_string(v); }

std::string fraction(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool is_priority(const serving_config& c) { return c.policy == schedule_policy::priority; }

// Notes every engine shares: a synthetic model cannot travel, admission control has no flag.
void common_notes(exported_command& out, const export_input& in) {
    if (in.model_path.rfind("synthetic:", 0) == 0)
        out.notes.push_back("the model is Ridgeline's synthetic " + in.model_path.substr(10) +
                            ", which no other engine can load: put a real checkpoint in its place");
    if (in.config.max_queue_ms > 0 || in.config.max_waiting > 0)
        out.notes.push_back("admission control (max_waiting " + num(in.config.max_waiting) + ", max_queue_ms " +
                            fraction(in.config.max_queue_ms) + ") is not carried over: no flag is set for it");
}

exported_command vllm(const export_input& in) {
    const serving_config& c = in.config;
    exported_command out;
    out.title = "vLLM";
    out.program = {"vllm", "serve", in.model_path};
    common_notes(out, in);
    if (ends_with(in.model_path, ".gguf"))
        out.notes.push_back("vLLM's GGUF loading is experimental: add --tokenizer with the original Hugging Face "
                            "repository of this model");
    out.notes.push_back("preemption: ours recomputes a preempted sequence's KV, as vLLM does by default, so no "
                        "--preemption-mode is given");
    if (!in.model_name.empty()) out.flags.push_back({"--served-model-name", in.model_name, ""});
    if (in.max_model_len > 0) out.flags.push_back({"--max-model-len", num(in.max_model_len), ""});
    out.flags.push_back({"--max-num-seqs", num(c.max_num_seqs), ""});
    std::string budget_note;
    if (!c.chunked_prefill && in.max_model_len > c.max_num_batched_tokens)
        budget_note = "without chunked prefill vLLM refuses a budget below --max-model-len (" +
                      num(in.max_model_len) + "); ours leaves longer prompts waiting";
    out.flags.push_back({"--max-num-batched-tokens", num(c.max_num_batched_tokens), budget_note});
    out.flags.push_back({c.chunked_prefill ? "--enable-chunked-prefill" : "--no-enable-chunked-prefill", "", ""});
    out.flags.push_back({"--gpu-memory-utilization", fraction(c.gpu_memory_utilization), ""});
    if (c.kv_blocks > 0)
        out.flags.push_back({"--num-gpu-blocks-override", num(c.kv_blocks),
                             "ours is a fixed pool of " + num(c.kv_blocks) +
                                 " blocks; vLLM still profiles memory, then uses this count"});
    // vLLM's CUDA attention backends take 8, 16 or 32 (some pick their own); carry the nearest.
    const int bs = c.block_size < 8 ? 8 : c.block_size > 32 ? 32 : c.block_size;
    out.flags.push_back({"--block-size", num(bs),
                         bs == c.block_size
                             ? "vLLM on CUDA accepts only 8, 16 or 32 here (some attention backends choose their own)"
                             : "ours is " + num(c.block_size) + "; vLLM on CUDA accepts only 8, 16 or 32, so " +
                                   num(bs) + " (fewer tokens per cached prefix block)"});
    out.flags.push_back({c.prefix_caching ? "--enable-prefix-caching" : "--no-enable-prefix-caching", "", ""});
    if (is_priority(c))
        out.flags.push_back({"--scheduling-policy", "priority",
                             "vLLM runs the LOWEST priority value first, ours the highest: send priority = -(ours), "
                             "so the window's 10 becomes -10; ties run in arrival order in both"});
    else
        out.flags.push_back({"--scheduling-policy", "fcfs", ""});
    return out;
}

exported_command sglang(const export_input& in) {
    const serving_config& c = in.config;
    exported_command out;
    out.title = "SGLang";
    out.program = {"python3", "-m", "sglang.launch_server"};
    common_notes(out, in);
    out.notes.push_back(
        "preemption: when KV runs out SGLang retracts running requests and recomputes them later, as ours does");
    out.flags.push_back({"--model-path", in.model_path,
                         ends_with(in.model_path, ".gguf")
                             ? "SGLang reads GGUF through its gguf load format; give --tokenizer-path with the "
                               "original Hugging Face repository if the embedded tokenizer is refused"
                             : ""});
    if (!in.model_name.empty()) out.flags.push_back({"--served-model-name", in.model_name, ""});
    if (in.max_model_len > 0) out.flags.push_back({"--context-length", num(in.max_model_len), ""});
    out.flags.push_back({"--max-running-requests", num(c.max_num_seqs), ""});
    if (c.chunked_prefill) {
        out.flags.push_back({"--chunked-prefill-size", num(c.max_num_batched_tokens),
                             "SGLang caps each prefill chunk at this many prompt tokens; ours is one budget for "
                             "the decode and prefill tokens of a step together"});
        out.flags.push_back({"--enable-mixed-chunk", "",
                             "puts decodes into the prefill batch as our steps do; without it SGLang alternates "
                             "prefill and decode batches"});
    } else {
        out.flags.push_back({"--chunked-prefill-size", "-1", "-1 turns chunked prefill off"});
    }
    out.flags.push_back({"--max-prefill-tokens", num(c.max_num_batched_tokens),
                         "counts prompt tokens of one prefill batch only (decodes are not in it)"});
    out.flags.push_back({"--mem-fraction-static", fraction(c.gpu_memory_utilization),
                         "SGLang's fraction covers weights plus the KV pool, reserved at start; ours (as vLLM's) "
                         "is all the memory the process may use, the pool getting what the weights leave"});
    if (c.kv_blocks > 0)
        out.flags.push_back({"--max-total-tokens", num(c.kv_blocks * c.block_size),
                             "SGLang sizes the pool in tokens: our " + num(c.kv_blocks) + " blocks x " +
                                 num(c.block_size) + " tokens"});
    if (c.prefix_caching)
        out.notes.push_back("block_size " + num(c.block_size) +
                            " has no counterpart: SGLang's radix cache matches prefixes token by token (page size "
                            "1 by default), ours reuses whole blocks only");
    else
        out.flags.push_back({"--disable-radix-cache", "", ""});
    if (is_priority(c)) {
        out.flags.push_back({"--schedule-policy", "fcfs", ""});
        out.flags.push_back({"--enable-priority-scheduling", "",
                             "higher priority values run first, as ours (--schedule-low-priority-values-first "
                             "flips it), ties in arrival order; a request states it in its \"priority\" field"});
    } else {
        out.flags.push_back({"--schedule-policy", "fcfs",
                             c.prefix_caching ? "SGLang's default is lpm (longest cached prefix first), which "
                                                "raises hit rates; ours serves in arrival order, as fcfs"
                                              : ""});
    }
    return out;
}

exported_command llama_server(const export_input& in) {
    const serving_config& c = in.config;
    exported_command out;
    out.title = "llama-server";
    out.program = {"llama-server"};
    common_notes(out, in);
    out.notes.push_back("preemption: never; a slot keeps its sequence until it ends, and a request waits for a "
                        "free slot");
    out.notes.push_back("chunked prefill has no switch: prompts are always fed in -b sized pieces between the "
                        "other slots' decodes");
    if (is_priority(c))
        out.notes.push_back("no priority scheduling: requests take free slots in arrival order (ours: priority, "
                            "higher first)");
    out.notes.push_back("gpu_memory_utilization " + fraction(c.gpu_memory_utilization) +
                        " has no counterpart: the KV cache is exactly -c tokens; put layers on the GPU with -ngl");
    if (c.kv_blocks > 0)
        out.notes.push_back("our fixed pool of " + num(c.kv_blocks) + " blocks (" + num(c.kv_blocks * c.block_size) +
                            " tokens) has no counterpart: -c sets the cache size");
    out.flags.push_back({"-m", in.model_path, ""});
    if (!in.model_name.empty()) out.flags.push_back({"-a", in.model_name, ""});
    out.flags.push_back({"-np", num(c.max_num_seqs),
                         "one fixed slot per sequence with its own share of the KV cache; ours shares one paged "
                         "pool among all sequences"});
    if (in.max_model_len > 0)
        out.flags.push_back({"-c", num(in.max_model_len * c.max_num_seqs),
                             "the TOTAL context, split evenly over the -np slots: " + num(in.max_model_len) +
                                 " tokens x " + num(c.max_num_seqs) + " slots"});
    else
        out.notes.push_back("no -c: llama-server then takes the model's trained context and splits it over the slots");
    out.flags.push_back({"-b", num(c.max_num_batched_tokens),
                         "logical batch: the most tokens one decode call takes, as our step budget"});
    out.flags.push_back({"-ub", num(c.max_num_batched_tokens),
                         "physical micro-batch; llama.cpp's default 512 splits bigger batches, ours runs a step as "
                         "one batch"});
    if (c.prefix_caching)
        out.flags.push_back({"--cache-reuse", num(c.block_size),
                             "llama-server reuses the slot's own previous prompt (cache_prompt) and, with this, "
                             "shifts matching chunks of at least " + num(c.block_size) + " tokens; no cache is shared across slots"});
    else
        out.flags.push_back({"--no-cache-prompt", "", "turns off reuse of a slot's previous prompt"});
    return out;
}

} // namespace

const char* to_string(export_target t) {
    switch (t) {
    case export_target::vllm: return "vllm";
    case export_target::sglang: return "sglang";
    case export_target::llama_server: return "llama-server";
    }
    return "?";
}

std::string shell_quote(const std::string& word) {
    if (word.empty()) return "''";
    bool safe = true;
    for (unsigned char ch : word) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                        std::string("_@%+=:,./-").find(char(ch)) != std::string::npos;
        if (!ok) safe = false;
    }
    if (safe) return word;
    std::string out = "'";
    for (char ch : word) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return out + "'";
}

std::string exported_command::value_of(const std::string& name) const {
    for (const auto& f : flags)
        if (f.name == name) return f.value;
    return "";
}

bool exported_command::has(const std::string& name) const {
    for (const auto& f : flags)
        if (f.name == name) return true;
    return false;
}

std::vector<std::string> exported_command::argv() const {
    std::vector<std::string> out = program;
    for (const auto& f : flags) {
        out.push_back(f.name);
        if (!f.value.empty()) out.push_back(f.value);
    }
    return out;
}

std::string exported_command::text() const {
    std::string s = "# " + title + ", with the serving settings exported from Ridgeline.\n";
    for (const auto& n : notes) s += "# " + n + "\n";
    for (const auto& f : flags)
        if (!f.note.empty()) s += "# " + f.name + ": " + f.note + "\n";
    for (size_t i = 0; i < program.size(); ++i) s += (i ? " " : "") + shell_quote(program[i]);
    for (const auto& f : flags) {
        s += " \\\n  " + f.name;
        if (!f.value.empty()) s += " " + shell_quote(f.value);
    }
    return s + "\n";
}

exported_command export_command(export_target target, const export_input& in) {
    switch (target) {
    case export_target::vllm: return vllm(in);
    case export_target::sglang: return sglang(in);
    case export_target::llama_server: return llama_server(in);
    }
    return {};
}

std::string export_script(export_target target, const export_input& in) {
    const exported_command cmd = export_command(target, in);
    std::string text = cmd.text();
    // exec: the server replaces the shell, so signals reach it directly.
    const std::string first = shell_quote(cmd.program.front());
    const size_t at = text.find("\n" + first) + 1;
    text.insert(at, "exec ");
    return "#!/bin/sh\n" + text;
}

} // namespace rl
