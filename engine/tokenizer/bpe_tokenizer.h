// bpe_tokenizer: byte-level BPE (tokenizer.ggml.model = "gpt2"): GPT-2's bytes-to-unicode
// alphabet, merges applied by rank within each pre-tokenizer word, llama.cpp semantics.
#pragma once
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab_base.h"

namespace rl {

class bpe_tokenizer final : public vocab_tokenizer {
public:
    explicit bpe_tokenizer(const gguf_file& f);

    std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const override;
    std::string token_to_piece(int32_t id) const override;
    std::string model_name() const override { return "gpt2/" + pre_name_; }

protected:
    bool decode_cleans_spaces() const override { return pre_.clean_spaces; }

private:
    // Appends the ids of one pre-tokenized word, already mapped to the byte alphabet.
    void encode_word(const std::string& word, std::vector<int32_t>& out) const;
    // Merge rank of the pair (lower merges first), -1 when the pair never merges.
    int merge_rank(std::string_view left, std::string_view right, std::string& key) const;

    pretokenizer_info pre_;
    std::string pre_name_;
    string_map<int> ranks_;  // "left\xFFright" -> rank (0xFF never occurs in UTF-8)
};

} // namespace rl
