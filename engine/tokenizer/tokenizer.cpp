// tokenizer: the factory that picks BPE or SentencePiece from GGUF metadata, the vocabulary
// table both share (vocab_base.h), decode() with llama.cpp's detokenize rules, and the
// streaming UTF-8 decoder used while generating.
#include "tokenizer/tokenizer.h"

#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"

#include <algorithm>

namespace rl {

namespace {

// Texts that end a turn, llama.cpp's list (llama-vocab.cpp, its EOG scan): like llama.cpp we make
// them control tokens even when a converter marked them otherwise (Phi-3 ships "</s>" as
// user-defined), so without parse_special they are plain text, as llama.cpp tokenizes them.
constexpr std::string_view k_eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>",
    "[e~[",
};

// llama.cpp's clean_up_tokenization_spaces, in its three passes.
std::string clean_spaces(const std::string& in) {
    if (in.size() < 2) return in;
    // 1: " ?", " !", " .", " ," lose the space.
    std::string a;
    a.reserve(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        const char n = i + 1 < in.size() ? in[i + 1] : '\0';
        if (in[i] == ' ' && (n == '?' || n == '!' || n == '.' || n == ',')) continue;
        a += in[i];
    }
    // 2: a lone apostrophe between spaces (" ' ") loses both spaces; the character after it
    // then no longer counts as following a space.
    std::string b;
    b.reserve(a.size());
    std::vector<bool> was_space(a.size());
    for (size_t i = 0; i < a.size(); ++i) was_space[i] = a[i] == ' ';
    for (size_t i = 0; i < a.size(); ++i) {
        if (i >= 1 && a[i] == '\'' && i + 1 < a.size() && was_space[i - 1] && a[i + 1] == ' ' && !b.empty()) {
            b.pop_back();
            b += '\'';
            was_space[i + 1] = false;
            ++i;
            continue;
        }
        b += a[i];
    }
    // 3: " 's", " 'm", " 're", " 've" lose the space (" 't", " 'd", " 'll" keep it).
    std::string c;
    c.reserve(b.size());
    for (size_t i = 0; i < b.size(); ++i) {
        if (i >= 1 && b[i] == '\'' && b[i - 1] == ' ' && i + 1 < b.size() && !c.empty()) {
            const char x1 = b[i + 1];
            const char x2 = i + 2 < b.size() ? b[i + 2] : '\0';
            const bool drop = x1 == 's' || x1 == 'm' ||
                              (x1 != 't' && x1 != 'd' && i + 2 < b.size() &&
                               ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')));
            if (drop) c.pop_back();
        }
        c += b[i];
    }
    return c;
}

// Length of the complete UTF-8 sequence at s[i], 0 if it is cut off by the end of s, or -1 if
// the bytes there are not a valid sequence start.
int utf8_complete_len(std::string_view s, size_t i) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    int n;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if ((c & 0xF0) == 0xE0) n = 3;
    else if (c >= 0xF0 && c <= 0xF4) n = 4;
    else return -1;  // a stray continuation byte, or a lead byte UTF-8 never uses
    for (int k = 1; k < n; ++k) {
        if (i + k >= s.size()) return 0;
        if ((static_cast<uint8_t>(s[i + k]) & 0xC0) != 0x80) return -1;
    }
    return n;
}

constexpr std::string_view k_replacement_utf8 = "\xEF\xBF\xBD";

} // namespace

std::unique_ptr<tokenizer> tokenizer::from_gguf(const gguf_file& f) {
    const std::string model = f.get_string_or("tokenizer.ggml.model", "");
    if (model == "gpt2") return std::make_unique<bpe_tokenizer>(f);
    if (model == "llama") return std::make_unique<spm_tokenizer>(f);
    if (model.empty()) RL_THROW("model has no tokenizer (tokenizer.ggml.model is missing)");
    RL_THROW("unsupported tokenizer model '" + model + "'");
}

