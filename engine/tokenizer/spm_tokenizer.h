// spm_tokenizer: SentencePiece-style BPE (tokenizer.ggml.model = "llama"): spaces spelled as
// U+2581, a space put in front of the text, highest-score merges first, and <0xXX> byte tokens
// for anything the vocabulary can't spell. Semantics of llama.cpp's llm_tokenizer_spm.
#pragma once
#include "tokenizer/vocab_base.h"

#include <array>

namespace rl {

class spm_tokenizer final : public vocab_tokenizer {
public:
    explicit spm_tokenizer(const gguf_file& f);

    std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const override;
    std::string token_to_piece(int32_t id) const override;
    std::string model_name() const override { return "llama"; }

protected:
    bool decode_strips_leading_space() const override { return add_space_prefix_; }

private:
    // Appends the ids for text whose spaces are already spelled U+2581.
    void encode_text(const std::string& text, std::vector<int32_t>& out) const;

    bool add_space_prefix_ = true;  // tokenizer.ggml.add_space_prefix
    std::array<int32_t, 256> byte_ids_{};  // byte -> its <0xXX> token (or the byte itself), -1 if none
};

} // namespace rl
