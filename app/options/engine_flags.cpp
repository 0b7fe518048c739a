// engine_flags.cpp: the options every program that runs an engine shares, defined once: the
// engine's (--model, --backend, --threads), every serving knob from the knob table
// and the sampling options.
#include "options/command_line.h"

#include "model/synthetic.h"
#include "serving/serving_knobs.h"

#include <cctype>
#include <limits>

namespace rl::cmdline {
namespace {

constexpr const char* k_engine_group = "Engine";
constexpr const char* k_knob_group = "Serving knobs";
constexpr const char* k_sampling_group = "Sampling";
constexpr double k_unbounded = std::numeric_limits<double>::infinity();

/// The value's name in --help: the knob's unit ("--max-queue-ms MS"), its words for a choice
/// ("--policy fcfs|priority"), else N or X.
std::string value_name(const knob_info& k) {
    if (k.type == knob_type::choice) {
        std::string words;
        for (std::size_t i = 0; i < k.choices.size(); ++i) words += (i ? "|" : "") + std::string(k.choices[i]);
        return words;
    }
    if (!k.unit.empty()) {
        std::string unit(k.unit);
        for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
        return unit;
    }
    return k.type == knob_type::integer ? "N" : "X";
}

/// "help (0 = auto) (default: 16)": the table's help, what 0 means, and the value `cfg` holds: for
/// most programs serving_config{}'s (knob_default_text), for ridgeline-cli its own 4 sequences.
std::string knob_description(const knob_info& k, const serving_config& cfg) {
    std::string help(k.help), shown = knob_text(k, cfg);
    if (!k.zero_means.empty()) {
        if (shown == "0") shown += " = " + std::string(k.zero_means);
        else help += " (0 = " + std::string(k.zero_means) + ")";
    }
    if (const std::string range = knob_range_text(k); !range.empty())
        help += " (range " + range + (k.power_of_two ? ", a power of two)" : ")");
    return with_default(help, shown);
}

} // namespace

CLI::Option* add_model_option(CLI::App& app, std::string& path, bool required, const std::string& note) {
    std::string help = note;
    if (help.empty()) {
        std::string names;
        for (const std::string& n : synthetic_names()) names += (names.empty() ? "" : ", ") + n;
        help = "GGUF model file, or synthetic:NAME (random weights of a known shape: " + names + ")";
    }
    CLI::Option* o = app.add_option("-m,--model", path, help)->type_name("PATH")->group(k_engine_group);
    if (required) o->required();
    return o;
}

CLI::Option* add_backend_option(CLI::App& app, std::string& backend) {
    return add_choice(app, "--backend", backend, {"auto", "cpu", "cuda"},
                      "auto: cuda when this build has it and a GPU is usable, else cpu")
        ->group(k_engine_group);
}

CLI::Option* add_weights_option(CLI::App& app, weight_storage& ws) {
    return app
        .add_option_function<std::string>(
            "--weights",
            [&ws](const std::string& text) {
                if (!parse_weight_storage(text, ws)) throw CLI::ValidationError("--weights", "takes auto, native, bf16 or f32");
            },
            with_default("How weights are kept: native keeps a GGUF file's quantized blocks (GPU and CPU); bf16 "
                         "(CUDA) and f32 (CPU, the reference) expand every weight at load; auto keeps the blocks on "
                         "the CPU, and on the GPU expands when that fits in 3/4 of free memory",
                         weight_storage_name(ws)))
        ->type_name("auto|native|bf16|f32")
        ->check(CLI::IsMember({"auto", "native", "bf16", "f32"}))
        ->group(k_engine_group);
}

CLI::Option* add_threads_option(CLI::App& app, int& threads) {
    return add_number(app, "--threads", threads, "CPU backend threads (0 = all cores)", 0, 4096)->group(k_engine_group);
}

void add_serving_options(program& p, CLI::App& app, serving_config& cfg) {
    for (const knob_info& k : serving_knobs()) {
        const std::string flag(k.flag), description = knob_description(k, cfg);
        // The text is checked on a scratch config so a refusal is set_knob_text's own message
        // (it names the knob and its range); each() then stores it, the last given winning.
        const CLI::Validator check(
            [&k](std::string& text) {
                serving_config scratch;
                const config_error e = set_knob_text(k, text, scratch);
                return e ? e.message : std::string();
            },
            "", "");
        const auto store = [&k, &cfg](const std::string& text) { set_knob_text(k, text, cfg); };
        // --max-context, the name this option had before it became the max_model_len knob, stays
        // as a second name so the command lines in scripts and notes keep working.
        const std::string names = k.name == "max_model_len" ? flag + ",--max-context" : flag;
        CLI::Option* o = k.type == knob_type::boolean
                             ? app.add_flag(flag + ",!--no-" + flag.substr(2), description)
                             : app.add_option(names, description)->type_name(value_name(k));
        o->check(check)->each(store)->group(k_knob_group);
    }
    // The rules between knobs (max_num_batched_tokens >= max_num_seqs, ...), worded with the flag.
    p.add_check(app, [&cfg]() -> std::string {
        const config_error e = validate(cfg);
        if (!e) return {};
        const knob_info* k = find_knob(e.field);
        return (k ? std::string(k->flag) + ": " : std::string()) + e.message;
    });
}

void add_engine_options(program& p, CLI::App& app, engine_options& eo) {
    add_model_option(app, eo.model_path, true);
    add_backend_option(app, eo.backend);
    add_weights_option(app, eo.weights);
    add_threads_option(app, eo.threads);
    add_serving_options(p, app, eo.serving);
}

void add_sampling_options(program& p, CLI::App& app, sampling_params& s, unsigned which) {
    // Ranges are rl::validate's (the sampler's own rule), checked once all are parsed; each
    // option only insists on a number.
    const double any = k_unbounded;
    if (which & sampling_temperature)
        add_number(app, "--temperature", s.temperature, "Sampling temperature (0 = greedy)", -any, any)
            ->group(k_sampling_group);
    if (which & sampling_top_p)
        add_number(app, "--top-p", s.top_p, "Nucleus sampling: the smallest set of tokens with this mass (1 = off)",
                   -any, any)
            ->group(k_sampling_group);
    if (which & sampling_top_k)
        add_number(app, "--top-k", s.top_k, "Sample among the K likeliest tokens (0 = off)", -any, any)
            ->group(k_sampling_group);
    if (which & sampling_min_p)
        add_number(app, "--min-p", s.min_p, "Drop tokens below this fraction of the likeliest (0 = off)", -any, any)
            ->group(k_sampling_group);
    if (which & sampling_repeat_penalty)
        add_number(app, "--repeat-penalty", s.repetition_penalty,
                   "Penalty on the logits of the last " + number_text(s.repetition_window) + " tokens (1 = off)",
                   -any, any)
            ->group(k_sampling_group);
    if (which & sampling_seed)
        add_number(app, "--seed", s.seed, "Random seed of the sampler", 0, any)->group(k_sampling_group);
    p.add_check(app, [&s] { return validate(s); });
}

} // namespace rl::cmdline
