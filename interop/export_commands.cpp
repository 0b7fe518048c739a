// export_commands.cpp: see export_commands.h. The flag a knob maps to in each engine comes from
// the knob table (serving_knobs.h: vllm_flag, sglang_flag, llama_server_flag, named after each
// engine's own documentation); only flags that are no knob of ours (--served-model-name, -ub, ...)
// are spelled here. A note is written only where the other engine means something different, so
// the comments read as a list of caveats.
#include "interop/export_commands.h"

#include "serving/serving_knobs.h"

#include <algorithm>
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

// The flag `target` uses for one of our knobs, from the knob table.
std::string flag(export_target target, std::string_view knob) {
    const knob_info* k = find_knob(knob);
    if (!k) return "";
    switch (target) {
    case export_target::vllm: return std::string(k->vllm_flag);
    case export_target::sglang: return std::string(k->sglang_flag);
    case export_target::llama_server: return std::string(k->llama_server_flag);
    }
    return "";
}

// A boolean knob as a switch pair: the table's flag when on, its "--no-" form when off
// (vLLM's --enable-x / --no-enable-x).
std::string switch_flag(export_target target, std::string_view knob, bool on) {
    const std::string f = flag(target, knob);
    if (f.rfind("--", 0) != 0) return on ? f : "";  // no such flag, or a short one without a --no- form
    return on ? f : "--no-" + f.substr(2);
}

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
    constexpr export_target t = export_target::vllm;
    out.title = "vLLM";
    out.program = {"vllm", "serve", in.model_path};
    common_notes(out, in);
    if (ends_with(in.model_path, ".gguf"))
        out.notes.push_back("vLLM's GGUF loading is experimental: add --tokenizer with the original Hugging Face "
                            "repository of this model");
    if (!in.model_name.empty()) out.flags.push_back({"--served-model-name", in.model_name, ""});
    if (in.max_model_len > 0) out.flags.push_back({"--max-model-len", num(in.max_model_len), ""});
    out.flags.push_back({flag(t, "max_num_seqs"), num(c.max_num_seqs), ""});
    std::string budget_note;
    if (!c.chunked_prefill && in.max_model_len > c.max_num_batched_tokens)
        budget_note = "without chunked prefill vLLM refuses a budget below --max-model-len (" +
                      num(in.max_model_len) + "); ours leaves longer prompts waiting";
    out.flags.push_back({flag(t, "max_num_batched_tokens"), num(c.max_num_batched_tokens), budget_note});
    out.flags.push_back({switch_flag(t, "chunked_prefill", c.chunked_prefill), "", ""});
    out.flags.push_back({flag(t, "gpu_memory_utilization"), fraction(c.gpu_memory_utilization), ""});
    if (!knob_is_zero_special(*find_knob("kv_blocks"), c))   // auto: vLLM sizes its own pool too
        out.flags.push_back({flag(t, "kv_blocks"), num(c.kv_blocks),
                             "ours is a fixed pool of " + num(c.kv_blocks) +
                                 " blocks; vLLM still profiles memory, then uses this count"});
    // vLLM's CUDA attention backends take 8, 16 or 32 (some pick their own); carry the nearest.
    const int bs = c.block_size < 8 ? 8 : c.block_size > 32 ? 32 : c.block_size;
    out.flags.push_back({flag(t, "block_size"), num(bs),
                         bs == c.block_size
                             ? "vLLM on CUDA accepts only 8, 16 or 32 here (some attention backends choose their own)"
                             : "ours is " + num(c.block_size) + "; vLLM on CUDA accepts only 8, 16 or 32, so " +
                                   num(bs) + " (fewer tokens per cached prefix block)"});
    out.flags.push_back({switch_flag(t, "prefix_caching", c.prefix_caching), "", ""});
    const std::string policy = knob_text(*find_knob("policy"), c);   // vLLM's words are ours
    out.flags.push_back({flag(t, "policy"), policy,
                         is_priority(c) ? "vLLM runs the LOWEST priority value first, ours the highest: send "
                                          "priority = -(ours), so the window's 10 becomes -10; ties run in "
                                          "arrival order in both"
                                        : ""});
    return out;
}

