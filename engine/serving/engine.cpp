// engine.cpp: the engine facade and its thread. Commands (submit, cancel) arrive on a typed
// queue; the thread runs steps (schedule -> forward -> sample -> stream) until idle.
// The scheduling here is the first-light version: decode first, then chunked prefill inside the
// token budget, FCFS admission while blocks last, preempt-by-recompute of the newest sequence.
#include "serving/engine.h"

#if __has_include("backend/cpu_backend.h")  // TEMP while cpu_backend is being written
#include "backend/cpu_backend.h"
#define RL_HAVE_CPU_BACKEND_H 1
#endif
#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "model/llama_model.h"
#include "serving/sequence.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <variant>

namespace rl {

const char* to_string(finish_reason r) {
    switch (r) {
    case finish_reason::finish_reason_none: return "none";
    case finish_reason::finish_reason_stop: return "stop";
    case finish_reason::finish_reason_length: return "length";
    case finish_reason::finish_reason_cancelled: return "cancelled";
    case finish_reason::finish_reason_rejected: return "rejected";
    case finish_reason::finish_reason_error: return "error";
    }
    return "?";
}

std::vector<int32_t> engine::tokenize_chat(const std::vector<chat_message>& messages) const {
    return get_tokenizer().encode(get_chat_template().render(messages, true), false, true);
}

std::vector<int32_t> engine::tokenize_text(const std::string& text) const {
    const tokenizer& t = get_tokenizer();
    return t.encode(text, t.add_bos_default(), false);
}

namespace {

size_t mem_available_bytes() {
    std::ifstream f("/proc/meminfo");
    std::string key;
    size_t kb = 0;
    while (f >> key >> kb) {
        if (key == "MemAvailable:") return kb * 1024;
        f.ignore(256, '\n');
    }
    return 0;
}

struct submit_cmd { uint64_t id; request req; clock_type::time_point t; };
struct cancel_cmd { uint64_t id; };
using command = std::variant<submit_cmd, cancel_cmd>;

class engine_impl final : public engine {
public:
    explicit engine_impl(const engine_options& opt) : opt_(opt) {
        file_ = gguf_file::open(opt.model_path);
        tok_ = tokenizer::from_gguf(*file_);
        tmpl_ = chat_template::from_gguf(*file_);
        RL_CHECK(opt.backend == "cpu", "backend '" + opt.backend + "' is not available (this build has: cpu)");
#ifdef RL_HAVE_CPU_BACKEND_H
        be_ = std::make_unique<cpu_backend>(opt.threads);
#else
        RL_THROW("cpu backend not built yet");
#endif
        model_ = llama_model::load(*file_, *be_);
        const model_config& cfg = model_->config();
        RL_CHECK(tok_->vocab_size() <= cfg.vocab_size,
                 "tokenizer has " + std::to_string(tok_->vocab_size()) + " tokens but the embedding has " +
                     std::to_string(cfg.vocab_size) + " rows");
        RL_CHECK(opt.block_size >= 8 && opt.block_size <= 256 && (opt.block_size & (opt.block_size - 1)) == 0,
                 "block_size must be a power of two from 8 to 256, got " + std::to_string(opt.block_size));
        RL_CHECK(opt.max_num_seqs > 0, "max_num_seqs must be at least 1");
        RL_CHECK(opt.max_num_batched_tokens > 0, "max_num_batched_tokens must be at least 1");
        max_context_ = opt.max_context > 0 ? std::min(opt.max_context, cfg.context_length)
                                           : std::min(cfg.context_length, 8192);
        const int blocks_per_seq = (max_context_ + opt.block_size - 1) / opt.block_size;
        int blocks = opt.kv_blocks;
        if (blocks <= 0) {
            // Default: every seat a full context, but at most a fifth of free RAM, at least one seat.
            const kv_cache_layout one = model_->kv_layout_for(1, opt.block_size);
            const size_t per_block = size_t(2) * one.n_layers * one.block_size * one.n_kv_heads * one.head_dim *
                                     dtype_size(be_->compute_dtype());
            const size_t cap = std::max<size_t>(mem_available_bytes() / 5, per_block * blocks_per_seq);
            blocks = int(std::min<size_t>(size_t(blocks_per_seq) * opt.max_num_seqs, cap / per_block));
        }
        RL_CHECK(blocks >= blocks_per_seq, "KV pool of " + std::to_string(blocks) + " blocks cannot hold one " +
                                               std::to_string(max_context_) + "-token sequence (needs " +
                                               std::to_string(blocks_per_seq) + ")");
        be_->alloc_kv(model_->kv_layout_for(blocks, opt.block_size));
        for (int b = blocks - 1; b >= 0; --b) free_blocks_.push_back(b);

        info_.model_name = cfg.name;
        info_.model_path = opt.model_path;
        info_.arch = cfg.arch;
        info_.backend = be_->name();
        info_.chat_template = tmpl_.name();
        info_.template_warning = tmpl_.warning();
        info_.params = cfg.param_count();
        info_.weight_bytes = model_->weight_bytes();
        info_.context_length = max_context_;
        info_.kv_blocks = blocks;
        info_.block_size = opt.block_size;
        thread_ = std::thread([this] { run(); });
    }

