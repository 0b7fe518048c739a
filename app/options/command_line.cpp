// command_line.cpp: the program class (CLI11 set-up, parsing, the wording of usage errors) and the
// helpers for the programs' own options. The engine, knob and sampling options: engine_flags.cpp.
#include "options/command_line.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rl::cmdline {
namespace {

// Column of the descriptions in --help: the longest left side is
// "--gpu-memory-utilization FRACTION" (33 characters and the indent).
constexpr std::size_t k_help_column = 36;

/// CLI11's formatter, less the "{false}" it writes after a negated flag name
/// ("--prefix-caching,--no-prefix-caching{false}"): the --no- name says it already.
class formatter : public CLI::Formatter {
public:
    std::string make_option_name(const CLI::Option* opt, bool positional) const override {
        std::string name = CLI::Formatter::make_option_name(opt, positional);
        for (std::size_t at; (at = name.find("{false}")) != std::string::npos;) name.erase(at, 7);
        return name;
    }
};

bool looks_like_number(const std::string& s) {
    char* end = nullptr;
    std::strtod(s.c_str(), &end);
    return !s.empty() && end == s.c_str() + s.size();
}

/// CLI11's text for a refusal, in our words where CLI11's are unclear.
std::string message_of(const CLI::ParseError& e) {
    std::string what = e.what();
    // ArgumentMismatch: "--port: 1 required N missing" means the option came last, without a value.
    if (e.get_name() == "ArgumentMismatch" && what.size() > 8 && what.ends_with(" missing"))
        return what.substr(0, what.find(':')) + " needs a value";
    return what;
}

} // namespace

program::program(std::string name, std::string description, std::string version)
    : app_(std::make_unique<CLI::App>(std::move(description), name)), version_(name + " " + version) {
    app_->set_version_flag("--version", version_, "Print the version and exit");
    app_->set_help_flag("-h,--help", "Print this help and exit");
    // Unknown arguments are collected instead of thrown, so finish_parse() can report them as
    // "unknown option --foo"; CLI11 would say "The following arguments were not expected".
    app_->allow_extras();
    // The last of a repeated option wins, as it did with the hand-written parsers (scripts append
    // an override to a base command).
    app_->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    auto fmt = std::make_shared<formatter>();
    fmt->column_width(k_help_column);
    app_->formatter(fmt);
}

CLI::App& program::add_command(const std::string& name, const std::string& description) {
    CLI::App* cmd = app_->add_subcommand(name, description);   // inherits extras, formatter, defaults
    cmd->set_help_flag("-h,--help", "Print this help and exit");
    cmd->set_version_flag("--version", version_, "Print the version and exit");
    return *cmd;
}

void program::add_check(CLI::App& scope, std::function<std::string()> check) {
    checks_.emplace_back(&scope, std::move(check));
}

int program::parse(int argc, const char* const* argv) {
    try {
        app_->parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return finish_parse(&e);
    }
    return finish_parse(nullptr);
}

int program::parse(const std::vector<std::string>& args) {
    std::vector<std::string> reversed(args.rbegin(), args.rend());   // CLI11 takes them last first
    try {
        app_->parse(reversed);
    } catch (const CLI::ParseError& e) {
        return finish_parse(&e);
    }
    return finish_parse(nullptr);
}

CLI::App* program::command() const {
    const auto given = app_->get_subcommands();
    return given.empty() ? nullptr : given.front();
}

std::string program::prefix() const {
    const CLI::App* cmd = command();
    return app_->get_name() + (cmd ? " " + cmd->get_name() : "");
}

int program::usage_error(const std::string& message) const {
    *err_ << prefix() << ": " << message << " (try --help)\n" << std::flush;
    return k_exit_usage;
}

