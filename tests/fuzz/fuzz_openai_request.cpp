// fuzz_openai_request: arbitrary bytes as the body of POST /v1/chat/completions and
// /v1/completions through rl::parse_api_request (server/openai_request.h), then what the server
// does next with the result: the error body dumped to text, or the messages rendered as ChatML.
// Contract checked: parse_api_request never throws; it returns a request or fills a non-empty
// message; an accepted chat request has messages, and dump_json never throws.
#include "fuzz_targets.h"

#include "server/openai_request.h"

#include <cstdio>
#include <cstdlib>

namespace rl_fuzz {

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_openai_request: %s\n", what);
    std::abort();
}

void one(const std::string& body, bool chat) {
    rl::api_error err;
    const std::optional<rl::api_request> r = rl::parse_api_request(body, chat, err);
    if (!r) {
        if (err.message.empty()) fail("refused without a message");
        (void)rl::dump_json(rl::error_body(err));
        return;
    }
    if (chat && r->messages.empty()) fail("accepted a chat request without messages");
    if (r->max_tokens && *r->max_tokens < 1) fail("accepted max_tokens < 1");
    static const rl::chat_template chatml = rl::chat_template::detect("<|im_start|>");
    (void)chatml.render(r->messages, true);
    if (!chat && r->prompts.empty()) fail("accepted a completion request without a prompt");
    if (r->n < 1 || r->logprobs > 20) fail("accepted n < 1 or more than 20 log-probability alternatives");
    for (const auto& p : r->prompts) (void)rl::dump_json(nlohmann::json{{"model", r->model}, {"prompt", p.text}});
}

} // namespace

void openai_request_init() {}

int openai_request_one(const uint8_t* data, size_t size) {
    const std::string body(reinterpret_cast<const char*>(data), size);
    one(body, true);
    one(body, false);
    return 0;
}

} // namespace rl_fuzz
