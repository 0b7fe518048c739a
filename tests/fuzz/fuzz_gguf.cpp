// fuzz_gguf: arbitrary bytes as a GGUF file (gguf_file::from_bytes, the same parser open() runs
// over the mmap), then everything the app reads from a file's metadata before any weights:
// every typed getter, model_config::from_gguf (+ rope_inv_freq, param_count), the chat template,
// the tokenizer (+ one encode/decode), and the first row of each tensor through dequantize_row.
// Seeds: tests/fuzz/corpus/gguf/ (tests/fuzz/make_seeds.py; more from the real model at run time).
#include "fuzz_targets.h"

#include "common/engine_error.h"
#include "gguf/dequant.h"
#include "gguf/gguf_file.h"
#include "model/model_config.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

#include <memory>
#include <vector>

namespace rl_fuzz {

namespace {

// Only engine_error is documented for bad files; any other exception escapes and is a finding.
template <typename F>
void expect_engine_error(F&& f) {
    try {
        f();
    } catch (const rl::engine_error&) {
    }
}

void touch_value(const rl::gguf_value& v, int depth) {
    expect_engine_error([&] { (void)v.as_int(); });
    expect_engine_error([&] { (void)v.as_float(); });
    expect_engine_error([&] { (void)v.as_bool(); });
    expect_engine_error([&] { (void)v.as_string().size(); });
    // The first elements only: each failed getter is a thrown exception (microseconds), and a
    // 60k-entry vocabulary array would otherwise dominate every execution.
    if (v.type == rl::gguf_value_type::array && depth < 8) {
        const rl::gguf_array& a = v.as_array();
        for (size_t i = 0; i < a.size() && i < 16; ++i) touch_value(a[i], depth + 1);
    }
}

void touch_metadata(const rl::gguf_file& f) {
    for (const auto& kv : f.metadata()) {
        const std::string& key = kv.first;  // not a structured binding: clang 14 cannot capture those
        touch_value(kv.second, 0);
        expect_engine_error([&] { (void)f.get_int(key); });
        expect_engine_error([&] { (void)f.get_float(key); });
        expect_engine_error([&] { (void)f.get_bool(key); });
        expect_engine_error([&] { (void)f.get_string(key); });
        expect_engine_error([&] { (void)f.get_array(key); });
    }
}

void touch_model(const rl::gguf_file& f) {
    expect_engine_error([&] {
        const rl::model_config c = rl::model_config::from_gguf(f);
        (void)c.rope_inv_freq();
        (void)c.param_count();
    });
    expect_engine_error([&] {
        const rl::chat_template t = rl::chat_template::from_gguf(f);
        (void)t.render({{"system", "Be brief."}, {"user", "Hi"}, {"assistant", " ok "}}, true);
    });
    expect_engine_error([&] {
        const auto tok = rl::tokenizer::from_gguf(f);
        const auto ids = tok->encode("Hello world, <|im_start|>user\n wörld 123 \xF0\x9F\x98\x80 <s>", true, true);
        (void)tok->decode(ids);
        rl::utf8_stream_decoder s(*tok);
        for (const int32_t id : ids) (void)s.push(id);
        (void)s.flush();
        (void)tok->is_end_of_generation(tok->eos_id());
    });
}

// The first row of each tensor: the quantized block decoders on arbitrary bytes (row length is
// bounded so a fuzzed 2^30-element row does not turn into a 4 GiB buffer here).
void touch_tensors(const rl::gguf_file& f) {
    std::vector<float> row;
    for (const rl::gguf_tensor_info& t : f.tensors()) {
        const int64_t n = t.row_length();
        if (n <= 0 || n > 4096 || t.n_rows() == 0) continue;
        if (!rl::ggml_traits(t.type).dequantizable) continue;
        row.resize(static_cast<size_t>(n));
        expect_engine_error([&] { rl::dequantize_row(t.type, t.data, row.data(), n); });
    }
}

} // namespace

void gguf_init() {}

int gguf_one(const uint8_t* data, size_t size) {
    std::unique_ptr<rl::gguf_file> f;
    try {
        f = rl::gguf_file::from_bytes(data, size);
    } catch (const rl::engine_error&) {
        return 0;  // the expected outcome for almost every input
    }
    touch_metadata(*f);
    touch_model(*f);
    touch_tensors(*f);
    return 0;
}

} // namespace rl_fuzz
