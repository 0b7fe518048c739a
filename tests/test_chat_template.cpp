// test_chat_template: SmolLM2's template rendered by jinja2 (tests/golden/chat_smollm2.json)
// must equal our render, text and llama.cpp token ids both; the three families are detected
// from representative template sources; unknown or missing templates fall back to ChatML.
#include "rl_test.h"

#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

using namespace rl;

namespace {

bool exists(const std::string& p) { return std::ifstream(p).good(); }

std::string show_ids(const std::vector<int32_t>& ids) {
    std::ostringstream os;
    for (size_t i = 0; i < ids.size(); ++i) os << (i ? ", " : "[") << ids[i];
    os << ']';
    return os.str();
}

// The official Llama 3 Instruct template (abridged only in whitespace).
const char* k_llama3_src =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
// The official Llama 2 chat template.
const char* k_llama2_src =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}{% if loop.index0 == 0 and system_message != false %}{% set content = "
    "'<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = "
    "message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + "
    "' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}";
// Mistral Instruct v0.1.
const char* k_mistral_src =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] "
    "+ ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}";
// Qwen2.5: a ChatML template whose default system text sits in an escaped literal.
const char* k_qwen_src =
    "{%- if messages[0]['role'] == 'system' %}\n    {{- '<|im_start|>system\\n' + messages[0]['content'] + "
    "'<|im_end|>\\n' }}\n{%- else %}\n    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are "
    "a helpful assistant.<|im_end|>\\n' }}\n{%- endif %}";

} // namespace

class TestChatTemplate : public QObject {
    Q_OBJECT
private slots:
    void golden_smollm2_renders() {
        std::ifstream in(std::string(RL_TEST_DATA) + "/golden/chat_smollm2.json");
        QVERIFY2(in.good(), "cannot read tests/golden/chat_smollm2.json");
        const nlohmann::json j = nlohmann::json::parse(in);
        if (!exists(RL_MODEL_PATH)) QFAIL("model missing: run scripts/fetch-model");
        const auto file = gguf_file::open(RL_MODEL_PATH);
        const chat_template from_model = chat_template::from_gguf(*file);
        const chat_template from_source = chat_template::detect(j["chat_template"].get<std::string>());
        const auto tok = tokenizer::from_gguf(*file);
        QCOMPARE(from_model.kind(), chat_template_kind::chatml);
        QVERIFY(from_model.warning().empty());
        int n = 0;
        for (const auto& c : j["cases"]) {
            std::vector<chat_message> msgs;
            for (const auto& m : c["messages"]) msgs.push_back({m["role"], m["content"]});
            const std::string want = c["text"];
            const bool agp = c["add_generation_prompt"];
            const std::string got = from_model.render(msgs, agp);
            QVERIFY2(got == want, ("render differs:\n--- ours\n" + got + "\n--- jinja2\n" + want).c_str());
            QVERIFY(from_source.render(msgs, agp) == want);
            const std::vector<int32_t> ids = tok->encode(got, false, true);
            const std::vector<int32_t> want_ids = c["ids"].get<std::vector<int32_t>>();
            QVERIFY2(ids == want_ids, ("ids differ: ours " + show_ids(ids) + ", llama.cpp " + show_ids(want_ids)).c_str());
            ++n;
        }
        QVERIFY(n >= 1);
    }

    void detects_the_three_families() {
        struct expect {
            const char* src;
            chat_template_kind kind;
            const char* name;
        };
        for (const expect& e : {expect{k_llama3_src, chat_template_kind::llama3, "llama3"},
                                expect{k_llama2_src, chat_template_kind::llama2, "llama2"},
                                expect{k_mistral_src, chat_template_kind::llama2, "llama2"},
                                expect{k_qwen_src, chat_template_kind::chatml, "chatml"}}) {
            const chat_template t = chat_template::detect(e.src);
            QCOMPARE(t.kind(), e.kind);
            QCOMPARE(std::string(t.name()), std::string(e.name));
            QVERIFY(t.warning().empty());
        }
    }