exported_command sglang(const export_input& in) {
    const serving_config& c = in.config;
    exported_command out;
    constexpr export_target t = export_target::sglang;
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
    out.flags.push_back({flag(t, "max_num_seqs"), num(c.max_num_seqs), ""});
    // chunked_prefill is a chunk size in SGLang: our step budget when on, -1 when off.
    if (c.chunked_prefill) {
        out.flags.push_back({flag(t, "chunked_prefill"), num(c.max_num_batched_tokens),
                             "SGLang caps each prefill chunk at this many prompt tokens; ours is one budget for "
                             "the decode and prefill tokens of a step together"});
        out.flags.push_back({"--enable-mixed-chunk", "",
                             "puts decodes into the prefill batch as our steps do; without it SGLang alternates "
                             "prefill and decode batches"});
    } else {
        out.flags.push_back({flag(t, "chunked_prefill"), "-1", "-1 turns chunked prefill off"});
    }
    std::string prefill_note = "counts prompt tokens of one prefill batch only (decodes are not in it)";
    // server_args.py: "The real bound will be the maximum of this value and the model's maximum
    // context length", so a budget under the context never holds a long prompt back.
    prefill_note += in.max_model_len > c.max_num_batched_tokens
                        ? "; SGLang's real bound is the larger of this and the context length, here " +
                              num(in.max_model_len) + ", so " + num(c.max_num_batched_tokens) + " does not limit it"
                        : "; SGLang's real bound is the larger of this and the context length";
    out.flags.push_back({flag(t, "max_num_batched_tokens"), num(c.max_num_batched_tokens), prefill_note});
    out.flags.push_back({flag(t, "gpu_memory_utilization"), fraction(c.gpu_memory_utilization),
                         "SGLang's fraction covers weights plus the KV pool, reserved at start; ours (as vLLM's) "
                         "is all the memory the process may use, the pool getting what the weights leave"});
    // SGLang sizes the pool in tokens: blocks x block size.
    if (!knob_is_zero_special(*find_knob("kv_blocks"), c))
        out.flags.push_back({flag(t, "kv_blocks"), num(c.kv_blocks * c.block_size),
                             "SGLang sizes the pool in tokens: our " + num(c.kv_blocks) + " blocks x " +
                                 num(c.block_size) + " tokens"});
    if (c.prefix_caching)
        out.notes.push_back("block_size " + num(c.block_size) +
                            " has no counterpart: SGLang's radix cache matches prefixes token by token (page size "
                            "1 by default), ours reuses whole blocks only");
    else
        out.flags.push_back({flag(t, "prefix_caching"), "", ""});   // a switch that turns it off
    // SGLang's policy words differ (fcfs, its default, lpm, ...); priority is a separate switch
    // over fcfs.
    out.flags.push_back({flag(t, "policy"), "fcfs", ""});
    if (is_priority(c))
        out.flags.push_back({"--enable-priority-scheduling", "",
                             "higher priority values run first, as ours (--schedule-low-priority-values-first "
                             "flips it), ties in arrival order; a request states it in its \"priority\" field"});
    // SGLang serves /metrics only when asked; Ridgeline's remote mode reads it.
    out.flags.push_back({"--enable-metrics", "", ""});
    return out;
}

