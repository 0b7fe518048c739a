// test_bad_models: hand-made bad GGUF files through the engine's own load path (rl::engine::create,
// as ridgeline-cli, ridgeline-serve and the window call it). Starting from a tiny valid llama model
// (tests/support/tiny_gguf.h) that loads and generates, the corpus breaks one thing at a time:
// truncation at every section boundary, wrong magic, counts and lengths near 2^64, a tensor
// outside the file, shapes wrong for the architecture, unknown and unreadable dtypes, a vocabulary
// that disagrees with the embedding. Each must end in exactly one engine_error line that names
// the file and the problem; nothing may crash. Also the memory rule: a model whose weights exceed
// the available RAM is refused before anything is allocated (model/memory_fit.h).
#include "rl_test.h"
#include "tiny_gguf.h"

#include "common/engine_error.h"
#include "model/memory_fit.h"
#include "model/synthetic.h"
#include "runtime/engine.h"

#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sys/resource.h>
#include <unistd.h>

using tiny_gguf::bytes;

namespace {

std::string tempPath(std::string tag) {
    for (char& c : tag)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_') c = '_';
    return (std::filesystem::temp_directory_path() /
            ("rl_bad_model_" + std::to_string(::getpid()) + "_" + tag + ".gguf")).string();
}

rl::engine_options tinyOptions(const std::string& path) {
    rl::engine_options o;
    o.model_path = path;
    o.backend = "cpu";
    o.threads = 1;
    o.calibrate = false;
    o.serving.max_model_len = 64;
    o.serving.max_num_seqs = 2;
    o.serving.max_num_batched_tokens = 64;
    o.serving.kv_blocks = 8;
    return o;
}

// Loads `b` from a file through rl::engine::create. Returns "<loaded>" or the error text; an
// exception that is not engine_error is reported as such (a bad_alloc would be a finding).
std::string loadError(const bytes& b, const std::string& tag, std::string* pathOut = nullptr) {
    const std::string path = tempPath(tag);
    if (pathOut) *pathOut = path;
    if (!tiny_gguf::write_file(path, b)) return "<could not write " + path + ">";
    std::string out = "<loaded>";
    try {
        auto eng = rl::engine::create(tinyOptions(path));
    } catch (const rl::engine_error& e) {
        out = e.what();
    } catch (const std::exception& e) {
        out = std::string("<non-engine exception: ") + e.what() + ">";
    }
    std::remove(path.c_str());
    return out;
}

bool has(const std::string& s, const std::string& frag) { return s.find(frag) != std::string::npos; }

// One line, naming the file, containing one of the fragments.
#define EXPECT_LOAD_ERROR(bytes_, tag_, ...)                                                              \
    do {                                                                                                   \
        std::string path_;                                                                                 \
        const std::string e_ = loadError(bytes_, tag_, &path_);                                            \
        if (std::getenv("RL_SHOW_ERRORS")) std::printf("%s\n    %s\n", std::string(tag_).c_str(), e_.c_str()); \
        bool any_ = false;                                                                                 \
        for (const std::string& f_ : std::vector<std::string>{__VA_ARGS__}) any_ = any_ || has(e_, f_);    \
        QVERIFY2(any_, (std::string(tag_) + ": unexpected message: " + e_).c_str());                       \
        QVERIFY2(e_.find('\n') == std::string::npos, (std::string(tag_) + ": more than one line: " + e_).c_str()); \
        QVERIFY2(has(e_, "'" + path_ + "'"), (std::string(tag_) + ": the file is not named: " + e_).c_str()); \
    } while (0)

void resizeData(tiny_gguf::tensor& t) {
    int64_t n = 1;
    for (int64_t d : t.dims) n *= d;
    t.data = tiny_gguf::f32_data(n, 99);
}

size_t peakRssBytes() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return size_t(u.ru_maxrss) * 1024;
}

size_t memAvailable() {
    std::ifstream f("/proc/meminfo");
    std::string key;
    size_t kb = 0;
    while (f >> key >> kb) {
        if (key == "MemAvailable:") return kb * 1024;
        f.ignore(256, '\n');
    }
    return 0;
}

} // namespace

