// load_generator.cpp: one thread drives all virtual users. Engine events arrive on the engine
// thread and are handed over through an inbox; the thread sleeps until the next user is due.
#include "runtime/load_generator.h"
#include "serving/sampler.h"

#include "common/engine_error.h"
#include "serving/passages.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace rl {

namespace {
double now_seconds() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}
} // namespace

std::vector<std::string> scenario_names() { return {"chat", "summarize", "write", "idle-return", "ramp"}; }

scenario scenario_preset(const std::string& name) {
    scenario s;
    s.name = name;
    if (name == "chat") {
        s.users = 8; s.think_mean_s = 2; s.prompt_tokens = 48; s.output_tokens = 96; s.turns = 6;
    } else if (name == "summarize") {
        s.users = 4; s.think_mean_s = 1; s.prompt_tokens = 1500; s.output_tokens = 100; s.turns = 1;
    } else if (name == "write") {
        s.users = 4; s.think_mean_s = 1; s.prompt_tokens = 50; s.output_tokens = 800; s.turns = 1;
    } else if (name == "idle-return") {
        // Long pauses: by the time a user returns, a small cache has given their blocks to others.
        s.users = 12; s.think_mean_s = 6; s.prompt_tokens = 160; s.output_tokens = 48; s.turns = 50;
    } else if (name == "ramp") {
        s.users = 32; s.ramp_s = 40; s.think_mean_s = 0.5; s.prompt_tokens = 48; s.output_tokens = 128; s.turns = 4;
    } else if (name == "poisson") {
        s.open_loop = true; s.rate_per_s = 2; s.prompt_tokens = 64; s.output_tokens = 96; s.turns = 1;
    } else {
        std::string names;
        for (auto& n : scenario_names()) names += (names.empty() ? "" : ", ") + n;
        RL_THROW("unknown scenario '" + name + "' (known: " + names + ", poisson)");
    }
    return s;
}

load_generator::load_generator(engine& eng, const scenario& sc)
    : eng_(eng), sc_(sc), rng_state_(sc.seed * 0x9E3779B97F4A7C15ull + 1) {
    RL_CHECK(sc.users >= 1 || sc.open_loop, "a closed-loop scenario needs at least one user");
    RL_CHECK(!sc.open_loop || sc.rate_per_s > 0, "an open-loop scenario needs a positive rate");
    RL_CHECK(sc.prompt_tokens >= 1 && sc.output_tokens >= 1, "prompt and output lengths must be positive");
    RL_CHECK(sc.mix_users >= 0 && (sc.mix_users == 0 || (sc.mix_prompt_tokens >= 1 && sc.mix_output_tokens >= 1)),
             "the second group's count and lengths must be positive");
    if (const std::string why = validate(sampling_params{sc.temperature, 0, sc.top_p}); !why.empty())
        RL_THROW("scenario sampling: " + why);
}

load_generator::~load_generator() { stop(); }

double load_generator::uniform(double lo, double hi) {
    rng_state_ ^= rng_state_ << 13;  // xorshift64: cheap, and reproducible from the seed
    rng_state_ ^= rng_state_ >> 7;
    rng_state_ ^= rng_state_ << 17;
    return lo + (hi - lo) * double(rng_state_ >> 11) * (1.0 / 9007199254740992.0);
}

double load_generator::exponential(double mean) { return -mean * std::log(1.0 - uniform(0, 1) * 0.999999); }

void load_generator::start() {
    std::lock_guard lk(mu_);
    if (thread_.joinable()) return;
    stop_ = false;
    thread_ = std::thread([this] { run(); });
}

void load_generator::set_paused(bool paused) {
    std::lock_guard lk(mu_);
    paused_ = paused;
    cv_.notify_all();
}

