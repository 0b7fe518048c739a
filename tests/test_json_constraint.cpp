// test_json_constraint: the incremental JSON validator on valid and invalid documents, and the
// token mask over a small hand-made vocabulary: random walks through the allowed tokens always end
// in an object that nlohmann parses, end-of-generation is allowed only once it is closed; and a
// differential check against nlohmann on random edits of valid documents.
#include "rl_test.h"

#include "serving/json_constraint.h"
#include "serving/json_schema.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

using namespace rl;

namespace {

bool accepts(const std::string& s) {
    json_validator v;
    return v.feed(s);
}

bool complete(const std::string& s) {
    json_validator v;
    return v.feed(s) && v.complete();
}

// Pieces a BPE vocabulary might have: single bytes, words, and multi-byte runs that mix syntax.
std::shared_ptr<json_vocabulary> small_vocab() {
    auto v = std::make_shared<json_vocabulary>();
    const std::vector<std::string> pieces = {
        "<eos>", "<|im_start|>", "{", "}", "[", "]", ":", ",", "\"", " ", "\n", "a", "b", "key", "\":",
        "\",", "{\"", "\"}", "0", "1", "12", "-", ".", "5", "e", "+", "true", "false", "null", "tr", "ue",
        "\\", "n", "u", "l", "ll", "s", "00e9", "\xc3", "\xa9", "\xc3\xa9", "},", "],", "]}", "x", "\t\t",
    };
    for (const auto& p : pieces) {
        v->pieces.push_back(p);
        v->kind.push_back(p == "<eos>" ? 1 : p == "<|im_start|>" ? 2 : 0);
    }
    return v;
}

} // namespace

class TestJsonConstraint : public QObject {
    Q_OBJECT
private slots:
    void validDocuments();
    void invalidDocuments();
    void maskFollowsTheState();
    void randomWalksParse();
    void agreesWithNlohmannOnMutations();
    void schemaDocuments();
    void schemaRandomWalksSatisfyIt();
};

void TestJsonConstraint::validDocuments() {
    for (const char* s : {"{}", " {\"a\":1}", "{\"a\": [1, -2.5e+3, 0.25, 0, true, false, null, \"x\"]}",
                          "{\"k\": {\"n\": {}}, \"l\": [[], [{}]]}", "{\"s\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}",
                          "{\"\xc3\xa9\": \"\xe2\x82\xac\xf0\x9f\x98\x80\"}", "{\"a\":1E5,\"b\":-0}"}) {
        QVERIFY2(complete(s), s);
        QVERIFY2(nlohmann::json::accept(s), s);  // the reference agrees
    }
    // Prefixes of valid documents are accepted but not complete.
    QVERIFY(accepts("{\"a\": [1, 2") && !complete("{\"a\": [1, 2"));
    QVERIFY(accepts("{\"a\": tr") && !complete("{\"a\": tr"));
    QVERIFY(accepts("{\"a\": 1.") && !complete("{\"a\": 1."));
}

void TestJsonConstraint::invalidDocuments() {
    for (const char* s : {"[1]", "\"x\"", "1", "{a:1}", "{\"a\" 1}", "{\"a\":}", "{\"a\":1,}", "{\"a\":[1,]}",
                          "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":tru}",
                          "{\"a\":\"\\x\"}", "{\"a\":\"\\u12g4\"}", "{\"a\":\"\x01\"}", "{\"a\":1]", "{}}", "{} x",
                          "{\"a\":\"\xc3(\"}", "{\"a\":\xc3\xa9}"}) {
        QVERIFY2(!complete(s), s);
        QVERIFY2(!nlohmann::json::accept(s) || std::string(s).front() != '{', s);
    }
    // Nothing after the object, not even whitespace: generation is to end there.
    QVERIFY(!complete("{\"a\":1}\n"));
    // Too much whitespace in a row, and nesting past the bound.
    QVERIFY(!accepts("{" + std::string(json_validator::kMaxWhitespace + 1, ' ')));
    QVERIFY(accepts("{\"a\":" + std::string(json_validator::kMaxDepth - 1, '[')));
    QVERIFY(!accepts("{\"a\":" + std::string(json_validator::kMaxDepth, '[')));
}

