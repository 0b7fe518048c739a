// tokenizer: text <-> token ids from GGUF metadata. `gpt2` models get byte-level BPE with the
// pre-tokenizer named by tokenizer.ggml.pre; `llama` models get SentencePiece BPE with byte fallback.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rl {

class gguf_file;

enum class token_attr : uint8_t {
    normal = 1,
    unknown = 2,
    control = 3,
    user_defined = 4,
    unused = 5,
    byte = 6,
};

class tokenizer {
public:
    virtual ~tokenizer() = default;
    /// Builds the tokenizer the file names. Throws engine_error for unknown models/pre-tokenizers.
    static std::unique_ptr<tokenizer> from_gguf(const gguf_file& f);

    /// parse_special: control/user-defined tokens in the text ("<|im_start|>") become single ids.
    virtual std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const = 0;
    /// The raw bytes a token stands for (control tokens render as their text, e.g. "<|im_end|>").
    virtual std::string token_to_piece(int32_t id) const = 0;
    std::string decode(const std::vector<int32_t>& ids) const;

    virtual int vocab_size() const = 0;
    virtual int32_t bos_id() const = 0;
    virtual int32_t eos_id() const = 0;
    virtual bool add_bos_default() const = 0;       // tokenizer.ggml.add_bos_token
    virtual bool is_end_of_generation(int32_t id) const = 0;  // eos, eot, <|im_end|>, <|eot_id|> ...
    virtual token_attr attr(int32_t id) const = 0;
    virtual int32_t find_token(std::string_view text) const = 0;  // -1 if absent
    virtual std::string model_name() const = 0;     // "gpt2/smollm", "llama"

protected:
    // decode() follows llama.cpp's detokenize(remove_special=false, unparse_special=true):
    // SentencePiece drops the space its encoder put in front of the first word, and some BPE
    // vocabularies tidy " ," / " 's" the way clean_up_tokenization_spaces does.
    virtual bool decode_strips_leading_space() const { return false; }
    virtual bool decode_cleans_spaces() const { return false; }
};

/// Streams decoded text: holds back bytes of a UTF-8 character split across tokens.
class utf8_stream_decoder {
public:
    explicit utf8_stream_decoder(const tokenizer& t) : tok_(t) {}
    /// Returns the complete UTF-8 text that this token finishes (possibly empty).
    std::string push(int32_t id);
    /// Whatever is still held back (invalid or incomplete bytes, replaced by U+FFFD).
    std::string flush();

private:
    const tokenizer& tok_;
    std::string pending_;
};

} // namespace rl
