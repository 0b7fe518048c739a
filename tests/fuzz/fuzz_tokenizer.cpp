// fuzz_tokenizer: encode and decode with the real vocabularies, loaded once: the default model
// (SmolLM2, byte-level BPE) and models/vocab/ggml-vocab-{gpt-2,llama-bpe,qwen2,llama-spm}.gguf.
// Input layout: byte 0 picks the vocabulary (low nibble) and the mode (high nibble); the rest is
//   text mode (bit 7 clear): bytes to encode (bit 4: add_bos, bit 5: parse_special), then decode;
//   ids mode (bit 7 set): little-endian int32 token ids, in and out of range (bit 4 folds them
//   into [-8, vocab+8)), through decode(), token_to_piece/attr/is_end_of_generation and the
//   streaming UTF-8 decoder.
// Missing files are skipped (one line on stderr), so the target also runs on a bare checkout.
#include "fuzz_targets.h"

#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#ifndef RL_FUZZ_MODELS_DIR
#define RL_FUZZ_MODELS_DIR "models"
#endif

namespace rl_fuzz {

namespace {

struct vocab {
    std::string name;
    std::unique_ptr<rl::gguf_file> file;  // kept open: the tokenizer was built from it
    std::unique_ptr<rl::tokenizer> tok;
};

std::vector<vocab>& vocabs() {
    static std::vector<vocab> v;
    return v;
}

[[noreturn]] void fail(const char* what, long long id) {
    std::fprintf(stderr, "fuzz_tokenizer: %s (id %lld)\n", what, id);
    std::abort();
}

void text_mode(const rl::tokenizer& t, std::string_view text, bool add_bos, bool parse_special) {
    const std::vector<int32_t> ids = t.encode(text, add_bos, parse_special);
    // Every id the encoder emits must index the vocabulary: the model's embedding lookup trusts it.
    for (const int32_t id : ids)
        if (id < 0 || id >= t.vocab_size()) fail("encode produced an id outside the vocabulary", id);
    (void)t.decode(ids);
    rl::utf8_stream_decoder s(t);
    for (const int32_t id : ids) (void)s.push(id);
    (void)s.flush();
}

void ids_mode(const rl::tokenizer& t, const uint8_t* p, size_t n, bool fold) {
    std::vector<int32_t> ids(n / 4);
    for (size_t i = 0; i < ids.size(); ++i) {
        int32_t v;
        std::memcpy(&v, p + 4 * i, 4);
        if (fold) v = static_cast<int32_t>(static_cast<uint32_t>(v) % static_cast<uint32_t>(t.vocab_size() + 16)) - 8;
        ids[i] = v;
    }
    (void)t.decode(ids);
    rl::utf8_stream_decoder s(t);
    for (const int32_t id : ids) {
        (void)s.push(id);
        (void)t.token_to_piece(id);
        (void)t.is_end_of_generation(id);
        try {
            (void)t.attr(id);  // documented to throw for ids outside the vocabulary
            if (id < 0 || id >= t.vocab_size()) fail("attr() accepted an id outside the vocabulary", id);
        } catch (const rl::engine_error&) {
            if (id >= 0 && id < t.vocab_size()) fail("attr() refused a valid id", id);
        }
    }
    (void)s.flush();
}

} // namespace

std::string models_dir() {
    const char* env = std::getenv("RL_FUZZ_MODELS");
    return env && *env ? env : RL_FUZZ_MODELS_DIR;
}

void tokenizer_init() {
    if (!vocabs().empty()) return;
    const std::string dir = models_dir();
    const char* const files[] = {"SmolLM2-135M-Instruct.Q4_1.gguf", "vocab/ggml-vocab-gpt-2.gguf",
                                 "vocab/ggml-vocab-llama-bpe.gguf", "vocab/ggml-vocab-qwen2.gguf",
                                 "vocab/ggml-vocab-llama-spm.gguf"};
    for (const char* f : files) {
        const std::string path = dir + "/" + f;
        if (!std::filesystem::exists(path)) {
            std::fprintf(stderr, "fuzz_tokenizer: %s missing, skipped (scripts/fetch-model)\n", path.c_str());
            continue;
        }
        vocab v{f, rl::gguf_file::open(path), nullptr};  // a real file that fails to load is a bug: let it throw
        v.tok = rl::tokenizer::from_gguf(*v.file);
        vocabs().push_back(std::move(v));
    }
    if (vocabs().empty()) std::fprintf(stderr, "fuzz_tokenizer: no vocabularies under %s; every input is a no-op\n", dir.c_str());
}

int tokenizer_loaded() { return static_cast<int>(vocabs().size()); }

int tokenizer_one(const uint8_t* data, size_t size) {
    if (vocabs().empty() || size < 1) return 0;
    const uint8_t sel = data[0];
    const rl::tokenizer& t = *vocabs()[(sel & 0x0f) % vocabs().size()].tok;
    try {
        if (sel & 0x80) ids_mode(t, data + 1, size - 1, sel & 0x10);
        else text_mode(t, std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), sel & 0x10, sel & 0x20);
    } catch (const rl::engine_error&) {
        // encode/decode document no errors for any bytes; but engine_error is the API's one error type
    }
    return 0;
}

} // namespace rl_fuzz