void TestJsonConstraint::maskFollowsTheState() {
    auto vocab = small_vocab();
    json_constraint c(vocab);
    const int n = int(vocab->pieces.size());
    auto allowed = [&]() {
        std::vector<float> l(static_cast<size_t>(n), 0.f);
        c.mask(l.data(), n);
        std::vector<std::string> out;
        for (int i = 0; i < n; ++i)
            if (std::isfinite(l[size_t(i)])) out.push_back(vocab->pieces[size_t(i)]);
        return out;
    };
    auto has = [](const std::vector<std::string>& v, const std::string& s) {
        return std::find(v.begin(), v.end(), s) != v.end();
    };
    auto a = allowed();  // the start: an object, or whitespace
    QVERIFY(has(a, "{") && has(a, "{\"") && has(a, " ") && !has(a, "[") && !has(a, "<eos>") && !has(a, "<|im_start|>"));
    c.accept(2);  // "{"
    a = allowed();
    QVERIFY(has(a, "}") && has(a, "\"") && !has(a, "a") && !has(a, ":") && !has(a, "<eos>"));
    c.accept(3);  // "}": complete, only end-of-generation is left
    QVERIFY(c.complete());
    a = allowed();
    QCOMPARE(int(a.size()), 1);
    QCOMPARE(a[0], std::string("<eos>"));
}

void TestJsonConstraint::randomWalksParse() {
    auto vocab = small_vocab();
    const int n = int(vocab->pieces.size());
    std::mt19937 rng(1234);
    int finished = 0;
    for (int walk = 0; walk < 300; ++walk) {
        json_constraint c(vocab);
        std::string out;
        bool ended = false;
        for (int step = 0; step < 400 && !ended; ++step) {
            std::vector<float> l(static_cast<size_t>(n));
            // Random logits that favour closing brackets a little, so walks end.
            for (int i = 0; i < n; ++i) l[size_t(i)] = std::uniform_real_distribution<float>(0.f, 1.f)(rng);
            l[3] += 0.6f, l[5] += 0.6f, l[0] += 2.f;
            c.mask(l.data(), n);
            std::vector<int> ok;
            for (int i = 0; i < n; ++i)
                if (std::isfinite(l[size_t(i)])) ok.push_back(i);
            QVERIFY(!ok.empty());
            int best = ok[0];
            for (int i : ok)
                if (l[size_t(i)] > l[size_t(best)]) best = i;
            if (vocab->kind[size_t(best)] == 1) {
                ended = true;
                break;
            }
            c.accept(best);
            out += vocab->pieces[size_t(best)];
        }
        if (!ended) continue;
        ++finished;
        QVERIFY2(nlohmann::json::accept(out), out.c_str());
        QVERIFY2(nlohmann::json::parse(out).is_object(), out.c_str());
    }
    QVERIFY2(finished >= 100, std::to_string(finished).c_str());
}