exported_command llama_server(const export_input& in) {
    const serving_config& c = in.config;
    exported_command out;
    constexpr export_target t = export_target::llama_server;
    const std::string slots = flag(t, "max_num_seqs"), batch = flag(t, "max_num_batched_tokens");
    const std::string cache = flag(t, "kv_blocks");   // -c: llama-server's KV cache size in tokens
    out.title = "llama-server";
    out.program = {"llama-server"};
    common_notes(out, in);
    out.notes.push_back("preemption: never; a slot keeps its sequence until it ends, and a request waits for a "
                        "free slot");
    out.notes.push_back("chunked prefill has no switch: prompts are always fed in " + batch +
                        " sized pieces between the other slots' decodes");
    if (is_priority(c))
        out.notes.push_back("no priority scheduling: requests take free slots in arrival order (ours: priority, "
                            "higher first)");
    out.notes.push_back("gpu_memory_utilization " + fraction(c.gpu_memory_utilization) +
                        " has no counterpart: the KV cache is exactly " + cache +
                        " tokens; put layers on the GPU with -ngl");
    out.flags.push_back({"-m", in.model_path, ""});
    if (!in.model_name.empty()) out.flags.push_back({"-a", in.model_name, ""});
    out.flags.push_back({slots, num(c.max_num_seqs),
                         "one fixed slot per sequence with its own share of the KV cache; ours shares one paged "
                         "pool among all sequences"});
    // -c is the whole cache in tokens: our pool, blocks x block size. Without --kv-unified the
    // server divides it evenly over the slots (llama_n_ctx_seq = n_ctx / n_seq_max).
    const int pool = !knob_is_zero_special(*find_knob("kv_blocks"), c) ? c.kv_blocks * c.block_size
                                                                       : in.kv_pool_tokens;
    if (pool > 0) {
        const int per_slot = pool / std::max(1, c.max_num_seqs);
        std::string note = "our KV pool, " + num(pool / c.block_size) + " blocks x " + num(c.block_size) +
                           " tokens; llama-server divides it evenly over the " + num(c.max_num_seqs) + " " + slots +
                           " slots, " + num(per_slot) + " tokens each (prompt + output), where ours lets one "
                           "sequence use the whole pool";
        if (in.max_model_len > per_slot) note += " up to its context of " + num(in.max_model_len);
        note += "; --kv-unified shares it as ours does";
        out.flags.push_back({cache, num(pool), note});
    } else if (in.max_model_len > 0) {
        out.flags.push_back({cache, num(in.max_model_len * c.max_num_seqs),
                             "no model is loaded, so our pool's size is unknown: the TOTAL context, split evenly "
                             "over the " + slots + " slots: " + num(in.max_model_len) + " tokens x " +
                                 num(c.max_num_seqs) + " slots"});
    } else {
        out.notes.push_back("no " + cache +
                            ": llama-server then takes the model's trained context and splits it over the slots");
    }
    out.flags.push_back({batch, num(c.max_num_batched_tokens),
                         "logical batch: the most tokens one decode call takes, as our step budget"});
    out.flags.push_back({"-ub", num(c.max_num_batched_tokens),
                         "physical micro-batch; llama.cpp's default 512 splits bigger batches, ours runs a step as "
                         "one batch"});
    if (in.cpu_threads > 0) out.flags.push_back({"-t", num(in.cpu_threads), ""});
    // llama-server's prompt cache is on by default and exact; --cache-reuse (reusing chunks of an
    // older prompt by shifting their KV) is an approximation of a different thing and stays off.
    out.flags.push_back({switch_flag(t, "prefix_caching", c.prefix_caching), "",
                         c.prefix_caching
                             ? "on by default: a slot reuses the longest common prefix of the prompt it last "
                               "held, exactly; no cache is shared across slots, unlike our shared blocks "
                               "(--cache-reuse, approximate KV shifting, is left off)"
                             : "turns off reuse of a slot's previous prompt"});
    // /metrics is off unless asked for; Ridgeline's remote mode reads it.
    out.flags.push_back({"--metrics", "", ""});
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
    // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string here.
    for (size_t i = 0; i < program.size(); ++i) {
        if (i) s += ' ';
        s += shell_quote(program[i]);
    }
    for (const auto& f : flags) {
        s += " \\\n  ";
        s += f.name;
        if (!f.value.empty()) {
            s += ' ';
            s += shell_quote(f.value);
        }
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