class TestBadModels : public QObject {
    Q_OBJECT
private slots:
    void validTinyModelLoadsAndGenerates() {
        const std::string path = tempPath("valid");
        QVERIFY(tiny_gguf::write_file(path, tiny_gguf::valid_llama().serialize()));
        std::unique_ptr<rl::engine> eng;
        try {
            eng = rl::engine::create(tinyOptions(path));
        } catch (const std::exception& e) {
            std::remove(path.c_str());
            QFAIL((std::string("the valid tiny model does not load: ") + e.what()).c_str());
        }
        std::remove(path.c_str());
        QCOMPARE(eng->config().n_layers, tiny_gguf::kLayers);
        QCOMPARE(eng->config().vocab_size, tiny_gguf::kVocab);
        std::mutex mu;
        std::condition_variable cv;
        bool done = false;
        int tokens = 0;
        rl::finish_reason why{};
        rl::request r;
        r.prompt = eng->tokenize_text("hello");
        QVERIFY(r.prompt.size() >= 2);   // BOS and some characters
        r.max_tokens = 4;
        r.ignore_eos = true;
        r.on_event = [&](const rl::token_event& e) {
            std::lock_guard lk(mu);
            if (e.finish == rl::finish_reason::none) ++tokens;
            else { done = true; why = e.finish; cv.notify_all(); }
        };
        eng->submit(std::move(r));
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return done; });
        QCOMPARE(int(why), int(rl::finish_reason::length));
        QCOMPARE(tokens, 4);
    }

    void truncatedAtEverySectionBoundary() {
        std::vector<tiny_gguf::mark> marks;
        const bytes whole = tiny_gguf::valid_llama().serialize(&marks);
        QVERIFY(marks.size() > 40);   // header, 15 kvs (twice), 20 tensor infos, padding, data
        int n = 0;
        for (const tiny_gguf::mark& m : marks) {
            QVERIFY(m.offset < whole.size());
            const bytes cut(whole.begin(), whole.begin() + std::ptrdiff_t(m.offset));
            EXPECT_LOAD_ERROR(cut, "truncated " + m.what, "truncated", "corrupt or truncated", "truncated or corrupt");
            ++n;
        }
        QCOMPARE(n, int(marks.size()));
        // A zero-length file and one of four bytes.
        EXPECT_LOAD_ERROR(bytes{}, "empty file", "not a GGUF file");
        EXPECT_LOAD_ERROR(bytes(whole.begin(), whole.begin() + 4), "magic only", "truncated");
    }

    void wrongMagic() {
        tiny_gguf::file f = tiny_gguf::valid_llama();
        f.magic = 0x46554746;   // "FGUF"
        EXPECT_LOAD_ERROR(f.serialize(), "wrong magic", "not a GGUF file (bad magic)");
        f = tiny_gguf::valid_llama();
        f.version = 7;
        EXPECT_LOAD_ERROR(f.serialize(), "version 7", "unsupported GGUF version 7");
    }

    void hugeCountsAndLengths() {
        tiny_gguf::file f = tiny_gguf::valid_llama();
        f.n_tensors = ~uint64_t{0};
        EXPECT_LOAD_ERROR(f.serialize(), "n_tensors 2^64-1", "tensor count 18446744073709551615 is too large");
        f = tiny_gguf::valid_llama();
        f.n_kv = ~uint64_t{0} - 1;
        EXPECT_LOAD_ERROR(f.serialize(), "n_kv 2^64-2", "metadata count 18446744073709551614 is too large");
        // The vocabulary array claims 2^64-8 strings.
        f = tiny_gguf::valid_llama();
        bytes& arr = f.find_kv("tokenizer.ggml.tokens")->value;
        const uint64_t huge = ~uint64_t{0} - 7;
        std::memcpy(arr.data() + 4, &huge, 8);
        EXPECT_LOAD_ERROR(f.serialize(), "array length", "key 'tokenizer.ggml.tokens': array length 18446744073709551608");
        // A string value (general.name) whose length is near 2^64.
        f = tiny_gguf::valid_llama();
        bytes& name = f.find_kv("general.name")->value;
        const uint64_t hugeLen = ~uint64_t{0} - 1;
        std::memcpy(name.data(), &hugeLen, 8);
        EXPECT_LOAD_ERROR(f.serialize(), "string length", "string value length 18446744073709551614");
        // A tensor whose dimensions multiply past 2^63.
        f = tiny_gguf::valid_llama();
        f.find_tensor("blk.0.attn_k.weight")->dims = {int64_t{1} << 40, int64_t{1} << 30};
        EXPECT_LOAD_ERROR(f.serialize(), "dims overflow", "element count overflows");
    }

    void tensorOutsideTheFile() {
        tiny_gguf::file f = tiny_gguf::valid_llama();
        f.find_tensor("blk.1.ffn_down.weight")->offset = uint64_t{1} << 40;
        EXPECT_LOAD_ERROR(f.serialize(), "offset 2^40", "tensor 'blk.1.ffn_down.weight' data out of bounds");
        f = tiny_gguf::valid_llama();
        f.find_tensor("blk.0.attn_q.weight")->offset = ~uint64_t{31};   // aligned, wraps when added
        EXPECT_LOAD_ERROR(f.serialize(), "offset wraps", "tensor 'blk.0.attn_q.weight' data out of bounds");
        f = tiny_gguf::valid_llama();
        f.find_tensor("blk.0.attn_q.weight")->offset = 20;   // not a multiple of the alignment
        EXPECT_LOAD_ERROR(f.serialize(), "misaligned", "is not a multiple of the alignment 32");
    }

    void shapesWrongForTheArchitecture() {
        tiny_gguf::file f = tiny_gguf::valid_llama();
        tiny_gguf::tensor* q = f.find_tensor("blk.0.attn_q.weight");
        q->dims = {32, 16};
        resizeData(*q);
        EXPECT_LOAD_ERROR(f.serialize(), "attn_q dims",
                          "tensor 'blk.0.attn_q.weight' has shape [32, 16], expected [32, 32]");
        f = tiny_gguf::valid_llama();
        tiny_gguf::tensor* down = f.find_tensor("blk.1.ffn_down.weight");
        down->dims = {32, 64};   // transposed
        EXPECT_LOAD_ERROR(f.serialize(), "ffn_down transposed",
                          "tensor 'blk.1.ffn_down.weight' has shape [32, 64], expected [64, 32]");
        f = tiny_gguf::valid_llama();
        f.tensors.erase(f.tensors.begin() + (f.find_tensor("blk.0.attn_k.weight") - f.tensors.data()));
        EXPECT_LOAD_ERROR(f.serialize(), "missing tensor", "missing tensor 'blk.0.attn_k.weight'");
        f = tiny_gguf::valid_llama();
        f.find_kv("llama.attention.head_count")->value = tiny_gguf::enc<uint32_t>(5);
        EXPECT_LOAD_ERROR(f.serialize(), "heads", "must be a multiple of attention.head_count_kv",
                          "is not a multiple of attention.head_count");
        f = tiny_gguf::valid_llama();
        f.find_kv("llama.block_count")->value = tiny_gguf::enc<uint32_t>(0);
        EXPECT_LOAD_ERROR(f.serialize(), "no layers", "key 'llama.block_count' must be a positive integer, got 0");
        f = tiny_gguf::valid_llama();
        f.find_kv("general.architecture")->value = tiny_gguf::enc_str("mamba");
        EXPECT_LOAD_ERROR(f.serialize(), "architecture", "unsupported model architecture 'mamba'");
    }

    void unknownAndUnreadableDtypes() {
        tiny_gguf::file f = tiny_gguf::valid_llama();
        f.find_tensor("blk.0.ffn_up.weight")->type = 99;
        EXPECT_LOAD_ERROR(f.serialize(), "dtype 99", "tensor 'blk.0.ffn_up.weight' has unknown type 99");
        // q8_1: a real ggml type the reader can size but the engine cannot dequantize.
        f = tiny_gguf::valid_llama();
        f.find_tensor("blk.1.ffn_gate.weight")->type = tiny_gguf::g_q8_1;
        EXPECT_LOAD_ERROR(f.serialize(), "dtype q8_1", "tensor 'blk.1.ffn_gate.weight' has type q8_1, which this engine cannot dequantize");
    }

    void vocabularyDisagreesWithTheEmbedding() {
        tiny_gguf::file f = tiny_gguf::valid_llama();
        tiny_gguf::tensor* e = f.find_tensor("token_embd.weight");
        e->dims = {32, 60};
        resizeData(*e);
        EXPECT_LOAD_ERROR(f.serialize(), "embedding rows", "the vocabulary has 64 tokens but token_embd.weight has 60 rows");
        // The config says 60 (llama.vocab_size) and the embedding agrees, but the tokenizer has 64.
        f.kvs.push_back({"llama.vocab_size", tiny_gguf::t_u32, tiny_gguf::enc<uint32_t>(60)});
        EXPECT_LOAD_ERROR(f.serialize(), "tokenizer larger", "tokenizer has 64 tokens but the embedding has 60 rows");
        // Tokens that are not strings, scores that are not numbers.
        f = tiny_gguf::valid_llama();
        bytes ints;
        tiny_gguf::put<uint32_t>(ints, tiny_gguf::t_u32);
        tiny_gguf::put<uint64_t>(ints, tiny_gguf::kVocab);
        for (int i = 0; i < tiny_gguf::kVocab; ++i) tiny_gguf::put<uint32_t>(ints, uint32_t(i));
        f.find_kv("tokenizer.ggml.tokens")->value = ints;
        EXPECT_LOAD_ERROR(f.serialize(), "int tokens", "tokenizer.ggml.tokens must be an array of strings");
        f = tiny_gguf::valid_llama();
        f.find_kv("tokenizer.ggml.scores")->value = tiny_gguf::string_array(tiny_gguf::vocab());
        EXPECT_LOAD_ERROR(f.serialize(), "string scores", "tokenizer.ggml.scores must be an array of numbers");
    }

    void weightsFitRule() {
        const size_t GiB = size_t(1) << 30;
        QCOMPARE(rl::weights_fit(2 * GiB, 8 * GiB, "cpu", "fp32", "m"), std::string());
        QCOMPARE(rl::weights_fit(8 * GiB, 8 * GiB, "cpu", "fp32", "m"), std::string());
        QCOMPARE(rl::weights_fit(64 * GiB, 0, "cpu", "fp32", "m"), std::string());   // unknown: not refused
        const std::string why = rl::weights_fit(22 * GiB, 8 * GiB, "cpu", "fp32", "synthetic:llama3-70b-4layers");
        QVERIFY2(has(why, "the weights of synthetic:llama3-70b-4layers need 22528 MiB as fp32 on the cpu backend "
                          "but only 8192 MiB of RAM is available"),
                 why.c_str());
        QVERIFY(why.find('\n') == std::string::npos);
        QVERIFY(has(rl::weights_fit(90 * GiB, 80 * GiB, "cuda", "bf16", "x"), "is free on the cuda device"));
    }

    void modelBiggerThanRamRefusedBeforeAllocating() {
        // The smallest synthetic model whose fp32 weights exceed MemAvailable here (llama3-8b needs
        // about 30 GiB); on a machine with more RAM than all of them this part has nothing to refuse.
        const size_t avail = memAvailable();
        QVERIFY(avail > 0);
        std::string name;
        size_t need = ~size_t{0};
        for (const std::string& n : rl::synthetic_names()) {
            const size_t b = size_t(rl::synthetic_config(n).param_count()) * 4;
            if (b > avail && b < need) { need = b; name = n; }
        }
        if (name.empty()) {
            std::printf("NOTE   : every synthetic model fits in %zu MiB of RAM; only the rule was checked\n", avail >> 20);
            return;
        }
        const size_t rssBefore = peakRssBytes();
        std::string error = "<loaded>";
        try {
            rl::engine_options o = tinyOptions("synthetic:" + name);
            auto eng = rl::engine::create(o);
        } catch (const rl::engine_error& e) {
            error = e.what();
        }
        QVERIFY2(has(error, "the weights of synthetic:" + name + " need") && has(error, "of RAM is available"),
                 error.c_str());
        // Refused before the fill: the peak resident size grew by far less than the weights.
        QVERIFY2(peakRssBytes() - rssBefore < need / 8,
                 ("peak RSS grew by " + std::to_string((peakRssBytes() - rssBefore) >> 20) + " MiB").c_str());
    }
};

RL_TEST_MAIN(TestBadModels, validTinyModelLoadsAndGenerates, truncatedAtEverySectionBoundary, wrongMagic,
             hugeCountsAndLengths, tensorOutsideTheFile, shapesWrongForTheArchitecture, unknownAndUnreadableDtypes,
             vocabularyDisagreesWithTheEmbedding, weightsFitRule, modelBiggerThanRamRefusedBeforeAllocating)
#include "test_bad_models.moc"
