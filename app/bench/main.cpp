// ridgeline-bench: headless benchmarks.
//   ridgeline-bench decode|prefill --model PATH [--backend cpu|cuda] [--threads N] [--batch 1,8,64]
//                                  [--context N] [--steps N] [--logits device|host] [--json FILE]
//   ridgeline-bench serve --model PATH [--scenario NAME] [--users N] [--duration S] [...]
//                         [--max-context N] [every serving knob] [--json FILE] [--csv FILE]
// The options come from app/options (one parser for every program); `ridgeline-bench COMMAND
// --help` lists every option of a command with its default.
#include "bench_common.h"

#include "common/engine_error.h"
#include "options/command_line.h"
#include "runtime/backend_factory.h"
#include "serving/serving_knobs.h"

#include <charconv>
#include <optional>
#include <cstdio>

namespace {

constexpr const char* k_footer = "Exit codes: 0 ok, 1 runtime failure, 2 bad arguments or model";

/// "1,8,64" as batch sizes; "" when the text is not a list of positive integers.
std::vector<int> batch_list(const std::string& text) {
    std::vector<int> out;
    for (std::size_t at = 0; at <= text.size();) {
        const std::size_t comma = std::min(text.find(',', at), text.size());
        int v = 0;
        const auto r = std::from_chars(text.data() + at, text.data() + comma, v);
        if (r.ec != std::errc() || r.ptr != text.data() + comma || v < 1) return {};
        out.push_back(v);
        at = comma + 1;
    }
    return out;
}

void add_kernel_command(rl::cmdline::program& p, kernel_bench_args& a, const std::string& batches) {
    CLI::App& cmd = p.add_command(a.decode ? "decode" : "prefill",
                                  a.decode ? "Time decode steps of B sequences holding --context tokens each"
                                           : "Time the prefill of B sequences of --context tokens");
    a.batches = batch_list(batches);
    rl::cmdline::add_model_option(cmd, a.engine.model_path, true);
    rl::cmdline::add_backend_option(cmd, a.engine.backend);
    rl::cmdline::add_weights_option(cmd, a.engine.weights);
    rl::cmdline::add_threads_option(cmd, a.engine.threads);
    cmd.add_option_function<std::string>(
           "--batch", [&a](const std::string& text) { a.batches = batch_list(text); },
           rl::cmdline::with_default("Batch sizes, comma-separated", batches))
        ->type_name("B,B,...")
        ->check(CLI::Validator(
            [](std::string& text) {
                return batch_list(text).empty() ? "expects positive integers separated by commas, got '" + text + "'"
                                                : std::string();
            },
            "", ""));
    rl::cmdline::add_number(cmd, "--context", a.context, "Tokens per sequence", 1, 1 << 20);
    rl::cmdline::add_number(cmd, "--steps", a.steps, "Timed steps", 1, 1 << 20);
    rl::cmdline::add_choice(cmd, "--logits", a.logits, {"device", "host"},
                            "device: the greedy token is chosen on the backend; host: download all logits rows");
    rl::cmdline::add_text(cmd, "--json", a.json, "Write the results to FILE")->type_name("FILE");
    cmd.footer(k_footer);
}

/// bench serve's scenario options: each changes one field of the preset --scenario names, and
/// only when given, so "--scenario ramp --users 64" keeps the ramp preset's other values.
struct scenario_options {
    std::string name = rl::scenario{}.name;
    rl::scenario given;                 // the values of the options below
    rl::sampling_params sampling;       // the virtual users' --temperature and --top-p
    std::vector<std::pair<CLI::Option*, void (*)(rl::scenario&, const rl::scenario&)>> changes;

    std::string preset;                 // --preset: a story (runtime/stories.h), "" = none
    CLI::Option* scenario_option = nullptr;

