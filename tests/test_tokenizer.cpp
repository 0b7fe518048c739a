// test_tokenizer: our tokenizers against llama.cpp's ids (tests/golden/tokens_*.json, made by
// generate_golden.py) for SmolLM2 and four vocab-only GGUFs, plus decode round trips, the
// streaming UTF-8 decoder, special-token handling, errors, and encode speed.
#include "rl_test.h"

#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <fstream>
#include <sstream>

using namespace rl;

namespace {

std::string model_path() { return RL_MODEL_PATH; }
std::string vocab_path(const std::string& file) {
    const std::string m = model_path();
    return m.substr(0, m.find_last_of('/') + 1) + "vocab/" + file;
}
bool exists(const std::string& p) { return std::ifstream(p).good(); }

std::string show_ids(const std::vector<int32_t>& ids) {
    std::ostringstream os;
    os << '[';
    for (size_t i = 0; i < ids.size(); ++i) os << (i ? ", " : "") << ids[i];
    os << ']';
    return os.str();
}

std::string to_hex(const std::string& s) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (const unsigned char c : s) {
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    return out;
}

bool valid_utf8(const std::string& s) {
    for (size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += n;
    }
    return true;
}

struct loaded {
    std::unique_ptr<gguf_file> file;
    std::unique_ptr<tokenizer> tok;
};
loaded load(const std::string& path) {
    loaded l;
    l.file = gguf_file::open(path);
    l.tok = tokenizer::from_gguf(*l.file);
    return l;
}

// Compares every golden case; returns an empty string when all match, else the first mismatch.
std::string check_golden(const std::string& golden, const std::string& gguf_path) {
    std::ifstream in(std::string(RL_TEST_DATA) + "/golden/" + golden);
    if (!in) return "cannot read golden file " + golden;
    const nlohmann::json j = nlohmann::json::parse(in);
    const loaded l = load(gguf_path);
    const tokenizer& t = *l.tok;
    size_t pass = 0, pieces_ok = 0, decode_checked = 0;
    std::string first_failure;
    for (const auto& c : j["cases"]) {
        const std::string text = c["text"];
        const bool add_bos = c["add_bos"], parse_special = c["parse_special"];
        const std::vector<int32_t> want = c["ids"].get<std::vector<int32_t>>();
        // llama.cpp's add_special only adds BOS when the vocabulary asks for it.
        const std::vector<int32_t> got = t.encode(text, add_bos && t.add_bos_default(), parse_special);
        std::string why;
        if (got != want) {
            why = "ids differ for text \"" + text + "\" (add_bos " + std::to_string(add_bos) + ", parse_special " +
                  std::to_string(parse_special) + ")\n   ours:     " + show_ids(got) + "\n   llama.cpp: " + show_ids(want);
        } else {
            ++pass;
        }
        bool pieces_match = true;
        const auto& hex = c["pieces_hex"];
        for (size_t i = 0; i < want.size() && i < hex.size(); ++i) {
            if (to_hex(t.token_to_piece(want[i])) != hex[i].get<std::string>()) {
                pieces_match = false;
                if (why.empty())
                    why = "token_to_piece(" + std::to_string(want[i]) + ") = " + to_hex(t.token_to_piece(want[i])) +
                          ", llama.cpp " + hex[i].get<std::string>();
            }
        }
        pieces_ok += pieces_match;
        // llama.cpp's round trip went through errors='replace'; compare where ours is valid text.
        const std::string decoded = t.decode(want);
        if (valid_utf8(decoded)) {
            ++decode_checked;
            const std::string ref = c["pieces_roundtrip"];
            if (decoded != ref && why.empty()) why = "decode of \"" + text + "\" gave \"" + decoded + "\", llama.cpp \"" + ref + "\"";
        }
        if (!why.empty()) {
            std::printf("MISMATCH %s: %s\n", golden.c_str(), why.c_str());
            if (first_failure.empty()) first_failure = why;
        }
    }
    std::printf("%s (%s, %s): ids %zu/%zu cases, pieces %zu/%zu, decode checked on %zu\n", golden.c_str(),
                t.model_name().c_str(), gguf_path.substr(gguf_path.find_last_of('/') + 1).c_str(), pass,
                j["cases"].size(), pieces_ok, j["cases"].size(), decode_checked);
    return first_failure;
}

// A minimal GGUF v3 file with only metadata, for tokenizers built from made-up vocabularies.
class gguf_writer {
public:
    void str(const std::string& key, const std::string& v) { head(key, 8); put_str(v); }
    void strs(const std::string& key, const std::vector<std::string>& v) {
        head(key, 9);
        put<uint32_t>(8);
        put<uint64_t>(v.size());
        for (const auto& s : v) put_str(s);
    }
    void i32s(const std::string& key, const std::vector<int32_t>& v) {
        head(key, 9);
        put<uint32_t>(5);
        put<uint64_t>(v.size());
        for (const int32_t x : v) put<int32_t>(x);
    }
    std::unique_ptr<gguf_file> file() const {
        std::vector<uint8_t> out;
        const auto raw = [&](const void* p, size_t n) {
            const auto* b = static_cast<const uint8_t*>(p);
            out.insert(out.end(), b, b + n);
        };
        const uint32_t magic = 0x46554747, version = 3;
        const uint64_t n_tensors = 0, n_kv = count_;
        raw(&magic, 4);
        raw(&version, 4);
        raw(&n_tensors, 8);
        raw(&n_kv, 8);
        out.insert(out.end(), body_.begin(), body_.end());
        return gguf_file::from_bytes(out.data(), out.size());
    }

private:
    template <typename T>
    void put(T v) {
        uint8_t b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        body_.insert(body_.end(), b, b + sizeof(T));
    }
    void put_str(const std::string& s) {
        put<uint64_t>(s.size());
        body_.insert(body_.end(), s.begin(), s.end());
    }
    void head(const std::string& key, uint32_t type) {
        put_str(key);
        put<uint32_t>(type);
        ++count_;
    }
    std::vector<uint8_t> body_;
    uint64_t count_ = 0;
};

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const engine_error& e) {
        return e.what();
    }
    return "";
}

} // namespace

