// test_export_commands: the vLLM / SGLang / llama-server commands built from a serving_config
// (interop/export_commands): every flag's value for two configs, the notes on flags whose
// meaning differs, shell quoting of a model path with spaces and quotes (checked by letting bash
// split the text), and the script form.
#include "rl_test.h"

#include "interop/export_commands.h"
#include "serving/serving_knobs.h"

#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

using namespace rl;

namespace {

export_input defaults() {
    export_input in;
    in.model_path = "/models/SmolLM2-135M-Instruct.Q4_1.gguf";
    in.model_name = "SmolLM2-135M-Instruct.Q4_1";
    in.max_model_len = 8192;
    // The step budget as the window exports our "auto" (ExportCommandDialog::inputFor: a GPU's).
    in.config.max_num_batched_tokens = 2048;
    return in;   // serving_config defaults: 16 seqs, 2048 tokens, chunked, prefix caching, priority
}

export_input custom() {
    export_input in;
    in.model_path = "/srv/llm/qwen.gguf";
    in.max_model_len = 4096;
    serving_config& c = in.config;
    c.max_num_seqs = 4;
    c.max_num_batched_tokens = 512;
    c.chunked_prefill = false;
    c.prefix_caching = false;
    c.policy = schedule_policy::fcfs;
    c.block_size = 64;
    c.kv_blocks = 500;
    c.gpu_memory_utilization = 0.75;
    c.max_waiting = 0;
    return in;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// The words bash makes of the command text: each program is a function printing its arguments.
std::vector<std::string> splitByBash(const std::string& text) {
    char name[] = "/tmp/rl_test_export_XXXXXX";
    const int fd = mkstemp(name);
    if (fd < 0) return {};
    const std::string script =
        "p() { for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }\n"
        "vllm() { p vllm \"$@\"; }\npython3() { p python3 \"$@\"; }\nllama-server() { p llama-server \"$@\"; }\n" +
        text;
    (void)!write(fd, script.data(), script.size());
    close(fd);
    FILE* p = popen((std::string("bash ") + name).c_str(), "r");
    std::string out;
    if (p) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
        pclose(p);
    }
    std::remove(name);
    std::vector<std::string> words;
    size_t start = 0;
    for (size_t i = 0; i < out.size(); ++i)
        if (out[i] == '\0') {
            words.push_back(out.substr(start, i - start));
            start = i + 1;
        }
    return words;
}

} // namespace

class TestExportCommands : public QObject {
    Q_OBJECT
private slots:
    void vllmDefaults();
    void vllmCustom();
    void sglangDefaults();
    void sglangCustom();
    void llamaServerDefaults();
    void llamaServerCustom();
    void llamaServerMatchesLoadedPool();
    void notesOnDifferingFlags();
    void quotesPathWithSpaces();
    void scriptForm();
    void flagsComeFromTheKnobTable();
};

void TestExportCommands::vllmDefaults() {
    const exported_command c = export_command(export_target::vllm, defaults());
    QCOMPARE(c.program, (std::vector<std::string>{"vllm", "serve", "/models/SmolLM2-135M-Instruct.Q4_1.gguf"}));
    QCOMPARE(c.value_of("--max-num-seqs"), std::string("16"));
    QCOMPARE(c.value_of("--max-num-batched-tokens"), std::string("2048"));
    QCOMPARE(c.value_of("--gpu-memory-utilization"), std::string("0.9"));
    QCOMPARE(c.value_of("--block-size"), std::string("16"));
    QCOMPARE(c.value_of("--max-model-len"), std::string("8192"));
    QCOMPARE(c.value_of("--scheduling-policy"), std::string("priority"));
    QCOMPARE(c.value_of("--served-model-name"), std::string("SmolLM2-135M-Instruct.Q4_1"));
    QVERIFY(c.has("--enable-prefix-caching") && !c.has("--no-enable-prefix-caching"));
    QVERIFY(c.has("--enable-chunked-prefill"));
    QVERIFY(!c.has("--num-gpu-blocks-override"));   // automatic pool
}

