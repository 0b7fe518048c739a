// soak_api_load.cpp: the bounded API client threads of ridgeline-soak (cpp-httplib's client).
#include "soak_api_load.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <mutex>

namespace rl::soak {

namespace {

const char* const k_prompts[] = {
    "What is a KV cache, in two sentences?",
    "Write a haiku about a GPU that waits for memory.",
    "List three uses of a hash map.",
    "Why does decode get faster per token with a bigger batch?",
    "Explain paging to a ten-year-old.",
};

struct rng {
    uint64_t s;
    uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
};

std::string chat_body(const std::string& model, const char* prompt, int max_tokens, bool stream) {
    nlohmann::json j = {{"model", model},
                        {"messages", {{{"role", "user"}, {"content", prompt}}}},
                        {"max_tokens", max_tokens},
                        {"temperature", 0.8},
                        {"stream", stream}};
    return j.dump();
}

} // namespace

api_load::api_load(int port, std::string model, int clients, uint64_t seed)
    : port_(port), model_(std::move(model)), seed_(seed) {
    for (int i = 0; i < clients; ++i) threads_.emplace_back([this, i] { client(i); });
}

api_load::~api_load() { stop(); }

void api_load::stop() {
    stop_ = true;
    {
        std::lock_guard lk(clients_mu_);
        for (void* c : clients_) static_cast<httplib::Client*>(c)->stop();
    }
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

api_counts api_load::counts() const {
    std::lock_guard lk(counts_mu_);
    return counts_;
}

void api_load::record(bool ok, uint64_t api_counts::*field, uint64_t epoch_at_start, const std::string& why) {
    // A restart that began or ended during the request makes its failure expected: the window
    // stops its server before the engine is replaced.
    const bool interrupted = restarting_ || restart_epoch_ != epoch_at_start;
    std::lock_guard lk(counts_mu_);
    if (ok) ++(counts_.*field);
    else if (interrupted) ++counts_.interrupted;
    else {
        ++counts_.failed;
        counts_.last_failure = why;
    }
}

void api_load::client(int index) {
    rng r{seed_ * 0x9E3779B97F4A7C15ull + uint64_t(index) * 7919 + 1};
    httplib::Client cli("127.0.0.1", port_);
    {
        std::lock_guard lk(clients_mu_);
        clients_.push_back(&cli);
    }
    cli.set_connection_timeout(5);
    cli.set_read_timeout(300);  // a queued request may wait behind 64 virtual users
    while (!stop_) {
        const uint64_t epoch = restart_epoch_;
        const char* prompt = k_prompts[r.next() % std::size(k_prompts)];
        const int max_tokens = 16 + int(r.next() % 49);
        const int action = int(r.next() % 10);
        if (action < 7) {  // a stream: read to [DONE], or abandon it after its first chunks
            const bool abandon = action >= 4;
            httplib::Request req;
            req.method = "POST";
            req.path = "/v1/chat/completions";
            req.headers = {{"Content-Type", "application/json"}};
            req.body = chat_body(model_, prompt, max_tokens, true);
            std::string got;
            bool walked_away = false;
            req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
                got.append(data, n);
                if (abandon && got.find("\"content\"") != std::string::npos && got.size() > 400) {
                    walked_away = true;
                    return false;  // the client closes the socket mid-stream
                }
                return !stop_.load();
            };
            auto res = cli.send(req);
            if (walked_away) {
                record(true, &api_counts::abandoned, epoch, "");
            } else if (stop_) {
                break;
            } else {
                const bool ok = res && res->status == 200 && got.find("data: [DONE]") != std::string::npos &&
                                got.find("\"error\"") == std::string::npos;
                record(ok, &api_counts::streams_ok, epoch,
                       !res ? "stream: " + httplib::to_string(res.error())
                            : "stream: HTTP " + std::to_string(res->status) + " " + std::to_string(got.size()) +
                                  " bytes, ending " + got.substr(got.size() - std::min<size_t>(got.size(), 300)));
            }
        } else {  // a plain request
            auto res = cli.Post("/v1/chat/completions", chat_body(model_, prompt, max_tokens, false), "application/json");
            if (stop_) break;
            bool ok = res && res->status == 200;
            if (ok) {
                const auto j = nlohmann::json::parse(res->body, nullptr, false);
                ok = !j.is_discarded() && j.contains("choices") && j["choices"].size() == 1;
            }
            record(ok, &api_counts::plain_ok, epoch,
                   !res ? "plain: " + httplib::to_string(res.error())
                        : "plain: HTTP " + std::to_string(res->status) + " " + res->body.substr(0, 200));
        }
        // A think time, in slices so stop() is prompt.
        for (int slice = int(2 + r.next() % 8); slice > 0 && !stop_; --slice)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::lock_guard lk(clients_mu_);
    std::erase(clients_, &cli);
}

} // namespace rl::soak
