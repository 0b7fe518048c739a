// tiny_gguf: a complete, loadable llama-architecture GGUF of a few kilobytes (2 layers, d_model 32,
// 4 heads / 2 KV heads, d_ff 64, a 64-token SentencePiece vocabulary, f32 weights), described
// field by field so a test can break exactly one thing, and serialized with the offsets of every
// section boundary (header, each key/value, each tensor info, the alignment padding, each
// tensor's data) for truncation. Used by tests/test_bad_models.cpp and test_bad_model_window.cpp.
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tiny_gguf {

using bytes = std::vector<uint8_t>;
enum : uint32_t { t_u32 = 4, t_i32 = 5, t_f32 = 6, t_bool = 7, t_str = 8, t_arr = 9 };
enum : uint32_t { g_f32 = 0, g_q8_1 = 9 };

inline void append(bytes& b, const void* p, size_t n) {
    const size_t at = b.size();
    b.resize(at + n);
    if (n) std::memcpy(b.data() + at, p, n);
}
template <typename T>
void put(bytes& b, T v) { append(b, &v, sizeof(T)); }
inline void put_str(bytes& b, const std::string& s) {
    put<uint64_t>(b, s.size());
    append(b, s.data(), s.size());
}
template <typename T>
bytes enc(T v) { bytes b; put(b, v); return b; }
inline bytes enc_str(const std::string& s) { bytes b; put_str(b, s); return b; }

struct kv { std::string key; uint32_t type; bytes value; };
struct tensor {
    std::string name;
    std::vector<int64_t> dims;            // ggml order: dims[0] is the row length
    uint32_t type = g_f32;
    bytes data;                           // laid out in order, each start aligned
    std::optional<uint64_t> offset;       // overrides the computed offset
};
struct mark { size_t offset; std::string what; };   // a section boundary in the serialized file

struct file {
    uint32_t magic = 0x46554747, version = 3;
    std::optional<uint64_t> n_tensors, n_kv;   // override the true counts
    std::vector<kv> kvs;
    std::vector<tensor> tensors;
    size_t alignment = 32;

    kv* find_kv(const std::string& key) {
        for (auto& k : kvs) if (k.key == key) return &k;
        return nullptr;
    }
    tensor* find_tensor(const std::string& name) {
        for (auto& t : tensors) if (t.name == name) return &t;
        return nullptr;
    }

    bytes serialize(std::vector<mark>* marks = nullptr) const {
        auto at = [&](const bytes& b, std::string what) { if (marks) marks->push_back({b.size(), std::move(what)}); };
        bytes b;
        put(b, magic);
        put(b, version);
        put<uint64_t>(b, n_tensors.value_or(tensors.size()));
        put<uint64_t>(b, n_kv.value_or(kvs.size()));
        at(b, "end of header");
        for (const kv& k : kvs) {
            put_str(b, k.key);
            at(b, "inside key/value '" + k.key + "'");
            put(b, k.type);
            append(b, k.value.data(), k.value.size());
            at(b, "after key/value '" + k.key + "'");
        }
        uint64_t next = 0;
        std::vector<uint64_t> offsets;
        for (const tensor& t : tensors) {
            offsets.push_back(t.offset.value_or(next));
            if (!t.offset) next = (offsets.back() + t.data.size() + alignment - 1) / alignment * alignment;
            put_str(b, t.name);
            put<uint32_t>(b, uint32_t(t.dims.size()));
            for (int64_t d : t.dims) put(b, d);
            put(b, t.type);
            put(b, offsets.back());
            at(b, "after tensor info '" + t.name + "'");
        }
        const size_t data_start = (b.size() + alignment - 1) / alignment * alignment;
        if (data_start - b.size() > 1) { b.resize(b.size() + 1, 0); at(b, "inside the alignment padding"); }
        b.resize(data_start, 0);
        at(b, "start of the tensor data");
        for (size_t i = 0; i < tensors.size(); ++i) {
            if (tensors[i].offset) continue;   // a hand-placed tensor has no data of its own
            b.resize(data_start + offsets[i], 0);
            append(b, tensors[i].data.data(), tensors[i].data.size() / 2);
            at(b, "inside the data of '" + tensors[i].name + "'");
            append(b, tensors[i].data.data() + tensors[i].data.size() / 2, tensors[i].data.size() - tensors[i].data.size() / 2);
        }
        at(b, "one byte before the end");
        if (marks) marks->back().offset = b.size() - 1;
        return b;
    }
};

// Small deterministic weights: |w| <= 0.1 keeps activations finite through both layers.
inline bytes f32_data(int64_t n, uint32_t seed) {
    bytes b;
    uint32_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        put<float>(b, (float(s >> 8) / float(1 << 24) - 0.5f) * 0.2f);
    }
    return b;
}