class TestTokenizer : public QObject {
    Q_OBJECT
private slots:
    void golden_smollm2() { golden("tokens_smollm2.json", model_path()); }
    void golden_gpt2() { golden("tokens_gpt2.json", vocab_path("ggml-vocab-gpt-2.gguf")); }
    void golden_llama_bpe() { golden("tokens_llama_bpe.json", vocab_path("ggml-vocab-llama-bpe.gguf")); }
    void golden_qwen2() { golden("tokens_qwen2.json", vocab_path("ggml-vocab-qwen2.gguf")); }
    void golden_llama_spm() { golden("tokens_llama_spm.json", vocab_path("ggml-vocab-llama-spm.gguf")); }
    // Phi-3's SentencePiece vocabulary (32,064 tokens, its <|user|> / <|end|> specials):
    // tests/golden/make_vocab_goldens.py, llama.cpp through tests/golden/tools/lcpp_vocab_dump.cpp.
    void golden_phi3() { golden("tokens_phi3.json", vocab_path("ggml-vocab-phi-3.gguf")); }
    // Qwen3.5's byte-level BPE (pre "qwen35": marks count with letters), from the same script.
    void golden_qwen35() { golden("tokens_qwen35.json", vocab_path("ggml-vocab-qwen35.gguf")); }

    void decode_round_trips() {
        for (const std::string path : {model_path(), vocab_path("ggml-vocab-qwen2.gguf"), vocab_path("ggml-vocab-llama-spm.gguf")}) {
            if (!exists(path)) QFAIL(("missing " + path + ": run scripts/fetch-model").c_str());
            const loaded l = load(path);
            for (const std::string text : {"Hello, world!", "  two  spaces\tand\nlines\n\n", "naïve café 日本語 🙂 x²",
                                           "<|im_start|>not special here", "1234567 + 89 = ?"}) {
                const auto ids = l.tok->encode(text, false, false);
                QVERIFY2(l.tok->decode(ids) == text, (path + ": \"" + text + "\" came back as \"" + l.tok->decode(ids) + "\"").c_str());
            }
        }
    }

    void stream_decoder_holds_split_characters() {
        const std::string path = vocab_path("ggml-vocab-llama-spm.gguf");
        if (!exists(path)) QFAIL(("missing " + path + ": run scripts/fetch-model").c_str());
        const loaded l = load(path);
        // U+1F642 is not in this vocabulary: it becomes four <0xXX> byte tokens.
        const auto ids = l.tok->encode("a🙂b", false, false);
        utf8_stream_decoder d(*l.tok);
        std::string out;
        std::vector<std::string> pieces;
        for (const int32_t id : ids) pieces.push_back(d.push(id));
        for (const auto& p : pieces) {
            QVERIFY2(valid_utf8(p), "streamed a broken piece");
            out += p;
        }
        QCOMPARE(out, std::string(" a🙂b"));
        int empty = 0;
        for (const auto& p : pieces) empty += p.empty();
        QVERIFY2(empty >= 3, "the emoji's first three bytes should be held back");
        QCOMPARE(d.flush(), std::string());
        // A cut-off character is held, then flushed as U+FFFD.
        const int32_t f0 = l.tok->find_token("<0xF0>");
        QVERIFY(f0 >= 0);
        QCOMPARE(d.push(f0), std::string());
        QCOMPARE(d.flush(), std::string("\xEF\xBF\xBD"));
    }

