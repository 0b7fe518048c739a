// The shared command-line parser (app/options/command_line.h) that all four programs use: every
// knob of the table in --help with its default, values landing in serving_config, range errors
// naming the knob, "unknown option" with exit 2, the engine and sampling options, commands; and
// the window's split of Qt's own arguments (app/gui/QtArguments.h).
#include "rl_test.h"

#include "gui/QtArguments.h"
#include "options/command_line.h"
#include "serving/serving_knobs.h"

#include <sstream>

namespace {

namespace cmd = rl::cmdline;

/// A program with every serving knob on its root, its output captured.
struct knob_program {
    cmd::program p{"prog", "test program", "9.9"};
    rl::serving_config cfg;
    std::ostringstream out, err;
    knob_program() {
        p.set_streams(out, err);
        cmd::add_serving_options(p, p.root(), cfg);
    }
    int parse(const std::vector<std::string>& args) { return p.parse(args); }
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
// Fails showing the whole text (the program's error output) when `part` is not in it.
#define VERIFY_CONTAINS(text, part) QVERIFY2(contains(text, part), std::string(text).c_str())

} // namespace

class TestCommandLine : public QObject {
    Q_OBJECT
private slots:
    void everyKnobIsInHelpWithItsDefault() {
        knob_program t;
        QCOMPARE(t.parse({"--help"}), 0);
        const std::string help = t.out.str();
        for (const rl::knob_info& k : rl::serving_knobs()) {
            const std::string flag(k.flag);
            QVERIFY2(contains(help, flag), flag.c_str());
            std::string shown = rl::knob_default_text(k);
            if (!k.zero_means.empty() && shown == "0") shown += " = " + std::string(k.zero_means);
            QVERIFY2(contains(help, std::string(k.help)), std::string(flag + " help").c_str());
            QVERIFY2(contains(help, "(default: " + shown + ")"), std::string(flag + " default " + shown).c_str());
            if (k.type == rl::knob_type::boolean) QVERIFY2(contains(help, "--no-" + flag.substr(2)), flag.c_str());
        }
        QVERIFY(!contains(help, "{false}"));   // CLI11's negated-flag marker is not shown
    }

    void valuesLandInServingConfig() {
        knob_program t;
        QCOMPARE(t.parse({"--max-num-seqs", "32", "--max-num-batched-tokens=4096", "--no-chunked-prefill",
                          "--no-prefix-caching", "--policy", "fcfs", "--max-waiting", "7", "--max-queue-ms", "250",
                          "--block-size", "32", "--kv-blocks", "100", "--gpu-memory-utilization", "0.5",
                          "--max-model-len", "1024", "--kv-budget-gib", "2"}),
                 cmd::k_go_on);
        const rl::serving_config& c = t.cfg;
        QCOMPARE(c.max_num_seqs, 32);
        QCOMPARE(c.max_num_batched_tokens, 4096);
        QCOMPARE(c.chunked_prefill, false);
        QCOMPARE(c.prefix_caching, false);
        QVERIFY(c.policy == rl::schedule_policy::fcfs);
        QCOMPARE(c.max_waiting, 7);
        QCOMPARE(c.max_queue_ms, 250.0);
        QCOMPARE(c.block_size, 32);
        QCOMPARE(c.kv_blocks, 100);
        QCOMPARE(c.gpu_memory_utilization, 0.5);
        QCOMPARE(c.max_model_len, 1024);
        QCOMPARE(c.kv_budget_gib, 2.0);
        // Every knob with more than one value was changed by the line above: none is left out.
        for (const rl::knob_info& k : rl::serving_knobs())
            if (k.type != rl::knob_type::choice || k.choices.size() > 1)
                QVERIFY2(rl::knob_text(k, c) != rl::knob_default_text(k), std::string(k.name).c_str());
        QVERIFY(t.err.str().empty());
    }

    void lastGivenWinsAndBooleansTakeWords() {
        knob_program t;
        QCOMPARE(t.parse({"--max-num-seqs", "8", "--max-num-seqs", "12", "--no-prefix-caching", "--prefix-caching",
                          "--chunked-prefill=false"}),
                 cmd::k_go_on);
        QCOMPARE(t.cfg.max_num_seqs, 12);
        QCOMPARE(t.cfg.prefix_caching, true);
        QCOMPARE(t.cfg.chunked_prefill, false);
        knob_program none;
        QCOMPARE(none.parse({}), cmd::k_go_on);   // nothing given: serving_config{} untouched
        const rl::knob_info& seqs = *rl::find_knob("max_num_seqs");
        QCOMPARE(rl::knob_text(seqs, none.cfg), rl::knob_default_text(seqs));
    }