// Differential: small random edits of valid documents, judged by nlohmann (an object at the top,
// nothing after it, within the validator's whitespace and depth bounds) and by the validator.
// The edit alphabet has no 'd' or other hex letters past 'f' besides those in literals, so no
// \uD800 surrogate escape (nlohmann refuses lone surrogates; the validator does not check them).
void TestJsonConstraint::agreesWithNlohmannOnMutations() {
    const std::vector<std::string> seeds = {"{\"a\": [1, -2.5e+3, true, null]}", "{\"k\": {\"n\": \"x\\n\"}, \"l\": []}",
                                            "{}", "{\"a\":0.5,\"b\":[{}]}"};
    const std::string alphabet = "{}[]:,\"\\ 0123456789.-+eEtrufalsn\n";
    std::mt19937 rng(99);
    auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
    int valid = 0, invalid = 0;
    for (int it = 0; it < 20000; ++it) {
        std::string s = seeds[pick(seeds.size())];
        for (size_t k = 0, edits = 1 + pick(3); k < edits; ++k) {
            const size_t at = pick(s.size() + 1);
            const char c = alphabet[pick(alphabet.size())];
            switch (pick(3)) {
            case 0: s.insert(s.begin() + std::ptrdiff_t(at), c); break;
            case 1: if (at < s.size()) s.erase(at, 1); break;
            default: if (at < s.size()) s[at] = c; break;
            }
        }
        bool want = false;
        try {
            want = nlohmann::json::parse(s).is_object() && s.back() == '}';
        } catch (const nlohmann::json::out_of_range&) {
            continue;  // a number beyond double ("1e434"): valid JSON syntax, refused by nlohmann's parser
        } catch (const nlohmann::json::exception&) {
        }
        size_t run = 0, longest = 0;
        for (char c : s) longest = std::max(longest, run = (c == ' ' || c == '\n') ? run + 1 : 0);
        if (longest > size_t(json_validator::kMaxWhitespace)) want = false;
        QVERIFY2(complete(s) == want, (s + (want ? " should be complete" : " should not be")).c_str());
        (want ? valid : invalid) += 1;
    }
    QVERIFY(valid > 500 && invalid > 500);
}

namespace {

// {"name": string, "age": integer, "tags": [enum "a" | "b" | 12 | 1], "ok": boolean, "score": number,
//  "none": null, "empty": {}} (keys written in this order).
std::shared_ptr<json_schema> test_schema() {
    using k = schema_node::kind;
    auto s = std::make_shared<json_schema>();
    s->nodes.resize(9);
    s->nodes[0].k = k::object;
    s->nodes[0].properties = {{"\"name\"", 1}, {"\"age\"", 2}, {"\"tags\"", 3}, {"\"ok\"", 5},
                              {"\"score\"", 6}, {"\"none\"", 7}, {"\"empty\"", 8}};
    s->nodes[1].k = k::string;
    s->nodes[2].k = k::integer;
    s->nodes[3].k = k::array;
    s->nodes[3].items = 4;
    s->nodes[4].k = k::literals;
    s->nodes[4].literals = {"\"a\"", "\"b\"", "12", "1"};
    s->nodes[5].k = k::literals;
    s->nodes[5].literals = {"true", "false"};
    s->nodes[6].k = k::number;
    s->nodes[7].k = k::literals;
    s->nodes[7].literals = {"null"};
    s->nodes[8].k = k::object;
    return s;
}

bool schema_complete(const json_schema& s, const std::string& doc) {
    json_schema_matcher m(&s);
    return m.feed(doc) && m.complete();
}

// The document's shape, checked independently of the matcher.
bool satisfies(const nlohmann::json& j) {
    if (!j.is_object() || j.size() != 7) return false;
    if (!j["name"].is_string() || !j["age"].is_number_integer() || !j["ok"].is_boolean()) return false;
    if (!j["score"].is_number() || !j["none"].is_null() || j["empty"] != nlohmann::json::object()) return false;
    if (!j["tags"].is_array()) return false;
    for (const auto& t : j["tags"])
        if (t != "a" && t != "b" && t != 12 && t != 1) return false;
    return true;
}

} // namespace

