// test_jinja: the chat-template interpreter (engine/tokenizer/jinja.h) against Python's jinja2
// with Hugging Face's settings. Three golden sets, none produced by Ridgeline:
// tests/golden/jinja_renders.json (feature templates: whitespace control, literals, operators,
// slices, string methods, filters, tests, loops, scoping, namespace, macros, tojson; from
// tests/golden/make_jinja_goldens.py), family_chat.json (the real Qwen3, Gemma 2, Phi-3.5 and
// Mistral Nemo templates) and chat_smollm2.json (SmolLM2's own). Every render must match byte
// for byte, and every case jinja2 refused must be refused. Then errors: each names its line.
// Run: ./build/tests/test_jinja   (label unit)
#include "rl_test.h"

#include "common/engine_error.h"
#include "tokenizer/jinja.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

using rl::jinja::value;
using ordered = nlohmann::ordered_json;

namespace {

value from_json(const ordered& j) {
    switch (j.type()) {
    case ordered::value_t::null: return value::none();
    case ordered::value_t::boolean: return value(j.get<bool>());
    case ordered::value_t::number_integer:
    case ordered::value_t::number_unsigned: return value(j.get<int64_t>());
    case ordered::value_t::number_float: return value(j.get<double>());
    case ordered::value_t::string: return value(j.get<std::string>());
    case ordered::value_t::array: {
        rl::jinja::array a;
        for (const auto& x : j) a.push_back(from_json(x));
        return value(std::move(a));
    }
    case ordered::value_t::object: {
        value d(rl::jinja::object{});
        for (auto it = j.begin(); it != j.end(); ++it) d.set(it.key(), from_json(it.value()));
        return d;
    }
    default: return {};
    }
}

ordered read(const std::string& name) {
    std::ifstream f(std::string(RL_TEST_DATA) + "/golden/" + name);
    if (!f.good()) return ordered();
    return ordered::parse(f);
}

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// "" when the render matched (or was refused as jinja2 refused it), else what went wrong.
std::string check(const std::string& name, const std::string& source, const value& vars, const ordered& want) {
    std::string got;
    try {
        got = rl::jinja::program::parse(source).render(vars);
    } catch (const rl::engine_error& e) {
        if (want.contains("error")) return "";
        return name + ": refused (" + e.what() + "), jinja2 rendered it";
    }
    if (want.contains("error")) return name + ": rendered [" + got + "], jinja2 refused it (" + want["error"].get<std::string>() + ")";
    const std::string text = want["text"].get<std::string>();
    if (got == text) return "";
    size_t at = 0;
    while (at < got.size() && at < text.size() && got[at] == text[at]) ++at;
    return name + ": differs at byte " + std::to_string(at) + "\n got  [" + got + "]\n want [" + text + "]";
}

bool throws_with(const std::string& source, const std::string& needle, const value& vars = value(rl::jinja::object{})) {
    try {
        rl::jinja::program::parse(source).render(vars);
    } catch (const rl::engine_error& e) {
        return std::string(e.what()).find(needle) != std::string::npos;
    }
    return false;
}

} // namespace

class TestJinja : public QObject {
    Q_OBJECT
private slots:
    void feature_templates_match_jinja2() {
        const ordered g = read("jinja_renders.json");
        QVERIFY2(g.contains("cases"), "cannot read tests/golden/jinja_renders.json");
        int checked = 0, refused = 0;
        for (const auto& c : g["cases"]) {
            const std::string why = check(c["name"].get<std::string>(), c["template"].get<std::string>(),
                                          from_json(c["variables"]), c);
            QVERIFY2(why.empty(), why.c_str());
            ++checked;
            refused += c.contains("error");
        }
        QVERIFY(checked >= 20);
        QVERIFY(refused >= 1);
    }

    void real_family_templates_match_jinja2() {
        const ordered g = read("family_chat.json");
        QVERIFY2(g.contains("templates"), "cannot read tests/golden/family_chat.json");
        int checked = 0, refused = 0;
        for (auto it = g["templates"].begin(); it != g["templates"].end(); ++it) {
            const std::string file = it.key();
            const std::string src = read_text(std::string(RL_TEST_DATA) + "/golden/templates/" + file);
            QVERIFY2(!src.empty(), ("cannot read the template " + file).c_str());
            for (const auto& r : it.value()["renders"]) {
                value vars(rl::jinja::object{});
                vars.set("messages", from_json(r["messages"]));
                vars.set("add_generation_prompt", value(r["add_generation_prompt"].get<bool>()));
                vars.set("bos_token", value(it.value()["bos_token"].get<std::string>()));
                vars.set("eos_token", value(it.value()["eos_token"].get<std::string>()));
                const std::string why = check(file + " / " + r["name"].get<std::string>(), src, vars, r);
                QVERIFY2(why.empty(), why.c_str());
                ++checked;
                refused += r.contains("error");
            }
        }
        QVERIFY(checked >= 20);
        QVERIFY(refused >= 1);   // Gemma 2 refuses a system turn
    }

    void smollm2_template_matches_jinja2() {
        const ordered g = read("chat_smollm2.json");
        QVERIFY2(g.contains("cases"), "cannot read tests/golden/chat_smollm2.json");
        const std::string src = g["chat_template"].get<std::string>();
        int checked = 0;
        for (const auto& c : g["cases"]) {
            value vars(rl::jinja::object{});
            vars.set("messages", from_json(c["messages"]));
            vars.set("add_generation_prompt", value(c.value("add_generation_prompt", true)));
            const std::string why = check("smollm2 / " + c.value("name", std::to_string(checked)), src, vars, c);
            QVERIFY2(why.empty(), why.c_str());
            ++checked;
        }
        QVERIFY(checked >= 5);
    }

