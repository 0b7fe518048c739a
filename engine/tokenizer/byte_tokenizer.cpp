// byte_tokenizer.cpp: see byte_tokenizer.h.
#include "tokenizer/byte_tokenizer.h"

#include "common/engine_error.h"

namespace rl {
namespace {

class byte_tokenizer final : public tokenizer {
public:
    explicit byte_tokenizer(int vocab) : vocab_(vocab) {
        RL_CHECK(vocab > 257, "a byte tokenizer needs a vocabulary of more than 257 ids");
    }
    std::vector<int32_t> encode(std::string_view text, bool add_bos, bool) const override {
        std::vector<int32_t> ids;
        if (add_bos) ids.push_back(bos_id());
        for (unsigned char c : text) ids.push_back(int32_t(c));
        return ids;
    }
    std::string token_to_piece(int32_t id) const override {
        if (id == eos_id() || id == bos_id()) return "";
        return std::string(1, char(32 + (id % 95)));
    }
    int vocab_size() const override { return vocab_; }
    int32_t bos_id() const override { return vocab_ - 2; }
    int32_t eos_id() const override { return vocab_ - 1; }
    bool add_bos_default() const override { return false; }
    bool is_end_of_generation(int32_t id) const override { return id == eos_id(); }
    token_attr attr(int32_t id) const override {
        return id >= vocab_ - 2 ? token_attr::control : token_attr::normal;
    }
    int32_t find_token(std::string_view text) const override {
        return text.size() == 1 ? int32_t(static_cast<unsigned char>(text[0])) : -1;
    }
    std::string model_name() const override { return "bytes (synthetic)"; }

private:
    int vocab_;
};

} // namespace

std::unique_ptr<tokenizer> make_byte_tokenizer(int vocab_size) { return std::make_unique<byte_tokenizer>(vocab_size); }

} // namespace rl