void TestJsonConstraint::schemaDocuments() {
    const auto s = test_schema();
    const std::string good = R"({"name": "x\u00e9", "age": -12, "tags": ["a", 12, 1, "b"], "ok": false, "score": 1.5e-3, "none": null, "empty": {}})";
    QVERIFY(schema_complete(*s, good));
    QVERIFY(satisfies(nlohmann::json::parse(good)));
    QVERIFY(schema_complete(*s, R"({"name":"","age":0,"tags":[],"ok":true,"score":-0,"none":null,"empty":{ }})"));
    for (const char* bad : {
             R"({"age": 1, "name": "x", "tags": [], "ok": true, "score": 1, "none": null, "empty": {}})",  // order
             R"({"name": "x", "age": 1.5, "tags": [], "ok": true, "score": 1, "none": null, "empty": {}})", // integer
             R"({"name": "x", "age": 1, "tags": ["c"], "ok": true, "score": 1, "none": null, "empty": {}})", // enum
             R"({"name": "x", "age": 1, "tags": [123], "ok": true, "score": 1, "none": null, "empty": {}})", // enum
             R"({"name": "x", "age": 1, "tags": [], "ok": 1, "score": 1, "none": null, "empty": {}})",     // boolean
             R"({"name": "x", "age": 1, "tags": [], "ok": true, "score": 1, "none": null})",               // missing
             R"({"name": "x", "age": 1, "tags": [], "ok": true, "score": 1, "none": null, "empty": {}, "x": 1})",
             R"({"name": 5, "age": 1, "tags": [], "ok": true, "score": 1, "none": null, "empty": {}})",
             R"(["name"])"}) {
        QVERIFY2(!schema_complete(*s, bad), bad);
    }
    // Prefixes are accepted but not complete; "1" may still become "12".
    json_schema_matcher m(s.get());
    QVERIFY(m.feed(R"({"name": "x", "age": 7, "tags": [1)") && !m.complete());
    QVERIFY(m.feed("2, 1]") && !m.complete());
}

void TestJsonConstraint::schemaRandomWalksSatisfyIt() {
    const auto s = test_schema();
    auto vocab = small_vocab();
    std::vector<std::string> more = {"name", "age", "tags", "ok", "score", "none", "empty", "\"name\":", "1.5", "e-3"};
    for (char c = 'a'; c <= 'z'; ++c) more.push_back(std::string(1, c));  // every key can be spelled
    for (const auto& p : more) {
        vocab->pieces.push_back(p);
        vocab->kind.push_back(0);
    }
    const int n = int(vocab->pieces.size());
    std::mt19937 rng(77);
    int finished = 0;
    for (int walk = 0; walk < 200; ++walk) {
        json_schema_constraint c(vocab, s);
        std::string out;
        for (int step = 0; step < 300; ++step) {
            std::vector<float> l(static_cast<size_t>(n));
            for (auto& x : l) x = std::uniform_real_distribution<float>(0.f, 1.f)(rng);
            l[0] += 2.f;   // end as soon as allowed
            l[3] += 0.5f;  // "}" and "]" a little more likely, so walks end
            l[5] += 0.5f;
            c.mask(l.data(), n);
            int best = -1;
            for (int i = 0; i < n; ++i)
                if (std::isfinite(l[size_t(i)]) && (best < 0 || l[size_t(i)] > l[size_t(best)])) best = i;
            QVERIFY(best >= 0);
            if (vocab->kind[size_t(best)] == 1) {
                QVERIFY2(c.complete(), out.c_str());  // not the "nothing else fits" fallback
                ++finished;
                nlohmann::json j;
                try {
                    j = nlohmann::json::parse(out);
                } catch (const nlohmann::json::out_of_range&) {
                    break;  // a number beyond double ("100e9515"): valid syntax that nlohmann refuses
                } catch (const nlohmann::json::exception& e) {
                    QVERIFY2(false, (out + ": " + e.what()).c_str());
                }
                QVERIFY2(satisfies(j), out.c_str());
                break;
            }
            c.accept(best);
            out += vocab->pieces[size_t(best)];
        }
    }
    QVERIFY2(finished >= 50, std::to_string(finished).c_str());
}

RL_TEST_MAIN(TestJsonConstraint, validDocuments, invalidDocuments, maskFollowsTheState, randomWalksParse,
             agreesWithNlohmannOnMutations, schemaDocuments, schemaRandomWalksSatisfyIt)
#include "test_json_constraint.moc"
