// The ridgeline-cli commands. Events arrive on the engine thread and are handed to the main
// thread through a small blocking queue, so all printing happens in one place.
#include "cli_commands.h"

#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "runtime/engine.h"
#include "tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>

namespace {

class event_queue {
public:
    void push(const rl::token_event& e) {
        std::lock_guard lk(mutex_);
        events_.push_back(e);
        cv_.notify_one();
    }
    rl::token_event pop() {
        std::unique_lock lk(mutex_);
        cv_.wait(lk, [this] { return !events_.empty(); });
        rl::token_event e = std::move(events_.front());
        events_.pop_front();
        return e;
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<rl::token_event> events_;
};

// Runs one request to completion, streaming text through `on_text`. Returns the final event.
rl::token_event run_request(rl::engine& eng, rl::request req, std::vector<int32_t>& out_tokens,
                            const std::function<void(const std::string&)>& on_text) {
    event_queue q;
    req.on_event = [&q](const rl::token_event& e) { q.push(e); };
    eng.submit(std::move(req));
    for (;;) {
        rl::token_event e = q.pop();
        if (e.token >= 0 && e.finish == rl::finish_reason::none) out_tokens.push_back(e.token);
        if (!e.text.empty()) on_text(e.text);
        if (e.finish != rl::finish_reason::none) return e;
    }
}

template <typename F>
int guarded(F&& body) {
    try {
        return body();
    } catch (const rl::engine_error& e) {   // the model (missing, not GGUF, unsupported)
        std::fprintf(stderr, "ridgeline-cli: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ridgeline-cli: %s\n", e.what());
        return 1;
    }
}

} // namespace

int run_generate(const generate_args& args) {
    return guarded([&] {
        auto eng = rl::engine::create(args.engine);
        rl::request req;
        req.prompt = args.chat ? eng->tokenize_chat({{"user", args.prompt}}) : eng->tokenize_text(args.prompt, !args.raw_text);
        req.sampling = args.sampling;
        req.max_tokens = args.max_tokens;
        const bool json = args.json;
        std::string text;
        std::vector<int32_t> tokens;
        rl::token_event fin = run_request(*eng, req, tokens, [&](const std::string& piece) {
            text += piece;
            if (!json) {
                std::fwrite(piece.data(), 1, piece.size(), stdout);
                std::fflush(stdout);
            }
        });
        if (fin.finish == rl::finish_reason::rejected ||
            fin.finish == rl::finish_reason::error) {
            std::fprintf(stderr, "%sridgeline-cli: request %s: %s\n", json ? "" : "\n", rl::to_string(fin.finish),
                         fin.error.c_str());
            return 1;
        }
        if (json) {
            nlohmann::json out = {{"text", text},
                                  {"tokens", tokens},
                                  {"prompt_tokens", fin.stats.prompt_tokens},
                                  {"generated_tokens", fin.stats.generated_tokens},
                                  {"finish_reason", rl::to_string(fin.finish)},
                                  {"ttft_ms", fin.stats.ttft_ms},
                                  {"decode_tok_s", fin.stats.decode_tok_s}};
            std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
        } else {
            std::printf("\n");
            std::fprintf(stderr, "[%d prompt tokens, %d generated, ttft %.1f ms, %.1f tok/s, %s]\n",
                         fin.stats.prompt_tokens, fin.stats.generated_tokens, fin.stats.ttft_ms,
                         fin.stats.decode_tok_s, rl::to_string(fin.finish));
        }
        return 0;
    });
}

int run_chat(const chat_args& args) {
    return guarded([&] {
        auto eng = rl::engine::create(args.engine);
        std::vector<rl::chat_message> history;
        if (!args.system.empty()) history.push_back({"system", args.system});
        std::fprintf(stderr, "%s on %s, template %s. Empty line or Ctrl-D quits.\n",
                     eng->info().model_name.c_str(), eng->info().backend.c_str(), eng->info().chat_template.c_str());
        std::string line;
        for (;;) {
            std::fputs("> ", stdout);
            std::fflush(stdout);
            if (!std::getline(std::cin, line) || line.empty()) break;
            history.push_back({"user", line});
            rl::request req;
            req.conversation_id = 1;
            req.prompt = eng->tokenize_chat(history);
            req.sampling = args.sampling;
            req.max_tokens = args.max_tokens;
            std::string reply;
            std::vector<int32_t> tokens;
            rl::token_event fin = run_request(*eng, req, tokens, [&](const std::string& piece) {
                reply += piece;
                std::fwrite(piece.data(), 1, piece.size(), stdout);
                std::fflush(stdout);
            });
            std::printf("\n");
            if (fin.finish == rl::finish_reason::rejected ||
                fin.finish == rl::finish_reason::error) {
                std::fprintf(stderr, "ridgeline-cli: %s\n", fin.error.c_str());
                history.pop_back();
                continue;
            }
            std::fprintf(stderr, "[ttft %.0f ms, %.1f tok/s]\n", fin.stats.ttft_ms, fin.stats.decode_tok_s);
            history.push_back({"assistant", reply});
        }
        return 0;
    });
}

int run_tokenize(const tokenize_args& args) {
    return guarded([&] {
        auto file = rl::gguf_file::open(args.model);
        auto tok = rl::tokenizer::from_gguf(*file);
        const auto ids = tok->encode(args.text, args.bos, !args.no_special);
        std::printf("%s\n", nlohmann::json(ids).dump().c_str());
        return 0;
    });
}