    void outOfRangeKnobNamesTheKnob() {
        knob_program t;
        QCOMPARE(t.parse({"--max-num-seqs", "0"}), cmd::k_exit_usage);
        VERIFY_CONTAINS(t.err.str(), "prog: --max-num-seqs: max_num_seqs must be in [1, 4096], got 0");
        knob_program pow2;
        QCOMPARE(pow2.parse({"--block-size", "24"}), cmd::k_exit_usage);
        VERIFY_CONTAINS(pow2.err.str(), "block_size must be a power of two");
        knob_program word;
        QCOMPARE(word.parse({"--policy", "lifo"}), cmd::k_exit_usage);
        VERIFY_CONTAINS(word.err.str(), "policy: 'lifo' is not fcfs or priority");
        // The rule between two knobs, worded with the flag of the one validate() names.
        knob_program cross;
        QCOMPARE(cross.parse({"--max-num-seqs", "64", "--max-num-batched-tokens", "32"}), cmd::k_exit_usage);
        VERIFY_CONTAINS(cross.err.str(), "--max-num-batched-tokens: max_num_batched_tokens");
    }

    void unknownOptionSaysSoWithExit2() {
        knob_program t;
        QCOMPARE(t.parse({"--max-num-seqs", "4", "--foo=3"}), cmd::k_exit_usage);
        QCOMPARE(t.err.str(), std::string("prog: unknown option --foo (try --help)\n"));
        knob_program stray;
        QCOMPARE(stray.parse({"extra"}), cmd::k_exit_usage);
        VERIFY_CONTAINS(stray.err.str(), "unexpected argument 'extra'");
        knob_program missing;
        QCOMPARE(missing.parse({"--kv-blocks"}), cmd::k_exit_usage);
        VERIFY_CONTAINS(missing.err.str(), "--kv-blocks needs a value");
    }

    void helpAndVersionExit0() {
        knob_program t;
        QCOMPARE(t.parse({"--version"}), 0);
        QCOMPARE(t.out.str(), std::string("prog 9.9\n"));
        knob_program h;
        QCOMPARE(h.parse({"-h"}), 0);
        QVERIFY(contains(h.out.str(), "Usage: prog"));
    }

    void engineOptionsAndRequiredModel() {
        cmd::program p("prog", "", "1");
        std::ostringstream out, err;
        p.set_streams(out, err);
        rl::engine_options eo;
        cmd::add_engine_options(p, p.root(), eo);
        QCOMPARE(p.parse({"-m", "synthetic:smollm2-135m", "--backend", "cuda", "--threads", "3", "--max-context",
                          "1024", "--kv-blocks", "64"}),
                 cmd::k_go_on);
        QCOMPARE(eo.model_path, std::string("synthetic:smollm2-135m"));
        QCOMPARE(eo.backend, std::string("cuda"));
        QCOMPARE(eo.threads, 3);
        QCOMPARE(eo.serving.max_model_len, 1024);
        QCOMPARE(eo.serving.kv_blocks, 64);

        cmd::program q("prog", "", "1");
        q.set_streams(out, err);
        rl::engine_options e2;
        cmd::add_engine_options(q, q.root(), e2);
        QCOMPARE(q.parse({"--backend", "gpu", "--model", "x"}), cmd::k_exit_usage);
        VERIFY_CONTAINS(err.str(), "--backend: must be auto, cpu or cuda, got 'gpu'");
        // A misspelt option is reported before the required one it leaves missing.
        cmd::program r("prog", "", "1");
        std::ostringstream err2;
        r.set_streams(out, err2);
        rl::engine_options e3;
        cmd::add_engine_options(r, r.root(), e3);
        QCOMPARE(r.parse({"--modle", "x"}), cmd::k_exit_usage);
        VERIFY_CONTAINS(err2.str(), "unknown option --modle");
    }

    void samplingIsValidatedAfterParsing() {
        cmd::program p("prog", "", "1");
        std::ostringstream out, err;
        p.set_streams(out, err);
        rl::sampling_params s;
        cmd::add_sampling_options(p, p.root(), s);
        QCOMPARE(p.parse({"--temperature", "0.7", "--top-p", "0.9", "--top-k", "40", "--min-p", "0.05",
                          "--repeat-penalty", "1.1", "--seed", "18446744073709551615"}),
                 cmd::k_go_on);
        QCOMPARE(s.temperature, 0.7f);
        QCOMPARE(s.top_k, 40);
        QCOMPARE(s.seed, uint64_t(18446744073709551615ull));
        cmd::program q("prog", "", "1");
        q.set_streams(out, err);
        rl::sampling_params s2;
        cmd::add_sampling_options(q, q.root(), s2, cmd::sampling_temperature | cmd::sampling_top_p);
        QCOMPARE(q.parse({"--top-p", "0"}), cmd::k_exit_usage);
        VERIFY_CONTAINS(err.str(), "top_p must be in (0, 1]");
        QVERIFY(!contains(q.root().help(), "--seed"));   // only the options asked for
    }