    void errors_name_their_line() {
        QVERIFY(throws_with("a\n{% if x %}b", "line 2"));                   // no endif
        QVERIFY(throws_with("{{ 1 +  }}", "line 1"));
        QVERIFY(throws_with("x\ny\n{% for in y %}{% endfor %}", "line 3"));
        QVERIFY(throws_with("{% include 'x' %}", "unsupported tag"));
        QVERIFY(throws_with("{{ 'a' + 1 }}", "unsupported operand"));
        QVERIFY(throws_with("{{ x | nosuchfilter }}", "unknown filter"));
        QVERIFY(throws_with("{{ raise_exception('no system turns') }}", "no system turns"));
        QVERIFY(throws_with("{{ [1][3] }}", "out of range"));
        QVERIFY(throws_with("{{ 'unterminated }}", "unclosed {{"));
        QVERIFY(throws_with("{% set x.y = 1 %}", "namespace"));
        QVERIFY(throws_with("{{ nothing.attr }}", "undefined"));
        // A template comes with the model file: untrusted. Its work, memory and nesting are bounded.
        QVERIFY(throws_with("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                            "16 MiB"));
        QVERIFY(throws_with("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "too long"));
        QVERIFY(throws_with("{{ range(10000000) | length }}", "100,000"));
        QVERIFY(throws_with("{{ 'x' * 100000000 }}", "16 MiB"));
        QVERIFY(throws_with("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "nested too deeply"));
        QVERIFY(throws_with("{{ " + std::string(500, '(') + "1" + std::string(500, ')') + " }}", "nested too deeply"));
        QVERIFY(throws_with("{{ " + std::string(500, '-') + "1 }}", "nested too deeply"));
        std::string deep;
        for (int i = 0; i < 300; ++i) deep += "{% if 1 %}";
        QVERIFY(throws_with(deep, "nested too deeply"));
        // Found by review: each once crashed, hung or ran away with memory.
        std::string chain = "{{ 1";
        for (int i = 0; i < 300000; ++i) chain += "+1";
        QVERIFY(throws_with(chain + " }}", "nested too deeply"));
        std::string filters = "{{ 'x'";
        for (int i = 0; i < 5000; ++i) filters += "|string";
        QVERIFY(throws_with(filters + " }}", "nested too deeply"));
        QVERIFY(throws_with("{% set ns = namespace(x=0) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}",
                            "nested more than 100"));
        QVERIFY(throws_with("{% set ns = namespace(x=0) %}{% for i in range(100000) %}{% set ns.x = dict(a=ns.x) %}{% endfor %}",
                            "nested more than 100"));
        QVERIFY(throws_with("{% set ns = namespace(x=[1]) %}{% for i in range(60) %}{% set ns.x = [ns.x, ns.x] %}{% endfor %}{{ ns.x }}",
                            "too long"));
        QVERIFY(throws_with("{% set ns = namespace(x=[1]) %}{% for i in range(60) %}{% set ns.x = [ns.x, ns.x] %}{% endfor %}{{ ns.x == ns.x }}",
                            "too long"));
        QVERIFY(throws_with("{% set ns = namespace(x=0) %}{% set ns.x = ns %}{{ ns }}", "contain itself"));
        QVERIFY(throws_with("{% set ns = namespace(x=0) %}{% set ns.x = [1, {'a': ns}] %}", "contain itself"));
        QVERIFY(throws_with("{{ ('a' * 16000000).split('a') | length }}", "1,000,000"));
        QVERIFY(throws_with("{% set big = range(100000) | list %}{% for i in range(100000) %}{{ -1 in big }}{% endfor %}", "too long"));
        QVERIFY(throws_with("{{ range(3000) | tojson(indent=5000000) }}", "indent"));
        QVERIFY(throws_with("{{ 99999999999999999999 }}", "too large"));
        QVERIFY(throws_with("{{ 2 ** 64 }}", "overflow"));
        QVERIFY(throws_with("{{ 9223372036854775807 + 1 }}", "overflow"));
        QVERIFY(throws_with("{{ 'a'.split('') }}", "empty separator"));
        QVERIFY(throws_with("{% break %}", "outside a loop"));
        auto render = [](const std::string& src) { return rl::jinja::program::parse(src).render(value(rl::jinja::object{})); };
        QCOMPARE(render("{{ ('x' * 2000)[1500::9223372036854774784] }}"), std::string("x"));
        QCOMPARE(render("{{ (-9223372036854775807 - 1) % -1 }}"), std::string("0"));
        QCOMPARE(render("{{ '' * 9999999999999 }}|{{ ('a' * 1000000).replace('a', '') | length }}"), std::string("|0"));
    }

    void strftime_and_loop_scope() {
        // strftime_now (Llama 3.1's template dates its system turn) gives today's date.
        const std::string year = rl::jinja::program::parse("{{ strftime_now('%Y') }}").render(value(rl::jinja::object{}));
        QCOMPARE(int(year.size()), 4);
        QVERIFY(year >= "2025");
        // A variable set inside a loop body does not outlive the iteration.
        QCOMPARE(rl::jinja::program::parse("{% for i in [1] %}{% set t = 5 %}{% endfor %}[{{ t }}]").render(value(rl::jinja::object{})),
                 std::string("[]"));
    }
};

RL_TEST_MAIN(TestJinja, feature_templates_match_jinja2, real_family_templates_match_jinja2, smollm2_template_matches_jinja2,
             errors_name_their_line, strftime_and_loop_scope)
#include "test_jinja.moc"
