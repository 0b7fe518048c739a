// load_generator: virtual users that talk to the engine like people do. Closed loop: N users,
// each a multi-turn conversation with exponential think times and growing context. Open loop:
// Poisson arrivals. Prompts are real text (built-in passages) so the model produces real output.
// Named presets reproduce the scenarios in the brief (chat, summarize, write, idle-return, ramp).
#pragma once
#include "runtime/engine.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rl {

struct scenario {
    std::string name = "chat";
    bool open_loop = false;
    int users = 8;                   // closed loop: concurrent users (the maximum, under a ramp)
    double rate_per_s = 2.0;         // open loop: mean arrivals per second
    double think_mean_s = 2.0;       // closed loop: mean pause between a reply and the next turn
    int prompt_tokens = 48;          // mean new user tokens per turn (uniform +-50%)
    int output_tokens = 96;          // mean max_tokens per reply (uniform +-50%)
    int turns = 6;                   // turns before a user starts a new conversation
    std::string style;               // prompts: "chat", "summarize" (a passage to shorten) or "write"
                                     // (a writing task); "" = the preset name's (chat otherwise)
    // A second group: the last mix_users of `users` (closed loop) have their own style and lengths,
    // so one load can hold two kinds of user (long prompts beside chats).
    int mix_users = 0;
    std::string mix_style = "summarize";
    int mix_prompt_tokens = 1500;
    int mix_output_tokens = 100;
    double ramp_s = 0;               // users rise linearly from 1 to `users` over this time
    bool ignore_eos = true;          // produce the drawn output length, as serving benchmarks do
    int priority = 0;                // the person in the window runs at a higher priority
    float temperature = 0.f;         // the users' sampling (0: greedy, the default, as benchmarks use)
    float top_p = 1.f;
    uint64_t seed = 1;
};

/// The named presets; throws engine_error listing the names for an unknown one.
scenario scenario_preset(const std::string& name);
std::vector<std::string> scenario_names();

struct load_counters {
    uint64_t submitted = 0, finished = 0, rejected = 0, errors = 0;
    uint64_t cancelled = 0;          // in flight when stop() came (ended by its cancel)
    uint64_t streamed_tokens = 0;    // tokens received through events
    uint64_t generated_tokens = 0;   // the engine's own count, from each request's final event
    /// Ended requests whose streamed token count differs from the engine's generated count.
    uint64_t mismatched = 0;
    /// Requests in flight that have heard nothing (no token, no end) for stall_after_s: stuck.
    int stalled = 0;
    int in_flight = 0;
    int active_users = 0;
    std::string last_error;          // the reason the latest errored request gave
};

class load_generator {
public:
    load_generator(engine& eng, const scenario& sc);
    ~load_generator();
    void start();
    void set_paused(bool paused);
    /// Stops submitting, cancels what is in flight and waits for the final events.
    void stop();
    /// stalled counts in-flight requests silent for longer than this.
    load_counters counters(double stall_after_s = 60) const;
    const scenario& get_scenario() const { return sc_; }

    /// Conversation ids of virtual users have this bit set (owners in the KV map and metrics).
    static constexpr uint64_t kVirtualOwnerBit = kOwnerVirtualBit;

private:
    struct user {
        uint64_t conversation = 0;
        std::vector<chat_message> history;
        int turn = 0;
        bool busy = false;
        uint64_t request_id = 0;
        std::string reply;
        double next_s = 0;
        uint64_t streamed = 0;       // tokens of the request in flight
    };
    struct inbox_item {
        size_t user;
        token_event ev;
    };

    void run();
    void submit_turn(size_t u, double now_s);
    std::string make_prompt(user& u, size_t index);
    bool in_mix(size_t index) const;
    double uniform(double lo, double hi);
    double exponential(double mean);

    engine& eng_;
    scenario sc_;
    std::vector<user> users_;
    uint64_t next_conversation_ = 1;
    uint64_t rng_state_;
    size_t passage_cursor_ = 0;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<inbox_item> inbox_;
    bool stop_ = false, paused_ = false;
    load_counters counters_;
    std::map<size_t, double> heard_;   // user with a request in flight -> its submission or latest event
    std::thread thread_;
};

} // namespace rl