    void commandsHaveTheirOwnOptionsAndHelp() {
        cmd::program p("prog", "", "1");
        std::ostringstream out, err;
        p.set_streams(out, err);
        rl::engine_options run_eo, other_eo;
        int n = 5;
        CLI::App& run = p.add_command("run", "runs");
        cmd::add_engine_options(p, run, run_eo);
        cmd::add_number(run, "--count", n, "how many", 1, 10);
        CLI::App& other = p.add_command("other", "other");
        cmd::add_engine_options(p, other, other_eo);
        QCOMPARE(p.parse({"run", "--model", "m", "--count", "7", "--max-num-seqs", "3"}), cmd::k_go_on);
        QCOMPARE(p.command()->get_name(), std::string("run"));
        QCOMPARE(n, 7);
        QCOMPARE(run_eo.serving.max_num_seqs, 3);
        QCOMPARE(other_eo.serving.max_num_seqs, rl::serving_config{}.max_num_seqs);
        QVERIFY(contains(run.help(), "--count N") && contains(run.help(), "--gpu-memory-utilization"));

        cmd::program q("prog", "", "1");
        std::ostringstream err2;
        q.set_streams(out, err2);
        rl::engine_options eo;
        cmd::add_engine_options(q, q.add_command("run", "runs"), eo);
        QCOMPARE(q.parse({"run", "--model", "m", "--count", "7"}), cmd::k_exit_usage);
        VERIFY_CONTAINS(err2.str(), "prog run: unknown option --count");
        std::ostringstream err3;
        q.set_streams(out, err3);
        QCOMPARE(q.parse({}), cmd::k_exit_usage);
        VERIFY_CONTAINS(err3.str(), "a command is needed: run");
        std::ostringstream err4;
        q.set_streams(out, err4);
        QCOMPARE(q.parse({"walk"}), cmd::k_exit_usage);
        VERIFY_CONTAINS(err4.str(), "unknown command 'walk'");
    }

    void numbersAreRangeChecked() {
        cmd::program p("prog", "", "1");
        std::ostringstream out, err;
        p.set_streams(out, err);
        int port = 8080;
        double after = -1;
        cmd::add_number(p.root(), "--port", port, "TCP port", 1, 65535);
        cmd::add_number(p.root(), "--after", after, "seconds", 0, 1e6, "when done");
        QVERIFY(contains(p.root().help(), "TCP port (default: 8080)"));
        QVERIFY(contains(p.root().help(), "seconds (default: when done)"));
        QCOMPARE(p.parse({"--port", "70000"}), cmd::k_exit_usage);
        VERIFY_CONTAINS(err.str(), "--port: must be in [1, 65535], got 70000");
        QCOMPARE(p.parse({"--port", "80.5"}), cmd::k_exit_usage);
        VERIFY_CONTAINS(err.str(), "--port: expects an integer, got '80.5'");
        QCOMPARE(p.parse({"--after", "-2"}), cmd::k_exit_usage);
        QCOMPARE(p.parse({"--port", "9000", "--after", "1.5"}), cmd::k_go_on);
        QCOMPARE(port, 9000);
        QCOMPARE(after, 1.5);
    }

    void qtArgumentsPassThrough() {
        const char* argv[] = {"ridgeline", "-platform", "offscreen", "--model", "m", "-style=Fusion",
                              "--reverse", "--size", "900x600", "-qwindowtitle", "T", "-widgetcount", "-platform"};
        const std::vector<std::string> ours = QtArguments::withoutQt(int(std::size(argv)), argv);
        // Qt's (with their values) are left out; a value option given last without one stays ours.
        QCOMPARE(ours, (std::vector<std::string>{"--model", "m", "--size", "900x600", "-platform"}));
        QVERIFY(contains(QtArguments::helpLine(), "-platform X"));
    }
};

RL_TEST_MAIN(TestCommandLine, everyKnobIsInHelpWithItsDefault, valuesLandInServingConfig,
             lastGivenWinsAndBooleansTakeWords, outOfRangeKnobNamesTheKnob, unknownOptionSaysSoWithExit2,
             helpAndVersionExit0, engineOptionsAndRequiredModel, samplingIsValidatedAfterParsing,
             commandsHaveTheirOwnOptionsAndHelp, numbersAreRangeChecked, qtArgumentsPassThrough)
#include "test_command_line.moc"