void load_generator::stop() {
    {
        std::lock_guard lk(mu_);
        if (!thread_.joinable()) return;
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

load_counters load_generator::counters(double stall_after_s) const {
    std::lock_guard lk(mu_);
    load_counters c = counters_;
    const double now = now_seconds();
    c.in_flight = int(heard_.size());
    for (const auto& [user, t] : heard_)
        if (now - t > stall_after_s) ++c.stalled;
    return c;
}

bool load_generator::in_mix(size_t index) const {
    return !sc_.open_loop && sc_.mix_users > 0 && index >= size_t(std::max(0, sc_.users - sc_.mix_users));
}

std::string load_generator::make_prompt(user& u, size_t index) {
    const auto& passages = builtin_passages();
    auto excerpt = [&](int tokens) {
        const size_t chars = size_t(tokens) * 4;  // about 4 characters per token for English BPE
        std::string out;
        while (out.size() < chars) {
            const std::string& p = passages[passage_cursor_++ % passages.size()];
            out += (out.empty() ? "" : " ") + p;
        }
        return out.substr(0, out.find(' ', chars) == std::string::npos ? out.size() : out.find(' ', chars));
    };
    const bool mix = in_mix(index);
    const int n = std::max(1, int((mix ? sc_.mix_prompt_tokens : sc_.prompt_tokens) * uniform(0.5, 1.5)));
    const auto& q = builtin_questions();
    const auto& w = builtin_writing_tasks();
    const std::string& style = mix ? sc_.mix_style : sc_.style.empty() ? sc_.name : sc_.style;
    if (style == "summarize") return "Summarize the following text in a few sentences.\n\n" + excerpt(n);
    if (style == "write") return w[size_t(uniform(0, double(w.size()))) % w.size()];
    if (u.turn == 0) return excerpt(n) + "\n\n" + q[size_t(uniform(0, double(q.size()))) % q.size()];
    return q[size_t(uniform(0, double(q.size()))) % q.size()] + " " + excerpt(std::max(1, n / 3));
}

void load_generator::submit_turn(size_t ui, double now_s) {
    user& u = users_[ui];
    if (u.turn >= sc_.turns || u.conversation == 0) {
        u = user{};
        u.conversation = kVirtualOwnerBit | next_conversation_++;
    }
    u.history.push_back({"user", make_prompt(u, ui)});
    request r;
    r.conversation_id = u.conversation;
    r.prompt = eng_.tokenize_chat(u.history);
    r.max_tokens = std::max(1, int((in_mix(ui) ? sc_.mix_output_tokens : sc_.output_tokens) * uniform(0.5, 1.5)));
    r.ignore_eos = sc_.ignore_eos;
    r.priority = sc_.priority;
    r.sampling.temperature = sc_.temperature;
    r.sampling.top_p = sc_.top_p;
    r.sampling.seed = rng_state_ ^ (uint64_t(ui) << 32);  // per request, reproducible from the scenario seed
    // Keep the conversation inside the context: start over when it would not fit.
    const int limit = eng_.info().context_length;
    if (int(r.prompt.size()) + r.max_tokens >= limit && u.history.size() > 1) {
        u.history.erase(u.history.begin(), u.history.end() - 1);
        u.conversation = kVirtualOwnerBit | next_conversation_++;
        u.turn = 0;
        r.conversation_id = u.conversation;
        r.prompt = eng_.tokenize_chat(u.history);
    }
    if (int(r.prompt.size()) + r.max_tokens >= limit) r.max_tokens = std::max(1, limit - int(r.prompt.size()) - 1);
    r.on_event = [this, ui](const token_event& ev) {
        std::lock_guard lk(mu_);
        if (ev.finish == finish_reason::none) ++counters_.streamed_tokens;
        inbox_.push_back({ui, ev});
        cv_.notify_all();
    };
    u.busy = true;
    u.reply.clear();
    u.next_s = now_s;
    u.streamed = 0;
    ++u.turn;
    {
        // Before submit: its events are handled by this thread (run), but counters() may look now.
        std::lock_guard lk(mu_);
        heard_[ui] = now_seconds();
    }
    u.request_id = eng_.submit(std::move(r));
    std::lock_guard lk(mu_);
    ++counters_.submitted;
}

void load_generator::run() {
    const double t0 = now_seconds();
    double next_arrival = t0;
    if (!sc_.open_loop) users_.resize(size_t(sc_.users));
    for (size_t i = 0; i < users_.size(); ++i) users_[i].next_s = t0 + uniform(0, 0.5);  // stagger the start
    std::unique_lock lk(mu_);
    while (!stop_) {
        // Handle events first.
        while (!inbox_.empty()) {
            inbox_item it = std::move(inbox_.front());
            inbox_.pop_front();
            user& u = users_[it.user];
            u.reply += it.ev.text;
            if (it.ev.finish == finish_reason::none) {
                ++u.streamed;
                heard_[it.user] = now_seconds();
                continue;
            }
            heard_.erase(it.user);
            counters_.generated_tokens += uint64_t(it.ev.stats.generated_tokens);
            if (u.streamed != uint64_t(it.ev.stats.generated_tokens)) ++counters_.mismatched;
            if (it.ev.finish == finish_reason::rejected) ++counters_.rejected;
            else if (it.ev.finish == finish_reason::error) {
                ++counters_.errors;
                counters_.last_error = it.ev.error;
            }
            else ++counters_.finished;
            u.busy = false;
            if (it.ev.finish == finish_reason::rejected || it.ev.finish == finish_reason::error)
                u.history.pop_back();  // the turn never happened; try again later
            else
                u.history.push_back({"assistant", u.reply});
            u.next_s = now_seconds() + exponential(sc_.think_mean_s);
        }
        const double now = now_seconds();
        int active = sc_.open_loop ? 0 : sc_.users;
        if (!sc_.open_loop && sc_.ramp_s > 0)
            active = std::min(sc_.users, 1 + int((sc_.users - 1) * (now - t0) / sc_.ramp_s));
        counters_.active_users = active;
        double wake = now + 0.25;
        if (!paused_) {
            lk.unlock();
            if (sc_.open_loop) {
                while (next_arrival <= now) {
                    size_t slot = 0;
                    while (slot < users_.size() && users_[slot].busy) ++slot;
                    if (slot == users_.size()) users_.emplace_back();
                    users_[slot].conversation = 0;  // a fresh single-turn conversation
                    submit_turn(slot, now);
                    next_arrival += exponential(1.0 / sc_.rate_per_s);
                }
                wake = std::min(wake, next_arrival);
            } else {
                for (size_t i = 0; i < size_t(active); ++i) {
                    if (users_[i].busy) continue;
                    if (users_[i].next_s <= now) submit_turn(i, now);
                    else wake = std::min(wake, users_[i].next_s);
                }
            }
            lk.lock();
        }
        if (!inbox_.empty() || stop_) continue;
        cv_.wait_for(lk, std::chrono::duration<double>(std::max(0.0, wake - now_seconds())));
    }
    // Cancel what is in flight and wait for the final events so no callback outlives us.
    int in_flight = 0;
    for (auto& u : users_)
        if (u.busy) {
            ++in_flight;
            eng_.cancel(u.request_id);
        }
    while (in_flight > 0) {
        cv_.wait(lk, [this] { return !inbox_.empty(); });
        while (!inbox_.empty()) {
            const inbox_item it = std::move(inbox_.front());
            inbox_.pop_front();
            user& u = users_[it.user];
            if (it.ev.finish == finish_reason::none) {
                ++u.streamed;
                continue;
            }
            --in_flight;
            ++counters_.cancelled;
            heard_.erase(it.user);
            counters_.generated_tokens += uint64_t(it.ev.stats.generated_tokens);
            if (u.streamed != uint64_t(it.ev.stats.generated_tokens)) ++counters_.mismatched;
        }
    }
}

} // namespace rl