    void chatml_default_system_message() {
        const chat_template q = chat_template::detect(k_qwen_src);
        QCOMPARE(q.render({{"user", "Hi"}}, true),
                 std::string("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
                             "<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
        // A system message of its own replaces the default; no messages, no default either.
        QCOMPARE(q.render({{"system", "S"}, {"user", "Hi"}}, false),
                 std::string("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"));
        QCOMPARE(q.render({}, true), std::string("<|im_start|>assistant\n"));
    }

    void llama3_render() {
        const chat_template t = chat_template::detect(k_llama3_src);
        const std::string got = t.render({{"system", " Be brief. "}, {"user", "Hi\n"}, {"assistant", "Hello!"}}, true);
        QCOMPARE(got, std::string("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                                  "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                                  "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
                                  "<|start_header_id|>assistant<|end_header_id|>\n\n"));
    }

    void llama2_render() {
        const chat_template t = chat_template::detect(k_llama2_src);
        const std::string got =
            t.render({{"system", "Be brief."}, {"user", "Hi"}, {"assistant", " Hello! "}, {"user", "Bye"}}, true);
        QCOMPARE(got, std::string("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s><s>[INST] Bye [/INST]"));
    }

    void unknown_or_missing_falls_back_to_chatml() {
        for (const char* src : {"", "{% for m in messages %}{{ m['content'] }}{% endfor %}"}) {
            const chat_template t = chat_template::detect(src);
            QCOMPARE(t.kind(), chat_template_kind::chatml);
            QCOMPARE(std::string(t.name()), std::string("chatml"));
            QVERIFY2(!t.warning().empty(), "a fallback must say so");
            QCOMPARE(t.render({{"user", "Hi"}}, true),
                     std::string("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
        }
    }
    // The real Qwen3, Gemma, Phi-3.5 and Mistral Nemo templates (tests/golden/templates/, from
    // llama.cpp's models/templates) rendered by jinja2 with HF's settings (family_chat.json):
    // detected as their family, every conversation the template accepts renders identically.
    void family_templates_match_jinja() {
        const std::string dir = std::string(RL_TEST_DATA) + "/golden/";
        std::ifstream f(dir + "family_chat.json");
        QVERIFY2(f.good(), "cannot open tests/golden/family_chat.json");
        const auto g = nlohmann::json::parse(f);
        const std::map<std::string, std::string> kind = {{"Qwen-Qwen3-0.6B.jinja", "qwen3"},
                                                         {"google-gemma-2-2b-it.jinja", "gemma"},
                                                         {"microsoft-Phi-3.5-mini-instruct.jinja", "phi3"},
                                                         {"mistralai-Mistral-Nemo-Instruct-2407.jinja", "mistral"}};
        int checked = 0;
        for (const auto& [file, want_kind] : kind) {
            QVERIFY2(g["templates"].contains(file), ("family_chat.json has no renders of " + file).c_str());
            std::ifstream src_file(dir + "templates/" + file);
            const std::string src((std::istreambuf_iterator<char>(src_file)), std::istreambuf_iterator<char>());
            chat_template t = chat_template::detect(src);
            QCOMPARE(std::string(t.name()), want_kind);
            QVERIFY(t.warning().empty());
            const auto& tg = g["templates"][file];
            t.set_special_texts(tg["bos_token"].get<std::string>(), tg["eos_token"].get<std::string>());
            for (const auto& r : tg["renders"]) {
                if (r.contains("error")) continue;  // the template refuses it (Gemma 2 and a system turn)
                std::vector<chat_message> msgs;
                for (const auto& m : r["messages"]) msgs.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
                const std::string got = t.render(msgs, r["add_generation_prompt"].get<bool>());
                QVERIFY2(got == r["text"].get<std::string>(), (file + " / " + r["name"].get<std::string>() + ":\n got  [" +
                                                                  got + "]\n want [" + r["text"].get<std::string>() + "]").c_str());
                ++checked;
            }
        }
        QVERIFY(checked >= 20);
    }

    // from_source runs the template itself (jinja.h): the same renders as jinja2, a refused
    // conversation in a known family falls back to that family's forgiving renderer, and a
    // template of no known family is interpreted rather than replaced by ChatML.
    void interpreted_templates() {
        const std::string dir = std::string(RL_TEST_DATA) + "/golden/";
        std::ifstream f(dir + "family_chat.json");
        QVERIFY2(f.good(), "cannot open tests/golden/family_chat.json");
        const auto g = nlohmann::json::parse(f);
        int checked = 0, fell_back = 0;
        for (auto it = g["templates"].begin(); it != g["templates"].end(); ++it) {
            std::ifstream src_file(dir + "templates/" + it.key());
            const std::string src((std::istreambuf_iterator<char>(src_file)), std::istreambuf_iterator<char>());
            chat_template t = chat_template::from_source(src);
            QVERIFY2(t.interpreted() && t.warning().empty(), (it.key() + ": " + t.warning()).c_str());
            chat_template family = chat_template::detect(src);
            QVERIFY(!family.interpreted());
            QCOMPARE(std::string(t.name()), std::string(family.name()));
            const std::string bos = it.value()["bos_token"].get<std::string>(), eos = it.value()["eos_token"].get<std::string>();
            t.set_special_texts(bos, eos);
            family.set_special_texts(bos, eos);
            for (const auto& r : it.value()["renders"]) {
                std::vector<chat_message> msgs;
                for (const auto& m : r["messages"]) msgs.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
                const bool gen = r["add_generation_prompt"].get<bool>();
                const std::string got = t.render(msgs, gen);
                if (r.contains("error")) {
                    QCOMPARE(got, family.render(msgs, gen));
                    ++fell_back;
                } else {
                    QVERIFY2(got == r["text"].get<std::string>(), (it.key() + " / " + r["name"].get<std::string>()).c_str());
                }
                ++checked;
            }
        }
        QVERIFY(checked >= 20);
        QVERIFY(fell_back >= 1);

        // A family we have no renderer for: interpreted, named as such, no warning.
        const std::string custom = "{% for m in messages %}<<{{ m.role | upper }}>> {{ m.content }}\n{% endfor %}"
                                   "{% if add_generation_prompt %}<<ASSISTANT>> {% endif %}";
        chat_template c = chat_template::from_source(custom);
        QVERIFY(c.interpreted() && c.warning().empty());
        QCOMPARE(std::string(c.name()), std::string("gguf template"));
        QCOMPARE(c.render({{"user", "hi"}}, true), std::string("<<USER>> hi\n<<ASSISTANT>> "));
        // ... and when it refuses a conversation, its reason is the error.
        chat_template strict = chat_template::from_source(
            "{% if messages[0].role == 'system' %}{{ raise_exception('no system turns here') }}{% endif %}ok");
        bool threw = false;
        try {
            strict.render({{"system", "s"}, {"user", "u"}}, true);
        } catch (const rl::engine_error& e) {
            threw = std::string(e.what()).find("no system turns here") != std::string::npos;
        }
        QVERIFY(threw);
        // A template that does not parse: the family renderer (or ChatML), and a warning naming the line.
        chat_template broken = chat_template::from_source("<|im_start|>{% for m in messages %}\n{{ m.content");
        QVERIFY(!broken.interpreted());
        QCOMPARE(std::string(broken.name()), std::string("chatml"));
        QVERIFY2(broken.warning().find("line") != std::string::npos, broken.warning().c_str());
        QCOMPARE(broken.render({{"user", "hi"}}, true), std::string("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"));
    }
};

RL_TEST_MAIN(TestChatTemplate, golden_smollm2_renders, detects_the_three_families, chatml_default_system_message,
             llama3_render, llama2_render, unknown_or_missing_falls_back_to_chatml, family_templates_match_jinja,
             interpreted_templates)
#include "test_chat_template.moc"