inline bytes ones(int64_t n) {
    bytes b;
    for (int64_t i = 0; i < n; ++i) put<float>(b, 1.0f);
    return b;
}

constexpr int kLayers = 2, kDModel = 32, kHeads = 4, kKvHeads = 2, kFf = 64, kVocab = 64, kContext = 128;

/// The vocabulary: <unk> <s> </s>, then single characters (the SentencePiece space first).
inline std::vector<std::string> vocab() {
    std::vector<std::string> v = {"<unk>", "<s>", "</s>", "\xe2\x96\x81"};
    for (char c = 'a'; c <= 'z'; ++c) v.emplace_back(1, c);
    for (char c = 'A'; c <= 'Z'; ++c) v.emplace_back(1, c);
    for (char c = '0'; int(v.size()) < kVocab; ++c) v.emplace_back(1, c);
    return v;
}

inline bytes string_array(const std::vector<std::string>& items) {
    bytes b;
    put<uint32_t>(b, t_str);
    put<uint64_t>(b, items.size());
    for (const auto& s : items) put_str(b, s);
    return b;
}

/// A valid tiny llama model that rl::engine::create loads and runs.
inline file valid_llama() {
    file f;
    const auto u32 = [](uint32_t v) { return enc<uint32_t>(v); };
    const std::vector<std::string> toks = vocab();
    bytes scores, types;
    put<uint32_t>(scores, t_f32);
    put<uint64_t>(scores, toks.size());
    put<uint32_t>(types, t_i32);
    put<uint64_t>(types, toks.size());
    for (size_t i = 0; i < toks.size(); ++i) {
        put<float>(scores, -float(i));
        put<int32_t>(types, i < 3 ? (i == 0 ? 2 : 3) : 1);   // unknown, control, normal
    }
    f.kvs = {
        {"general.architecture", t_str, enc_str("llama")},
        {"general.name", t_str, enc_str("tiny-llama")},
        {"llama.block_count", t_u32, u32(kLayers)},
        {"llama.context_length", t_u32, u32(kContext)},
        {"llama.embedding_length", t_u32, u32(kDModel)},
        {"llama.feed_forward_length", t_u32, u32(kFf)},
        {"llama.attention.head_count", t_u32, u32(kHeads)},
        {"llama.attention.head_count_kv", t_u32, u32(kKvHeads)},
        {"llama.attention.layer_norm_rms_epsilon", t_f32, enc<float>(1e-5f)},
        {"tokenizer.ggml.model", t_str, enc_str("llama")},
        {"tokenizer.ggml.tokens", t_arr, string_array(toks)},
        {"tokenizer.ggml.scores", t_arr, scores},
        {"tokenizer.ggml.token_type", t_arr, types},
        {"tokenizer.ggml.bos_token_id", t_u32, u32(1)},
        {"tokenizer.ggml.eos_token_id", t_u32, u32(2)},
    };
    const int64_t d = kDModel, hd = kDModel / kHeads, q = kHeads * hd, kvd = kKvHeads * hd, ff = kFf;
    uint32_t seed = 1;
    auto add = [&](const std::string& name, std::vector<int64_t> dims, bool norm = false) {
        int64_t n = 1;
        for (int64_t x : dims) n *= x;
        f.tensors.push_back({name, std::move(dims), g_f32, norm ? ones(n) : f32_data(n, seed++), {}});
    };
    add("token_embd.weight", {d, kVocab});
    add("output_norm.weight", {d}, true);
    for (int l = 0; l < kLayers; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        add(p + "attn_norm.weight", {d}, true);
        add(p + "attn_q.weight", {d, q});
        add(p + "attn_k.weight", {d, kvd});
        add(p + "attn_v.weight", {d, kvd});
        add(p + "attn_output.weight", {q, d});
        add(p + "ffn_norm.weight", {d}, true);
        add(p + "ffn_gate.weight", {d, ff});
        add(p + "ffn_up.weight", {d, ff});
        add(p + "ffn_down.weight", {ff, d});
    }
    return f;
}

inline bool write_file(const std::string& path, const bytes& b) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
    return bool(out);
}

} // namespace tiny_gguf