int program::finish_parse(const CLI::ParseError* error) {
    if (error && error->get_exit_code() == 0) return app_->exit(*error, *out_, *err_);   // --help, --version
    const auto commands = app_->get_subcommands([](const CLI::App* a) { return !a->get_name().empty(); });
    // Unknown arguments first: a misspelt option often leaves a required one missing too, and the
    // misspelling is what the person needs to hear about.
    if (const auto extras = app_->remaining(true); !extras.empty()) {
        const std::string& first = extras.front();
        if (first.size() > 1 && first[0] == '-' && !looks_like_number(first))
            return usage_error("unknown option " + first.substr(0, first.find('=')));
        if (!commands.empty() && !command()) return usage_error("unknown command '" + first + "'");
        return usage_error("unexpected argument '" + first + "'");
    }
    if (error) return usage_error(message_of(*error));
    if (!commands.empty() && !command()) {   // the usage, then what is missing, on stderr
        *err_ << app_->help();
        std::string names;
        for (std::size_t i = 0; i < commands.size(); ++i)
            names += (i == 0 ? "" : i + 1 == commands.size() ? " or " : ", ") + commands[i]->get_name();
        return usage_error("a command is needed: " + names);
    }
    for (const auto& [scope, check] : checks_) {
        if (scope != app_.get() && !scope->parsed()) continue;
        if (const std::string why = check(); !why.empty()) return usage_error(why);
    }
    return k_go_on;
}

// --- helpers ------------------------------------------------------------------------------------

std::string with_default(const std::string& help, std::string_view default_text) {
    if (default_text.empty()) return help;
    return help + " (default: " + std::string(default_text) + ")";
}

std::string number_text(double v) {
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15)
        return std::to_string(static_cast<long long>(v));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

CLI::Validator in_range(double lo, double hi, bool integral) {
    return CLI::Validator(
        [lo, hi, integral](std::string& text) -> std::string {
            const char* b = text.data();
            const char* e = b + text.size();
            double v = 0;
            if (integral) {
                // Signed first (so "-1" is read and refused by the range); unsigned where nothing
                // below 0 is allowed and the value is past the signed range (a 64-bit seed).
                long long i = 0;
                unsigned long long u = 0;
                if (const auto r = std::from_chars(b, e, i); r.ec == std::errc() && r.ptr == e) v = double(i);
                else if (const auto r2 = std::from_chars(b, e, u); lo >= 0 && r2.ec == std::errc() && r2.ptr == e)
                    v = double(u);
                else return "expects an integer, got '" + text + "'";
            } else {
                char* end = nullptr;
                v = std::strtod(text.c_str(), &end);
                if (text.empty() || end != e || !std::isfinite(v)) return "expects a number, got '" + text + "'";
            }
            if (v >= lo && v <= hi) return {};
            if (std::isinf(hi)) return "must be at least " + number_text(lo) + ", got " + text;
            return "must be in [" + number_text(lo) + ", " + number_text(hi) + "], got " + text;
        },
        "", "");
}

CLI::Option* add_text(CLI::App& app, const std::string& flag, std::string& value, const std::string& help,
                      std::string_view default_text) {
    const std::string shown = default_text.empty() ? value : std::string(default_text);
    return app.add_option(flag, value, with_default(help, shown))->type_name("TEXT");
}

CLI::Option* add_choice(CLI::App& app, const std::string& flag, std::string& value,
                        const std::vector<std::string>& choices, const std::string& help) {
    std::string names, words;
    for (std::size_t i = 0; i < choices.size(); ++i) {
        names += (i ? "|" : "") + choices[i];
        words += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
    }
    const CLI::Validator member(
        [choices, words](std::string& text) -> std::string {
            if (std::find(choices.begin(), choices.end(), text) != choices.end()) return {};
            return "must be " + words + ", got '" + text + "'";
        },
        "", "");
    return app.add_option(flag, value, with_default(help, value))->type_name(names)->check(member);
}

CLI::Option* add_switch(CLI::App& app, const std::string& flag, bool& value, const std::string& help) {
    return app.add_flag(flag, value, help);
}

} // namespace rl::cmdline
