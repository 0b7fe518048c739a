// command_line: the one command-line parser of ridgeline, ridgeline-cli, ridgeline-bench and
// ridgeline-serve, on CLI11. It owns what every program's arguments have in common: -h/--help
// and --version (exit 0), the wording of usage errors ("PROGRAM: unknown option --foo (try
// --help)", exit 2), the engine options (--model, --backend, --threads) defined
// once, every serving knob of the knob table (serving_knobs.h) with its help, unit and default,
// the sampling options, and helpers that give the programs' own options the same shape.
//
//   rl::cmdline::program p("ridgeline-serve", "OpenAI-compatible server", RL_VERSION);
//   rl::cmdline::add_engine_options(p, p.root(), eo);       // --model ... and every knob
//   rl::cmdline::add_number(p.root(), "--port", so.port, "TCP port", 1, 65535);
//   if (int code = p.parse(argc, argv); code != rl::cmdline::k_go_on) return code;
//
// A default shown in --help is the value the bound variable holds when the option is added, so
// each default is written once: in serving_config{}, engine_options{}, sampling_params{} or the
// program's own argument struct. Exercise: tests/test_command_line.cpp.
#pragma once
#include "runtime/engine.h"
#include "serving/sampler.h"
#include "serving/serving_config.h"

#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace rl::cmdline {

inline constexpr int k_exit_usage = 2;  ///< bad arguments (docs/packaging.md's exit codes)
inline constexpr int k_go_on = -1;      ///< parse(): the arguments are good, run the program

/// One program's command line: its root CLI::App, its commands (CLI11 subcommands) and the
/// checks that need several options at once (serving_config's cross-field rules, sampling).
class program {
public:
    program(std::string name, std::string description, std::string version);

    CLI::App& root() { return *app_; }
    /// A command ("generate", "serve"): its own options and its own --help.
    CLI::App& add_command(const std::string& name, const std::string& description);
    /// After a good parse, when `scope` (the root or a command) was used: a non-empty answer is
    /// a usage error printed as "PROGRAM: answer (try --help)".
    void add_check(CLI::App& scope, std::function<std::string()> check);
    /// Text after the options in --help (exit codes, endpoints).
    void set_footer(const std::string& text) { app_->footer(text); }

    /// Parses argv (argv[0] is the program). Prints --help, --version or the usage error and
    /// returns the exit code (0 or 2), or k_go_on when the program should run.
    int parse(int argc, const char* const* argv);
    /// The same for arguments without the program name (tests, the window's filtered list).
    int parse(const std::vector<std::string>& args);
    /// The command that was given; nullptr when none (or the program has no commands).
    CLI::App* command() const;
    /// Prints "PROGRAM[ COMMAND]: message (try --help)" on the error stream; returns 2.
    int usage_error(const std::string& message) const;
    /// Where help, version and errors go (tests capture them); stdout and stderr by default.
    void set_streams(std::ostream& out, std::ostream& err) {
        out_ = &out;
        err_ = &err;
    }

private:
    int finish_parse(const CLI::ParseError* error);
    std::string prefix() const;

    std::unique_ptr<CLI::App> app_;
    std::string version_;   // "ridgeline-serve 0.1.0"
    std::vector<std::pair<CLI::App*, std::function<std::string()>>> checks_;
    std::ostream* out_ = &std::cout;
    std::ostream* err_ = &std::cerr;
};

// --- the engine's options: one definition each ----------------------------------------------

/// -m, --model PATH|synthetic:NAME. `note` replaces the default description (the window's search
/// order, tokenize's "GGUF file").
CLI::Option* add_model_option(CLI::App& app, std::string& path, bool required, const std::string& note = {});
/// --backend auto|cpu|cuda; the default shown is `backend`'s value.
CLI::Option* add_backend_option(CLI::App& app, std::string& backend);
/// --weights native|bf16|f32: how the backend keeps a model's weights (backend.h weight_storage).
CLI::Option* add_weights_option(CLI::App& app, weight_storage& ws);
/// --threads N, CPU backend threads (0 = all cores).
CLI::Option* add_threads_option(CLI::App& app, int& threads);
/// Every knob of serving_knobs(): its flag, "help (0 = auto) (default: X)" with the unit as the
/// value's name and X the value `cfg` holds now (serving_config{}'s unless the program chose);
/// booleans also take --no-FLAG. A value outside the knob's range is refused with
/// set_knob_text's message, which names the knob; validate() runs on the whole after parsing.
void add_serving_options(program& p, CLI::App& app, serving_config& cfg);
/// --model (required), --backend, --threads and every serving knob (--max-context is
/// max_model_len's second name) into `eo`.
void add_engine_options(program& p, CLI::App& app, engine_options& eo);

/// The sampling options add_sampling_options adds (a bit set).
enum sampling_option : unsigned {
    sampling_temperature = 1, sampling_top_p = 2, sampling_top_k = 4, sampling_min_p = 8,
    sampling_repeat_penalty = 16, sampling_seed = 32, sampling_all = 63
};
/// --temperature, --top-p, --top-k, --min-p, --repeat-penalty, --seed (those in `which`) into
/// `s`; rl::validate(sampling_params) runs after parsing.
void add_sampling_options(program& p, CLI::App& app, sampling_params& s, unsigned which = sampling_all);

// --- helpers for the programs' own options ---------------------------------------------------

/// "help (default: text)"; `help` alone when `default_text` is empty.
std::string with_default(const std::string& help, std::string_view default_text);
/// A validator that refuses values outside [lo, hi] ("must be in [1, 65535], got 0"); integral
/// targets also refuse non-integers.
CLI::Validator in_range(double lo, double hi, bool integral);
/// The value as --help shows it: "30", "0.5".
std::string number_text(double v);

/// --flag N (integers) or --flag X (reals) in [lo, hi]. The default shown is `value`'s, or
/// `default_text` when given ("2 * max-num-seqs + 4").
template <typename T>
CLI::Option* add_number(CLI::App& app, const std::string& flag, T& value, const std::string& help, double lo,
                        double hi, std::string_view default_text = {}) {
    static_assert(std::is_arithmetic_v<T>);
    const std::string shown = default_text.empty() ? number_text(double(value)) : std::string(default_text);
    return app.add_option(flag, value, with_default(help, shown))
        ->type_name(std::is_integral_v<T> ? "N" : "X")
        ->check(in_range(lo, hi, std::is_integral_v<T>));
}
/// --flag TEXT; the default shown is `default_text`, else `value` when not empty.
CLI::Option* add_text(CLI::App& app, const std::string& flag, std::string& value, const std::string& help,
                      std::string_view default_text = {});
/// --flag one of `choices` (shown as "a|b|c"); the default shown is `value`.
CLI::Option* add_choice(CLI::App& app, const std::string& flag, std::string& value,
                        const std::vector<std::string>& choices, const std::string& help);
/// --flag with no value: sets `value` to true.
CLI::Option* add_switch(CLI::App& app, const std::string& flag, bool& value, const std::string& help);

} // namespace rl::cmdline