void TestExportCommands::vllmCustom() {
    const exported_command c = export_command(export_target::vllm, custom());
    QCOMPARE(c.value_of("--max-num-seqs"), std::string("4"));
    QCOMPARE(c.value_of("--max-num-batched-tokens"), std::string("512"));
    QCOMPARE(c.value_of("--gpu-memory-utilization"), std::string("0.75"));
    QCOMPARE(c.value_of("--block-size"), std::string("32"));   // 64 is not a CUDA block size in vLLM
    QCOMPARE(c.value_of("--num-gpu-blocks-override"), std::string("500"));
    QCOMPARE(c.value_of("--max-model-len"), std::string("4096"));
    QCOMPARE(c.value_of("--scheduling-policy"), std::string("fcfs"));
    QVERIFY(c.has("--no-enable-prefix-caching") && !c.has("--enable-prefix-caching"));
    QVERIFY(c.has("--no-enable-chunked-prefill"));
    QVERIFY(!c.has("--served-model-name"));
}

void TestExportCommands::sglangDefaults() {
    const exported_command c = export_command(export_target::sglang, defaults());
    QCOMPARE(c.program, (std::vector<std::string>{"python3", "-m", "sglang.launch_server"}));
    QCOMPARE(c.value_of("--model-path"), std::string("/models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    QCOMPARE(c.value_of("--max-running-requests"), std::string("16"));
    QCOMPARE(c.value_of("--chunked-prefill-size"), std::string("2048"));
    QCOMPARE(c.value_of("--mem-fraction-static"), std::string("0.9"));
    QCOMPARE(c.value_of("--context-length"), std::string("8192"));
    QCOMPARE(c.value_of("--schedule-policy"), std::string("fcfs"));
    QVERIFY(c.has("--enable-priority-scheduling"));
    QVERIFY(c.has("--enable-mixed-chunk"));
    QVERIFY(!c.has("--disable-radix-cache"));
    QVERIFY(c.has("--enable-metrics"));   // remote mode reads its /metrics
}

void TestExportCommands::sglangCustom() {
    const exported_command c = export_command(export_target::sglang, custom());
    QCOMPARE(c.value_of("--max-running-requests"), std::string("4"));
    QCOMPARE(c.value_of("--chunked-prefill-size"), std::string("-1"));   // chunked prefill off
    QCOMPARE(c.value_of("--max-prefill-tokens"), std::string("512"));
    QCOMPARE(c.value_of("--mem-fraction-static"), std::string("0.75"));
    QCOMPARE(c.value_of("--max-total-tokens"), std::string("32000"));   // 500 blocks x 64 tokens
    QCOMPARE(c.value_of("--schedule-policy"), std::string("fcfs"));
    QVERIFY(c.has("--disable-radix-cache"));
    QVERIFY(!c.has("--enable-priority-scheduling"));
    QVERIFY(!c.has("--enable-mixed-chunk"));
}

void TestExportCommands::llamaServerDefaults() {
    const exported_command c = export_command(export_target::llama_server, defaults());
    QCOMPARE(c.program, std::vector<std::string>{"llama-server"});
    QCOMPARE(c.value_of("-m"), std::string("/models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    QCOMPARE(c.value_of("-np"), std::string("16"));
    QCOMPARE(c.value_of("-c"), std::string("131072"));   // 8192 per slot x 16 slots
    QCOMPARE(c.value_of("-b"), std::string("2048"));
    QCOMPARE(c.value_of("-ub"), std::string("2048"));
    QCOMPARE(c.value_of("-a"), std::string("SmolLM2-135M-Instruct.Q4_1"));
    QVERIFY(c.has("--cache-prompt") && !c.has("--no-cache-prompt"));
    QVERIFY(!c.has("--cache-reuse"));   // approximate KV shifting, not our exact prefix cache
    QVERIFY(c.has("--metrics"));        // else /metrics answers 501 and remote mode sees nothing
    QVERIFY(!c.has("-t"));              // no CPU engine loaded: the server picks its own
}

void TestExportCommands::llamaServerMatchesLoadedPool() {
    // A loaded engine's pool (automatic kv_blocks, resolved) is -c, in tokens; its threads are -t.
    export_input in = defaults();
    in.kv_pool_tokens = 1456 * 16;
    in.cpu_threads = 2;
    const exported_command c = export_command(export_target::llama_server, in);
    QCOMPARE(c.value_of("-c"), std::string("23296"));
    QCOMPARE(c.value_of("-t"), std::string("2"));
    const std::string text = c.text();
    QVERIFY2(contains(text, "# -c: our KV pool, 1456 blocks x 16 tokens; llama-server divides it evenly over the "
                            "16 -np slots, 1456 tokens each (prompt + output), where ours lets one sequence use the "
                            "whole pool up to its context of 8192; --kv-unified shares it as ours does\n"),
             text.c_str());
    // A fixed pool in the config wins over the loaded one (the export is of the settings in force).
    in.config.kv_blocks = 100;
    QCOMPARE(export_command(export_target::llama_server, in).value_of("-c"), std::string("1600"));
}

void TestExportCommands::llamaServerCustom() {
    const exported_command c = export_command(export_target::llama_server, custom());
    QCOMPARE(c.value_of("-np"), std::string("4"));
    QCOMPARE(c.value_of("-c"), std::string("32000"));   // the pool: 500 blocks x 64 tokens
    QCOMPARE(c.value_of("-b"), std::string("512"));
    QCOMPARE(c.value_of("-ub"), std::string("512"));
    QVERIFY(c.has("--no-cache-prompt") && !c.has("--cache-prompt"));
    QVERIFY(!c.has("--cache-reuse"));
    QVERIFY(c.has("--metrics"));
}

void TestExportCommands::notesOnDifferingFlags() {
    const std::string v = export_command(export_target::vllm, defaults()).text();
    QVERIFY(contains(v, "\n# --scheduling-policy: vLLM runs the LOWEST priority value first"));
    QVERIFY(contains(v, "\n# --block-size: vLLM on CUDA accepts only 8, 16 or 32"));
    // vLLM V1 removed --preemption-mode; recompute is its only mode, as ours: nothing to say.
    QVERIFY(!contains(v, "preemption-mode") && !contains(v, "# preemption"));
    const std::string v2 = export_command(export_target::vllm, custom()).text();
    QVERIFY(contains(v2, "# --block-size: ours is 64;"));
    QVERIFY(contains(v2, "# --num-gpu-blocks-override: "));
    QVERIFY(contains(v2, "# --max-num-batched-tokens: without chunked prefill vLLM refuses"));

    const std::string s = export_command(export_target::sglang, defaults()).text();
    QVERIFY(contains(s, "\n# --enable-priority-scheduling: higher priority values run first"));
    QVERIFY(contains(s, "\n# --mem-fraction-static: "));
    QVERIFY(contains(s, "radix cache matches prefixes token by token"));
    // SGLang's default policy is fcfs (server_args.py), as ours: no note, and no claim of lpm.
    QVERIFY(!contains(s, "# --schedule-policy") && !contains(s, "lpm"));
    QVERIFY(contains(s, "\n# --max-prefill-tokens: counts prompt tokens of one prefill batch only (decodes are not "
                        "in it); SGLang's real bound is the larger of this and the context length, here 8192, so 2048 "
                        "does not limit it\n"));
    const std::string s2 = export_command(export_target::sglang, custom()).text();
    QVERIFY(contains(s2, "# --schedule-policy") == false);   // fcfs without caching: same meaning
    QVERIFY(contains(s2, "# --chunked-prefill-size: -1 turns chunked prefill off"));

    const std::string l = export_command(export_target::llama_server, defaults()).text();
    QVERIFY(contains(l, "\n# -c: no model is loaded, so our pool's size is unknown: the TOTAL context, split "
                        "evenly over the -np slots: 8192 tokens x 16 slots"));
    QVERIFY(contains(l, "\n# -ub: physical micro-batch"));
    QVERIFY(contains(l, "\n# --cache-prompt: on by default: a slot reuses the longest common prefix"));
    QVERIFY(!contains(l, "\n# --cache-reuse"));
    QVERIFY(contains(l, "no priority scheduling"));
    // Flags with the same meaning carry no note.
    QVERIFY(!contains(v, "# --max-num-seqs"));
    // Every comment line comes before the command.
    const size_t firstCommand = v.find("\nvllm serve ");
    QVERIFY(firstCommand != std::string::npos);
    QVERIFY(v.find("\n#", firstCommand) == std::string::npos);
}

void TestExportCommands::quotesPathWithSpaces() {
    QCOMPARE(shell_quote("/a/b-c_d.gguf"), std::string("/a/b-c_d.gguf"));
    QCOMPARE(shell_quote("/my models/x.gguf"), std::string("'/my models/x.gguf'"));
    QCOMPARE(shell_quote("it's"), std::string("'it'\\''s'"));
    QCOMPARE(shell_quote(""), std::string("''"));

    export_input in = defaults();
    in.model_path = "/home/me/My Models/Bob's $HOME `x`.gguf";
    in.model_name = "Bob's model";
    for (export_target t : {export_target::vllm, export_target::sglang,
                            export_target::llama_server}) {
        const exported_command c = export_command(t, in);
        QVERIFY(contains(c.text(), "'/home/me/My Models/Bob'\\''s $HOME `x`.gguf'"));
        // bash splits the text back into exactly the argument vector, path intact.
        const std::vector<std::string> words = splitByBash(c.text());
        QCOMPARE(words, c.argv());
    }
}

void TestExportCommands::scriptForm() {
    const std::string s = export_script(export_target::llama_server, defaults());
    QVERIFY(s.rfind("#!/bin/sh\n# llama-server", 0) == 0);
    QVERIFY(contains(s, "\nexec llama-server \\\n  -m /models/SmolLM2-135M-Instruct.Q4_1.gguf \\\n"));
    const std::string v = export_script(export_target::vllm, defaults());
    QVERIFY(contains(v, "\nexec vllm serve /models/SmolLM2-135M-Instruct.Q4_1.gguf \\\n"));
}

void TestExportCommands::flagsComeFromTheKnobTable() {
    // Every flag the knob table names for an engine shows up in that engine's export (as a flag,
    // its --no- form, or inside a note) for one of the two configs, so the rows and the export
    // cannot drift apart (the value tests above pin the real names). SGLang's --page-size is the
    // one named only in words ("page size 1 by default": its radix cache matches token by token,
    // so no flag is carried over).
    for (export_target t : {export_target::vllm, export_target::sglang, export_target::llama_server}) {
        const std::string both = export_command(t, defaults()).text() + export_command(t, custom()).text();
        for (const knob_info& k : serving_knobs()) {
            const std::string_view f = t == export_target::vllm     ? k.vllm_flag
                                       : t == export_target::sglang ? k.sglang_flag
                                                                    : k.llama_server_flag;
            if (f.empty() || f == "--page-size") continue;
            const std::string flag(f);
            const bool named = contains(both, flag + " ") || contains(both, flag + "\n") ||
                               contains(both, "--no-" + flag.substr(2)) || contains(both, flag + ":");
            QVERIFY2(named, (std::string(to_string(t)) + " export never names " + flag + " (" +
                             std::string(k.name) + ")").c_str());
        }
    }
    QVERIFY(contains(export_command(export_target::sglang, defaults()).text(), "page size 1 by default"));
}

RL_TEST_MAIN(TestExportCommands, vllmDefaults, vllmCustom, sglangDefaults, sglangCustom, llamaServerDefaults,
             llamaServerCustom, llamaServerMatchesLoadedPool, notesOnDifferingFlags, quotesPathWithSpaces, scriptForm, flagsComeFromTheKnobTable)
#include "test_export_commands.moc"
