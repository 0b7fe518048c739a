// openai_response.cpp: see openai_response.h.
#include "server/openai_response.h"

#include "tokenizer/tokenizer.h"

using nlohmann::json;

namespace rl {

namespace {

json bytes_of(const std::string& piece) {
    json out = json::array();
    for (char c : piece) out.push_back(int(static_cast<unsigned char>(c)));
    return out;
}

} // namespace

uint64_t choice_seed(uint64_t seed, size_t choice) { return seed + uint64_t(choice) * 0x9E3779B97F4A7C15ull; }

json response_shape::chunk(size_t index, const json& delta_or_text, const json& finish_reason,
                           const std::vector<token_report>* tokens) const {
    json choice = {{"index", index}, {"finish_reason", finish_reason},
                   {"logprobs", tokens && logprobs >= 0 ? logprobs_json(*tokens) : json(nullptr)}};
    if (chat) choice["delta"] = delta_or_text;
    else choice["text"] = delta_or_text;
    return {{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
            {"model", model}, {"choices", json::array({choice})}};
}

json response_shape::logprobs_json(const std::vector<token_report>& tokens) const {
    if (logprobs < 0 || !tok) return nullptr;
    auto piece = [&](int32_t id) { return tok->token_to_piece(id); };
    if (chat) {
        json content = json::array();
        for (const auto& t : tokens) {
            const std::string p = piece(t.token);
            json top = json::array();
            for (const auto& [id, lp] : t.top) {
                if (int(top.size()) >= logprobs) break;
                const std::string q = piece(id);
                top.push_back({{"token", q}, {"logprob", lp}, {"bytes", bytes_of(q)}});
            }
            content.push_back({{"token", p}, {"logprob", t.logprob}, {"bytes", bytes_of(p)}, {"top_logprobs", top}});
        }
        return {{"content", content}, {"refusal", nullptr}};
    }
    // Legacy completions: the sampled token is always in its top_logprobs entry, so there may be
    // logprobs + 1 entries, as OpenAI documents.
    json toks = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
    for (const auto& t : tokens) {
        toks.push_back(piece(t.token));
        lps.push_back(t.logprob);
        json top = json::object();
        for (size_t i = 0; i < t.top.size() && int(i) < logprobs; ++i) top[piece(t.top[i].first)] = t.top[i].second;
        top[piece(t.token)] = t.logprob;
        tops.push_back(top);
        offsets.push_back(t.text_offset);
    }
    return {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

json response_shape::usage(int prompt_tokens, int completion_tokens) const {
    return {{"prompt_tokens", prompt_tokens},
            {"completion_tokens", completion_tokens},
            {"total_tokens", prompt_tokens + completion_tokens}};
}

} // namespace rl