    void special_tokens_atomic_only_when_parsed() {
        if (!exists(model_path())) QFAIL("model missing: run scripts/fetch-model");
        const loaded l = load(model_path());
        const int32_t im_start = l.tok->find_token("<|im_start|>");
        QVERIFY(im_start >= 0);
        QCOMPARE(l.tok->attr(im_start), token_attr::control);
        const auto parsed = l.tok->encode("<|im_start|>user\nHi", false, true);
        QCOMPARE(parsed.front(), im_start);
        const auto plain = l.tok->encode("<|im_start|>user\nHi", false, false);
        QVERIFY(plain.size() > parsed.size());
        for (const int32_t id : plain) QVERIFY(id != im_start);
        QCOMPARE(l.tok->decode(parsed), std::string("<|im_start|>user\nHi"));
    }

    void end_of_generation_and_bos_defaults() {
        if (!exists(model_path())) QFAIL("model missing: run scripts/fetch-model");
        const loaded s = load(model_path());
        QVERIFY(s.tok->is_end_of_generation(s.tok->find_token("<|im_end|>")));
        QVERIFY(s.tok->is_end_of_generation(s.tok->eos_id()));
        QVERIFY(!s.tok->is_end_of_generation(s.tok->find_token("<|im_start|>")));
        QVERIFY(!s.tok->is_end_of_generation(s.tok->encode("Hello", false, false)[0]));
        QVERIFY(!s.tok->add_bos_default());
        QCOMPARE(s.tok->model_name(), std::string("gpt2/smollm"));
        const std::string spm = vocab_path("ggml-vocab-llama-spm.gguf"), l3 = vocab_path("ggml-vocab-llama-bpe.gguf");
        if (!exists(spm) || !exists(l3)) QFAIL("vocab files missing: run scripts/fetch-model");
        QVERIFY(load(spm).tok->add_bos_default());
        const loaded l = load(l3);
        QVERIFY(l.tok->add_bos_default());  // llama.cpp's default for llama-bpe
        QVERIFY(l.tok->is_end_of_generation(l.tok->find_token("<|eot_id|>")));
        QCOMPARE(l.tok->encode("", true, true), std::vector<int32_t>{l.tok->bos_id()});
    }

    void tiny_vocab_and_errors() {
        gguf_writer w;
        w.str("tokenizer.ggml.model", "gpt2");
        w.str("tokenizer.ggml.pre", "gpt-2");
        w.strs("tokenizer.ggml.tokens", {"a", "b", "ab", "<|x|>", "\xC4\xA0"});  // "Ġ" is the space byte
        w.i32s("tokenizer.ggml.token_type", {1, 1, 1, 3, 1});
        w.strs("tokenizer.ggml.merges", {"a b"});
        const auto tok = tokenizer::from_gguf(*w.file());
        QCOMPARE(tok->encode("abab<|x|>a b", false, true), (std::vector<int32_t>{2, 2, 3, 0, 4, 1}));
        QCOMPARE(tok->decode({2, 3, 4}), std::string("ab<|x|> "));

        gguf_writer bad_pre;
        bad_pre.str("tokenizer.ggml.model", "gpt2");
        bad_pre.str("tokenizer.ggml.pre", "foo");
        const std::string e1 = error_of([&] { tokenizer::from_gguf(*bad_pre.file()); });
        QVERIFY2(e1.find("unsupported tokenizer pre-tokenizer 'foo'") != std::string::npos, e1.c_str());
        gguf_writer bad_model;
        bad_model.str("tokenizer.ggml.model", "bert");
        const std::string e2 = error_of([&] { tokenizer::from_gguf(*bad_model.file()); });
        QVERIFY2(e2.find("'bert'") != std::string::npos, e2.c_str());
    }

    void encodes_ten_thousand_tokens_quickly() {
        if (!exists(model_path())) QFAIL("model missing: run scripts/fetch-model");
        const loaded l = load(model_path());
        std::string text;
        while (text.size() < 60000)
            text += "The quick brown fox, 1234 times, jumps over the lazy dog; naïve café ünïcödé 日本語 🙂.\n";
        const auto t0 = std::chrono::steady_clock::now();
        const auto ids = l.tok->encode(text, false, false);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        std::printf("encoded %zu bytes into %zu tokens in %.1f ms\n", text.size(), ids.size(), ms);
        QVERIFY(ids.size() >= 10000);
        QVERIFY2(ms < 1000.0, ("encoding took " + std::to_string(ms) + " ms").c_str());
        QCOMPARE(l.tok->decode(ids), text);
    }

private:
    void golden(const std::string& file, const std::string& gguf) {
        if (!exists(gguf)) QFAIL(("missing " + gguf + ": run scripts/fetch-model").c_str());
        const std::string failure = check_golden(file, gguf);
        QVERIFY2(failure.empty(), failure.c_str());
    }
};

RL_TEST_MAIN(TestTokenizer, golden_smollm2, golden_gpt2, golden_llama_bpe, golden_qwen2, golden_llama_spm, golden_phi3, golden_qwen35,
             decode_round_trips, stream_decoder_holds_split_characters, special_tokens_atomic_only_when_parsed,
             end_of_generation_and_bos_defaults, tiny_vocab_and_errors, encodes_ten_thousand_tokens_quickly)
#include "test_tokenizer.moc"