std::string tokenizer::decode(const std::vector<int32_t>& ids) const {
    std::string out;
    for (size_t i = 0; i < ids.size(); ++i) {
        std::string piece = token_to_piece(ids[i]);
        if (i == 0 && decode_strips_leading_space() && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
        out += piece;
    }
    return decode_cleans_spaces() ? clean_spaces(out) : out;
}

std::string utf8_stream_decoder::push(int32_t id) {
    pending_ += tok_.token_to_piece(id);
    std::string out;
    size_t i = 0;
    while (i < pending_.size()) {
        const int n = utf8_complete_len(pending_, i);
        if (n == 0) break;  // an unfinished character: keep it for the next token
        if (n < 0) {
            out += k_replacement_utf8;  // a byte that can never become valid text
            ++i;
            continue;
        }
        out.append(pending_, i, static_cast<size_t>(n));
        i += static_cast<size_t>(n);
    }
    pending_.erase(0, i);
    return out;
}

std::string utf8_stream_decoder::flush() {
    // Only an unfinished sequence can be pending; it stands for one broken character.
    std::string out = pending_.empty() ? std::string() : std::string(k_replacement_utf8);
    pending_.clear();
    return out;
}

// --- vocab_tokenizer ---

void vocab_tokenizer::load_vocab(const gguf_file& f, const special_defaults& d) {
    const gguf_array& tokens = f.get_array("tokenizer.ggml.tokens");
    RL_CHECK(!tokens.empty(), "tokenizer.ggml.tokens is empty");
    // Element types are checked here so a hostile file's message names the key, not "a value".
    using vt = gguf_value_type;
    RL_CHECK(f.find("tokenizer.ggml.tokens")->elem_type == vt::string,
             "tokenizer.ggml.tokens must be an array of strings");
    const gguf_value* types = f.find("tokenizer.ggml.token_type");
    const gguf_value* scores = f.find("tokenizer.ggml.scores");
    if (types) {
        f.get_array("tokenizer.ggml.token_type");   // throws "key ... has type T, expected array"
        for (const gguf_value& t : types->as_array())
            RL_CHECK(t.is_int(), "tokenizer.ggml.token_type must be an array of integers");
        RL_CHECK(types->as_array().size() >= tokens.size(), "tokenizer.ggml.token_type is shorter than the vocabulary");
    }
    if (scores) {
        f.get_array("tokenizer.ggml.scores");
        for (const gguf_value& v : scores->as_array())
            RL_CHECK(v.is_float() || v.is_int(), "tokenizer.ggml.scores must be an array of numbers");
        RL_CHECK(scores->as_array().size() >= tokens.size(), "tokenizer.ggml.scores is shorter than the vocabulary");
    }

    const size_t n = tokens.size();
    texts_.resize(n);
    attrs_.assign(n, token_attr::normal);
    scores_.assign(n, 0.0f);
    ids_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        texts_[i] = tokens[i].as_string();
        if (texts_[i].empty()) texts_[i] = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp
        ids_[texts_[i]] = static_cast<int32_t>(i);
        if (types) {
            const int64_t t = types->as_array()[i].as_int();
            // Types outside 1..6 (0 = undefined) render as nothing and never match, like unused.
            attrs_[i] = (t >= 1 && t <= 6) ? static_cast<token_attr>(t) : token_attr::unused;
        }
        if (scores) scores_[i] = static_cast<float>(scores->as_array()[i].as_float());
    }

    // Special ids: the key when it names a real token, else the model family's default.
    const auto special = [&](const char* key, int32_t fallback) -> int32_t {
        const int64_t v = f.get_int_or(key, -1);
        if (v >= 0 && static_cast<size_t>(v) < n) return static_cast<int32_t>(v);
        return valid(fallback) ? fallback : -1;
    };
    bos_ = special("tokenizer.ggml.bos_token_id", d.bos);
    eos_ = special("tokenizer.ggml.eos_token_id", d.eos);
    unk_ = special("tokenizer.ggml.unknown_token_id", d.unk);
    const int32_t eot = special("tokenizer.ggml.eot_token_id", -1);
    const int32_t eom = special("tokenizer.ggml.eom_token_id", -1);
    add_bos_ = f.get_bool_or("tokenizer.ggml.add_bos_token", d.add_bos);

    eog_.assign(n, false);
    for (const int32_t id : {eos_, eot, eom})
        if (valid(id)) eog_[static_cast<size_t>(id)] = true;
    for (const std::string_view t : k_eog_texts) {
        const auto it = ids_.find(t);
        if (it == ids_.end()) continue;
        eog_[static_cast<size_t>(it->second)] = true;
        attrs_[static_cast<size_t>(it->second)] = token_attr::control;
    }

    for (size_t i = 0; i < n; ++i) {
        const token_attr a = attrs_[i];
        if (a == token_attr::control || a == token_attr::user_defined ||
            a == token_attr::unknown)
            specials_.push_back(static_cast<int32_t>(i));
    }
    // llama.cpp's per-model attribute: for a general.name with "phi-3" or "phi3" in it, the text
    // after a special token loses its leading whitespace ("<|user|>\nHi" is <|user|> Hi), except
    // after <unk>, <s> and <|endoftext|>.
    rstrip_.assign(n, false);
    std::string model_name = f.get_string_or("general.name", "");
    for (char& c : model_name) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (model_name.find("phi-3") != std::string::npos || model_name.find("phi3") != std::string::npos) {
        for (const int32_t id : specials_) rstrip_[static_cast<size_t>(id)] = true;
        for (const std::string_view t : {"</s>"})
            if (const auto it = ids_.find(t); it != ids_.end()) rstrip_[static_cast<size_t>(it->second)] = true;
        for (const std::string_view t : {"<unk>", "<s>", "<|endoftext|>"})
            if (const auto it = ids_.find(t); it != ids_.end()) rstrip_[static_cast<size_t>(it->second)] = false;
    }
    std::stable_sort(specials_.begin(), specials_.end(), [&](int32_t a, int32_t b) {
        return texts_[static_cast<size_t>(a)].size() > texts_[static_cast<size_t>(b)].size();
    });
}

