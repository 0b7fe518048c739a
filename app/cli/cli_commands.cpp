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

class EventQueue {
public:
    void push(const rl::token_event& e) {
        std::lock_guard lk(mMutex);
        mEvents.push_back(e);
        mCv.notify_one();
    }
    rl::token_event pop() {
        std::unique_lock lk(mMutex);
        mCv.wait(lk, [this] { return !mEvents.empty(); });
        rl::token_event e = std::move(mEvents.front());
        mEvents.pop_front();
        return e;
    }

private:
    std::mutex mMutex;
    std::condition_variable mCv;
    std::deque<rl::token_event> mEvents;
};

struct BadArgument {
    std::string message;
};

double number(const CliArgs& a, const std::string& key, double fallback) {
    if (!a.has(key)) return fallback;
    try {
        size_t used = 0;
        const double v = std::stod(a.get(key), &used);
        if (used != a.get(key).size()) throw std::invalid_argument("");
        return v;
    } catch (const std::exception&) {
        throw BadArgument{key + " expects a number, got '" + a.get(key) + "'"};
    }
}

rl::sampling_params samplingFrom(const CliArgs& a) {
    rl::sampling_params p;
    p.temperature = float(number(a, "--temperature", 0.0));
    p.top_p = float(number(a, "--top-p", 1.0));
    p.top_k = int(number(a, "--top-k", 0));
    p.min_p = float(number(a, "--min-p", 0.0));
    p.repetition_penalty = float(number(a, "--repeat-penalty", 1.0));
    p.seed = uint64_t(number(a, "--seed", 0));
    if (auto err = rl::validate(p); !err.empty()) throw BadArgument{err};
    return p;
}

std::unique_ptr<rl::engine> loadEngine(const CliArgs& a) {
    if (!a.has("--model")) throw BadArgument{"--model PATH is required"};
    rl::engine_options opt;
    opt.model_path = a.get("--model");
    opt.threads = int(number(a, "--threads", 0));
    opt.serving.max_num_seqs = 4;
    return rl::engine::create(opt);
}

// Runs one request to completion, streaming text through `onText`. Returns the final event.
rl::token_event runRequest(rl::engine& eng, rl::request req, std::vector<int32_t>& outTokens,
                           const std::function<void(const std::string&)>& onText) {
    EventQueue q;
    req.on_event = [&q](const rl::token_event& e) { q.push(e); };
    eng.submit(std::move(req));
    for (;;) {
        rl::token_event e = q.pop();
        if (e.token >= 0 && e.finish == rl::finish_reason::none) outTokens.push_back(e.token);
        if (!e.text.empty()) onText(e.text);
        if (e.finish != rl::finish_reason::none) return e;
    }
}

template <typename F>
int guarded(F&& body) {
    try {
        return body();
    } catch (const BadArgument& e) {
        std::fprintf(stderr, "ridgeline-cli: %s\n", e.message.c_str());
        return 2;
    } catch (const rl::engine_error& e) {
        std::fprintf(stderr, "ridgeline-cli: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ridgeline-cli: %s\n", e.what());
        return 1;
    }
}

} // namespace

int runGenerate(const CliArgs& args) {
    return guarded([&] {
        if (!args.has("--prompt")) throw BadArgument{"--prompt TEXT is required"};
        const rl::sampling_params sampling = samplingFrom(args);
        const int maxTokens = int(number(args, "--max-tokens", 128));
        auto eng = loadEngine(args);
        rl::request req;
        req.prompt = args.has("--chat") ? eng->tokenize_chat({{"user", args.get("--prompt")}})
                                        : eng->tokenize_text(args.get("--prompt"));
        req.sampling = sampling;
        req.max_tokens = maxTokens;
        const bool json = args.has("--json");
        std::string text;
        std::vector<int32_t> tokens;
        rl::token_event fin = runRequest(*eng, req, tokens, [&](const std::string& piece) {
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

int runChat(const CliArgs& args) {
    return guarded([&] {
        const rl::sampling_params sampling = samplingFrom(args);
        const int maxTokens = int(number(args, "--max-tokens", 512));
        auto eng = loadEngine(args);
        std::vector<rl::chat_message> history;
        if (args.has("--system")) history.push_back({"system", args.get("--system")});
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
            req.sampling = sampling;
            req.max_tokens = maxTokens;
            std::string reply;
            std::vector<int32_t> tokens;
            rl::token_event fin = runRequest(*eng, req, tokens, [&](const std::string& piece) {
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

int runTokenize(const CliArgs& args) {
    return guarded([&] {
        if (!args.has("--model")) throw BadArgument{"--model PATH is required"};
        if (!args.has("--text")) throw BadArgument{"--text TEXT is required"};
        auto file = rl::gguf_file::open(args.get("--model"));
        auto tok = rl::tokenizer::from_gguf(*file);
        const auto ids = tok->encode(args.get("--text"), args.has("--bos"), !args.has("--no-special"));
        std::printf("%s\n", nlohmann::json(ids).dump().c_str());
        return 0;
    });
}