    /// With a story, its load is the base (unless --scenario was given too, which is refused).
    rl::scenario build(const rl::story* story) const {
        rl::scenario sc = story ? story->load : rl::scenario_preset(name);
        for (const auto& [option, change] : changes)
            if (option->count() > 0) change(sc, given);
        sc.temperature = sampling.temperature;
        sc.top_p = sampling.top_p;
        return sc;
    }
};

void add_serve_command(rl::cmdline::program& p, serve_bench_args& a, scenario_options& s) {
    CLI::App& cmd = p.add_command("serve", "Run virtual users against the engine; print a JSON summary");
    std::vector<std::string> names = rl::scenario_names();
    names.push_back("poisson");
    s.scenario_option =
        rl::cmdline::add_choice(cmd, "--scenario", s.name, names, "Virtual users' preset (poisson: open loop)");
    rl::cmdline::add_choice(cmd, "--preset", s.preset, rl::story_names(),
                            "A story: its serving knobs and its load (knob and user options given here win)")
        ->excludes(s.scenario_option);
    const char* preset = "the scenario's";
    s.changes = {
        {rl::cmdline::add_number(cmd, "--users", s.given.users, "Concurrent users (the most, under --ramp)", 1,
                                 1 << 16, preset),
         [](rl::scenario& sc, const rl::scenario& g) { sc.users = g.users; }},
        {rl::cmdline::add_number(cmd, "--rate", s.given.rate_per_s, "poisson: mean arrivals per second", 1e-6, 1e6,
                                 preset),
         [](rl::scenario& sc, const rl::scenario& g) { sc.rate_per_s = g.rate_per_s; }},
        {rl::cmdline::add_number(cmd, "--think", s.given.think_mean_s, "Mean pause before the next turn",
                                 0, 3600, preset)->type_name("S"),
         [](rl::scenario& sc, const rl::scenario& g) { sc.think_mean_s = g.think_mean_s; }},
        {rl::cmdline::add_number(cmd, "--ramp", s.given.ramp_s, "Seconds over which users rise from 1 to --users", 0,
                                 3600, preset)->type_name("S"),
         [](rl::scenario& sc, const rl::scenario& g) { sc.ramp_s = g.ramp_s; }},
        {rl::cmdline::add_number(cmd, "--seed", s.given.seed, "Seed of the users' prompts, lengths and pauses", 0,
                                 1.8e19),
         [](rl::scenario& sc, const rl::scenario& g) { sc.seed = g.seed; }},
    };
    rl::cmdline::add_number(cmd, "--duration", a.duration_s, "Seconds to run", 1e-3, 1e7)->type_name("S");
    rl::cmdline::add_text(cmd, "--json", a.json, "Also write the summary to FILE")->type_name("FILE");
    rl::cmdline::add_text(cmd, "--csv", a.csv, "Write the last 32,768 step records to FILE")->type_name("FILE");
    rl::cmdline::add_sampling_options(p, cmd, s.sampling,
                                      rl::cmdline::sampling_temperature | rl::cmdline::sampling_top_p);
    rl::cmdline::add_engine_options(p, cmd, a.engine);
    cmd.footer(k_footer);
}

} // namespace

int main(int argc, char** argv) {
    kernel_bench_args decode, prefill;
    decode.context = 256;
    decode.steps = 32;
    prefill.decode = false;
    prefill.context = 2048;
    prefill.steps = 3;
    serve_bench_args serve;
    scenario_options scenario;
    rl::cmdline::program p("ridgeline-bench", "Ridgeline's headless benchmarks.", RL_VERSION);
    add_kernel_command(p, decode, "1,8,64");
    add_kernel_command(p, prefill, "1");
    add_serve_command(p, serve, scenario);
    p.set_footer(k_footer);
    if (const int code = p.parse(argc, argv); code != rl::cmdline::k_go_on) return code;

    std::string command_line;
    for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);
    const std::string command = p.command()->get_name();
    try {
        if (command == "serve") {
            std::optional<rl::story> story;
            if (!scenario.preset.empty()) {
                rl::story_backend be;
                be.gpu = rl::resolve_backend(serve.engine.backend) == "cuda";
                story = rl::story_preset(scenario.preset, be);
                // The story's knobs, except those given on the command line.
                const rl::serving_config given = serve.engine.serving;
                serve.engine.serving = story->serving;
                for (const rl::knob_info& k : rl::serving_knobs())
                    if (p.command()->get_option(std::string(k.flag))->count() > 0) k.set(serve.engine.serving, k.get(given));
                if (auto e = rl::validate(serve.engine.serving)) throw bench_error{e.message};
                serve.story = story;
            }
            serve.scenario = scenario.build(story ? &*story : nullptr);
            serve.command_line = command_line;
            return run_serve(serve);
        }
        kernel_bench_args& k = command == "decode" ? decode : prefill;
        k.command_line = command_line;
        return run_kernel_bench(k);
    } catch (const bench_error& e) {
        std::fprintf(stderr, "ridgeline-bench: %s\n", e.message.c_str());
        return 2;
    } catch (const rl::engine_error& e) {
        std::fprintf(stderr, "ridgeline-bench: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ridgeline-bench: %s\n", e.what());
        return 1;
    }
}