    ~engine_impl() override {
        {
            std::lock_guard lk(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    uint64_t submit(request r) override {
        std::lock_guard lk(mu_);
        const uint64_t id = ++next_id_;
        queue_.push_back(submit_cmd{id, std::move(r), clock_type::now()});
        ++outstanding_;
        cv_.notify_all();
        return id;
    }

    void cancel(uint64_t id) override {
        std::lock_guard lk(mu_);
        queue_.push_back(cancel_cmd{id});
        cv_.notify_all();
    }

    void wait_idle() override {
        std::unique_lock lk(mu_);
        idle_cv_.wait(lk, [this] { return outstanding_ == 0; });
    }

    const engine_info& info() const override { return info_; }
    const model_config& config() const override { return model_->config(); }
    const tokenizer& get_tokenizer() const override { return *tok_; }
    const chat_template& get_chat_template() const override { return tmpl_; }

private:
    void run() {
        for (;;) {
            std::deque<command> cmds;
            {
                std::unique_lock lk(mu_);
                cv_.wait(lk, [this] { return stop_ || !queue_.empty() || !waiting_.empty() || !running_.empty(); });
                if (stop_) break;
                cmds.swap(queue_);
            }
            for (auto& c : cmds) {
                if (auto* s = std::get_if<submit_cmd>(&c)) admit(std::move(*s));
                else cancel_now(std::get<cancel_cmd>(c).id);
            }
            if (!waiting_.empty() || !running_.empty()) step();
        }
        // Shutting down: every request still gets its final event.
        for (auto* list : {&running_, &waiting_})
            for (auto& s : *list) finish(*s, finish_reason::finish_reason_cancelled, "engine stopped");
        running_.clear();
        waiting_.clear();
    }

    void admit(submit_cmd&& c) {
        auto s = std::make_unique<sequence>(c.id, std::move(c.req), c.t, *tok_);
        std::string why;
        if (s->req.prompt.empty()) why = "empty prompt";
        else if (int(s->req.prompt.size()) >= max_context_)
            why = "prompt of " + std::to_string(s->req.prompt.size()) + " tokens does not fit the context of " +
                  std::to_string(max_context_) + " tokens";
        else if (s->req.max_tokens < 1) why = "max_tokens must be at least 1";
        else if (auto v = validate(s->req.sampling); !v.empty()) why = v;
        else
            for (int32_t t : s->req.prompt)
                if (t < 0 || t >= model_->config().vocab_size) { why = "token id out of range"; break; }
        if (!why.empty()) return finish(*s, finish_reason::finish_reason_rejected, why);
        waiting_.push_back(std::move(s));
    }

    void cancel_now(uint64_t id) {
        for (auto* list : {&running_, &waiting_}) {
            auto it = std::find_if(list->begin(), list->end(), [&](auto& s) { return s->id == id; });
            if (it != list->end()) {
                release_blocks(**it);
                finish(**it, finish_reason::finish_reason_cancelled, "");
                list->erase(it);
                return;
            }
        }
    }

    void release_blocks(sequence& s) {
        for (int32_t b : s.block_table) free_blocks_.push_back(b);
        s.block_table.clear();
    }

    bool grow_blocks(sequence& s, int n_tokens_total) {
        const int need = (n_tokens_total + opt_.block_size - 1) / opt_.block_size - int(s.block_table.size());
        if (need <= 0) return true;
        if (need > int(free_blocks_.size())) return false;
        for (int i = 0; i < need; ++i) {
            s.block_table.push_back(free_blocks_.back());
            free_blocks_.pop_back();
        }
        return true;
    }

    // Preempt by recompute: running_[idx] gives back its blocks and waits again (at the front).
    void preempt(size_t idx) {
        auto s = std::move(running_[idx]);
        running_.erase(running_.begin() + long(idx));
        release_blocks(*s);
        s->n_computed = 0;
        ++s->preemptions;
        waiting_.push_front(std::move(s));
    }

    void schedule(step_input& in, std::vector<sequence*>& batch) {
        int budget = opt_.max_num_batched_tokens;
        auto add = [&](sequence& s, int n) {
            seq_slice sl;
            sl.token_begin = in.n_tokens();
            sl.n_tokens = n;
            sl.start_pos = s.n_computed;
            sl.block_table = s.block_table;
            for (int i = 0; i < n; ++i) {
                in.tokens.push_back(s.tokens[size_t(s.n_computed + i)]);
                in.positions.push_back(s.n_computed + i);
            }
            if (s.n_computed + n == int(s.tokens.size())) in.logit_rows.push_back(sl.token_begin + n - 1);
            in.seqs.push_back(std::move(sl));
            s.scheduled = n;
            batch.push_back(&s);
            budget -= n;
        };
        // Pass 0 takes decodes (one token each), pass 1 the rest of running prefills in chunks.
        // When blocks run out, the newest sequence not yet scheduled is preempted; the pool always
        // holds one full-context sequence, so the oldest can always proceed.
        for (int pass = 0; pass < 2; ++pass) {
            for (size_t i = 0; i < running_.size() && budget > 0;) {
                sequence& s = *running_[i];
                const int remaining = int(s.tokens.size()) - s.n_computed;
                if (s.scheduled > 0 || (pass == 0) != (remaining == 1)) { ++i; continue; }
                const int n = std::min(budget, remaining);
                bool ok = grow_blocks(s, s.n_computed + n);
                for (size_t v = running_.size() - 1; !ok && v > i; --v)
                    if (running_[v]->scheduled == 0) {
                        preempt(v);
                        ok = grow_blocks(s, s.n_computed + n);
                    }
                if (!ok) { preempt(i); continue; }
                add(s, n);
                ++i;
            }
        }
        while (!waiting_.empty() && budget > 0 && int(running_.size()) < opt_.max_num_seqs) {
            sequence& s = *waiting_.front();
            const int n = std::min<int>(budget, int(s.tokens.size()) - s.n_computed);
            if (!grow_blocks(s, s.n_computed + n)) break;
            if (s.first_scheduled == clock_type::time_point{}) s.first_scheduled = clock_type::now();
            running_.push_back(std::move(waiting_.front()));
            waiting_.pop_front();
            add(*running_.back(), n);
        }
    }

    void step() {
        step_input in;
        std::vector<sequence*> batch;
        schedule(in, batch);
        if (batch.empty()) return;
        std::vector<float> logits;
        try {
            model_->forward(in, logits);
        } catch (const std::exception& e) {
            for (auto& s : running_) {
                release_blocks(*s);
                finish(*s, finish_reason::finish_reason_error, e.what());
            }
            running_.clear();
            return;
        }
        const int vocab = model_->config().vocab_size;
        size_t row = 0;
        std::vector<sequence*> done;
        for (sequence* s : batch) {
            s->n_computed += s->scheduled;
            s->scheduled = 0;
            if (s->n_computed < int(s->tokens.size())) continue;  // mid-prefill chunk
            const int32_t tok = s->sample(&logits[row++ * size_t(vocab)], vocab);
            token_event ev;
            ev.request_id = s->id;
            ev.token = tok;
            ev.text = tok_->is_end_of_generation(tok) ? std::string() : s->decoder.push(tok);
            finish_reason fin = finish_reason::finish_reason_none;
            if (tok_->is_end_of_generation(tok)) fin = finish_reason::finish_reason_stop;
            else if (s->generated() >= s->req.max_tokens || int(s->tokens.size()) >= max_context_)
                fin = finish_reason::finish_reason_length;
            if (s->req.on_event) s->req.on_event(ev);
            if (fin != finish_reason::finish_reason_none) {
                s->pending_finish = fin;
                done.push_back(s);
            }
        }
        for (sequence* s : done) {
            auto it = std::find_if(running_.begin(), running_.end(), [&](auto& p) { return p.get() == s; });
            release_blocks(*s);
            finish(*s, s->pending_finish, "");
            running_.erase(it);
        }
    }

    void finish(sequence& s, finish_reason why, const std::string& error) {
        token_event ev;
        ev.request_id = s.id;
        ev.finish = why;
        ev.error = error;
        ev.text = s.decoder.flush();
        ev.stats = s.stats(clock_type::now());
        if (s.req.on_event) s.req.on_event(ev);
        std::lock_guard lk(mu_);
        if (--outstanding_ == 0) idle_cv_.notify_all();
    }

    engine_options opt_;
    std::unique_ptr<gguf_file> file_;
    std::unique_ptr<tokenizer> tok_;
    chat_template tmpl_;
    std::unique_ptr<backend> be_;
    std::unique_ptr<llama_model> model_;
    engine_info info_;
    int max_context_ = 0;

    std::mutex mu_;
    std::condition_variable cv_, idle_cv_;
    std::deque<command> queue_;
    bool stop_ = false;
    uint64_t next_id_ = 0;
    int outstanding_ = 0;

    // engine-thread state
    std::deque<std::unique_ptr<sequence>> waiting_;
    std::deque<std::unique_ptr<sequence>> running_;
    std::vector<int32_t> free_blocks_;
    std::thread thread_;
};

} // namespace

std::unique_ptr<engine> engine::create(const engine_options& opt) {
    return std::make_unique<engine_impl>(opt);
}

} // namespace rl