std::vector<vocab_tokenizer::fragment> vocab_tokenizer::split_special(std::string_view text, bool parse_special) const {
    std::vector<fragment> frags;
    if (text.empty()) return frags;
    frags.push_back({-1, text});
    // Token by token (longest first), every occurrence in every still-unsplit piece becomes
    // its own fragment. This is llama.cpp's order, which decides overlapping matches.
    std::vector<fragment> next;
    for (const int32_t id : specials_) {
        const token_attr a = attrs_[static_cast<size_t>(id)];
        if (!parse_special && a != token_attr::user_defined) continue;
        const std::string& tok = texts_[static_cast<size_t>(id)];
        if (text.find(tok) == std::string_view::npos) continue;  // cheap reject for the whole input
        next.clear();
        for (const fragment& fr : frags) {
            if (fr.token >= 0) {
                next.push_back(fr);
                continue;
            }
            std::string_view rest = fr.text;
            for (size_t at; (at = rest.find(tok)) != std::string_view::npos;) {
                if (at > 0) next.push_back({-1, rest.substr(0, at)});
                next.push_back({id, rest.substr(at, tok.size())});
                rest.remove_prefix(at + tok.size());
                if (rstrip_[static_cast<size_t>(id)])
                    while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
            }
            if (!rest.empty()) next.push_back({-1, rest});
        }
        frags.swap(next);
    }
    return frags;
}

bool vocab_tokenizer::is_end_of_generation(int32_t id) const {
    return valid(id) && eog_[static_cast<size_t>(id)];
}

token_attr vocab_tokenizer::attr(int32_t id) const {
    RL_CHECK(valid(id), "token id " + std::to_string(id) + " is outside the vocabulary");
    return attrs_[static_cast<size_t>(id)];
}

int32_t vocab_tokenizer::find_token(std::string_view text) const {
    const auto it = ids_.find(text);
    return it == ids_.end() ? -1 : it->second;
}

} // namespace rl
