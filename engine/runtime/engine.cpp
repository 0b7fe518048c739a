// engine.cpp: the engine facade and its thread. Commands (submit, cancel, apply) arrive on a
// typed queue; the thread runs steps (schedule -> forward -> sample -> stream) until idle.
// Scheduling decisions live in scheduler.cpp, block bookkeeping in block_manager.cpp.
#include "runtime/engine.h"

#include "runtime/backend_factory.h"
#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "metrics/calibrate.h"
#include "metrics/cost_model.h"
#include "model/llama_model.h"
#include "model/synthetic.h"
#include "serving/step_sampling.h"
#include "serving/scheduler.h"
#include "serving/sequence.h"
#include "serving/serving_knobs.h"
#include "tokenizer/byte_tokenizer.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>
#include <variant>

namespace rl {

const char* to_string(finish_reason r) {
    switch (r) {
    case finish_reason::none: return "none";
    case finish_reason::stop: return "stop";
    case finish_reason::length: return "length";
    case finish_reason::cancelled: return "cancelled";
    case finish_reason::rejected: return "rejected";
    case finish_reason::error: return "error";
    }
    return "?";
}

std::vector<int32_t> engine::tokenize_chat(const std::vector<chat_message>& messages) const {
    return get_tokenizer().encode(get_chat_template().render(messages, true), false, true);
}

std::vector<int32_t> engine::tokenize_text(const std::string& text, bool parse_special) const {
    const tokenizer& t = get_tokenizer();
    return t.encode(text, t.add_bos_default(), parse_special);
}

namespace {

struct submit_cmd { uint64_t id; request req; clock_type::time_point t; };
struct cancel_cmd { uint64_t id; };
struct apply_cmd { serving_config cfg; };
struct check_cmd { std::shared_ptr<std::promise<std::string>> result; };
struct calibrate_cmd { std::shared_ptr<std::promise<device_peaks>> result; };
using command = std::variant<submit_cmd, cancel_cmd, apply_cmd, check_cmd, calibrate_cmd>;

class engine_impl final : public engine {
public:
    explicit engine_impl(const engine_options& opt) : opt_(opt) {
        be_ = create_backend(opt.backend, opt.threads);
        if (is_synthetic(opt.model_path)) {
            // Random weights at a real shape; text goes through a byte-level stand-in tokenizer.
            model_ = llama_model::synthetic_named(opt.model_path.substr(std::string(kSyntheticPrefix).size()), *be_,
                                                  opt.weights);
            const model_config& scfg = model_->config();
            tok_ = make_byte_tokenizer(scfg.vocab_size);
            tmpl_ = chat_template::detect("");
        } else {
            file_ = gguf_file::open(opt.model_path);   // its errors already name the file
            try {
                tok_ = tokenizer::from_gguf(*file_);
                tmpl_ = chat_template::from_gguf(*file_);
                model_ = llama_model::load(*file_, *be_, opt.weights);
                RL_CHECK(tok_->vocab_size() <= model_->config().vocab_size,
                         "tokenizer has " + std::to_string(tok_->vocab_size()) + " tokens but the embedding has " +
                             std::to_string(model_->config().vocab_size) + " rows");
            } catch (const engine_error& e) {
                // One line that says which file is wrong as well as what is wrong with it.
                throw engine_error("'" + opt.model_path + "': " + e.what(), e.file(), e.line());
            }
        }
        const model_config& cfg = model_->config();
        const serving_config& sc = opt.serving;
        if (auto e = validate(sc)) RL_THROW(e.message);
        max_context_ = resolve_max_model_len(sc.max_model_len, cfg.context_length);
        const int blocks_per_seq = (max_context_ + sc.block_size - 1) / sc.block_size;
        const kv_cache_layout one = model_->kv_layout_for(1, sc.block_size);
        per_block_bytes_ = size_t(2) * one.n_layers * one.block_size * one.n_kv_heads * one.head_dim *
                           dtype_size(be_->compute_dtype());
        // The one place kv_blocks "auto" (0) is resolved: config_ keeps the choice as made,
        // info_.kv_blocks reports the pool it became.
        const int blocks = sc.kv_blocks != 0      ? sc.kv_blocks
                           : sc.kv_budget_gib > 0 ? kv_blocks_for_budget(sc.kv_budget_gib, per_block_bytes_)
                                                  : default_pool_blocks(sc, blocks_per_seq);
        if (auto e = validate_pool(sc, blocks, max_context_)) RL_THROW(e.message);
        be_->alloc_kv(model_->kv_layout_for(blocks, sc.block_size));
        blocks_ = std::make_unique<block_manager>(blocks, sc.block_size, sc.prefix_caching);
        const device_info dev = be_->info();
        cost_ = cost_model::on_device(cfg, double(dtype_size(be_->compute_dtype())), dev.kind, dev.compute_units);
        cost_.matmul_weight_bytes = double(model_->matmul_weight_bytes());
        cost_.expert_bytes = double(model_->expert_weight_bytes());
        cost_.blocks_expand_above = model_->block_matmuls() ? be_->block_weights_expand_above() : 0;
        info_.peaks_key = peaks_key(dev, be_->compute_dtype());
        if (auto k = opt.known_peaks.find(info_.peaks_key);
            k != opt.known_peaks.end() && k->second.flops > 0 && k->second.bytes_per_s > 0) {
            hub_.set_peaks(k->second);
            info_.peaks_known = true;
        } else if (opt.calibrate) {
            try {   // no room for the measurement's buffers: serve on, "not calibrated"
                hub_.set_peaks(calibrate_peaks(*be_));
            } catch (const engine_error&) {
            }
        }
        // max_num_batched_tokens "auto": resolved once per load from the backend and its peak.
        auto_tokens_ = auto_batched_tokens(dev.kind == "cuda", hub_.peaks().flops, double(cfg.param_count()));
        sched_ = std::make_unique<scheduler>(resolve_step_budget(sc, auto_tokens_), *blocks_, max_context_);
        sched_->set_kv_window(cfg.kv_window());
        config_ = sc;
        hub_.set_kv_total(blocks);
        t0_ = clock_type::now();

        info_.model_name = cfg.name;
        info_.model_path = opt.model_path;
        info_.arch = cfg.arch;
        info_.backend = be_->name();
        info_.chat_template = tmpl_.name();
        info_.template_warning = tmpl_.warning();
        info_.params = cfg.param_count();
        info_.weight_bytes = model_->weight_bytes();
        info_.weight_types = model_->weight_types();
        info_.weights = weight_storage_name(model_->storage());
        info_.context_length = max_context_;
        info_.auto_batched_tokens = auto_tokens_;
        info_.kv_blocks = blocks;
        info_.block_size = sc.block_size;
        info_.kv_bytes_per_block = per_block_bytes_;
        info_.dtype = be_->compute_dtype() == dtype::f32 ? "fp32" : "bf16";
        device_ = be_->info();
        thread_ = std::thread([this] { run(); });
    }

    // The pool when kv_blocks is 0. On a GPU, as vLLM: gpu_memory_utilization of total memory may
    // be used, minus what is already in use (weights, workspace). On the CPU the same fraction of
    // available RAM, capped at 1 GiB and at every seat holding a full context.
    int default_pool_blocks(const serving_config& sc, int blocks_per_seq) const {
        const device_info di = be_->info();
        size_t budget = 0;
        if (di.kind == "cuda") {
            const double allowed = double(di.total_memory) * sc.gpu_memory_utilization;
            const double used = double(di.total_memory - di.free_memory);
            budget = allowed > used ? size_t(allowed - used) : 0;
            return int(std::min<size_t>(budget / per_block_bytes_, size_t(1) << 22));
        }
        // The CPU backend reports MemAvailable as its free memory.
        budget = std::min<size_t>(size_t(double(di.free_memory) * sc.gpu_memory_utilization), size_t(1) << 30);
        budget = std::max(budget, per_block_bytes_ * size_t(blocks_per_seq));
        return int(std::min<size_t>(size_t(blocks_per_seq) * size_t(sc.max_num_seqs), budget / per_block_bytes_));
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

    std::vector<uint64_t> submit_all(std::vector<request> rs) override {
        std::vector<uint64_t> ids;
        std::lock_guard lk(mu_);
        for (auto& r : rs) {
            ids.push_back(++next_id_);
            queue_.push_back(submit_cmd{ids.back(), std::move(r), clock_type::now()});
            ++outstanding_;
        }
        cv_.notify_all();
        return ids;
    }

    void cancel(uint64_t id) override {
        std::lock_guard lk(mu_);
        queue_.push_back(cancel_cmd{id});
        cv_.notify_all();
    }

    std::string apply(const serving_config& cfg) override {
        if (auto e = validate(cfg)) return e.message;
        std::lock_guard lk(mu_);
        if (needs_pool_restart(config_, cfg)) {
            std::string names;
            int n = 0;
            for (const knob_info& k : serving_knobs())
                if (k.restarts_pool && k.get(cfg) != k.get(config_))
                    names += (n++ ? " and " : "") + std::string(k.name);
            return names + (n > 1 ? " need" : " needs") + " a pool restart: reload the model to change " +
                   (n > 1 ? "them" : "it");
        }
        config_ = cfg;
        queue_.push_back(apply_cmd{cfg});
        cv_.notify_all();
        return "";
    }

    metrics_snapshot snapshot(uint64_t since_index) const override { return hub_.snapshot(now_s(), since_index); }
    device_peaks peaks() const override { return hub_.peaks(); }
    device_info device() const override { return device_; }
    kv_map_view kv_map() const override {
        std::lock_guard lk(kv_map_mu_);
        return kv_map_;
    }
    std::vector<step_record> step_history() const override { return hub_.all_steps(); }
    std::vector<request_record> request_history() const override { return hub_.all_requests(); }

    serving_config current_config() const override {
        std::lock_guard lk(mu_);
        return config_;
    }

    std::future<device_peaks> recalibrate() override {
        auto result = std::make_shared<std::promise<device_peaks>>();
        std::future<device_peaks> f = result->get_future();
        std::lock_guard lk(mu_);
        queue_.push_back(calibrate_cmd{result});
        cv_.notify_all();
        return f;
    }

    std::string check_kv_invariants() override {
        auto result = std::make_shared<std::promise<std::string>>();
        std::future<std::string> f = result->get_future();
        {
            std::lock_guard lk(mu_);
            queue_.push_back(check_cmd{result});
            cv_.notify_all();
        }
        return f.get();
    }

    void wait_idle() override {
        std::unique_lock lk(mu_);
        idle_cv_.wait(lk, [this] { return outstanding_ == 0 && !in_step_; });
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
                cv_.wait(lk, [this] { return stop_ || !queue_.empty() || !sched_->idle(); });
                if (stop_) break;
                cmds.swap(queue_);
                in_step_ = true;  // wait_idle() waits until this round's records are in
            }
            for (auto& c : cmds) {
                if (auto* s = std::get_if<submit_cmd>(&c)) admit(std::move(*s));
                else if (auto* a = std::get_if<apply_cmd>(&c)) sched_->set_config(resolve_step_budget(a->cfg, auto_tokens_));
                else if (auto* k = std::get_if<check_cmd>(&c)) k->result->set_value(blocks_->check_invariants());
                else if (auto* m = std::get_if<calibrate_cmd>(&c)) measure_peaks(*m->result);
                else cancel_now(std::get<cancel_cmd>(c).id);
            }
            if (!sched_->idle()) step();
            publish_gauges();
            if (sched_->idle()) publish_kv_map(now_s(), true);  // the map shows the idle pool
            {
                std::lock_guard lk(mu_);
                in_step_ = false;
                if (outstanding_ == 0) idle_cv_.notify_all();
            }
        }
        // Shutting down: every request still gets its final event.
        std::vector<uint64_t> ids;
        for (auto* list : {&sched_->running(), &sched_->waiting()})
            for (auto& s : *list) ids.push_back(s->id);
        for (uint64_t id : ids) finish(*sched_->remove(id), finish_reason::cancelled, "engine stopped");
    }

    void admit(submit_cmd&& c) {
        // The sampler refuses invalid settings in its constructor: check them before building it.
        std::string why = validate(c.req.sampling);
        if (!why.empty()) c.req.sampling = sampling_params{};
        auto s = std::make_unique<sequence>(c.id, std::move(c.req), c.t, tok_.get());
        for (int32_t t : s->req.prompt)
            if (why.empty() && (t < 0 || t >= model_->config().vocab_size)) why = "token id " + std::to_string(t) + " out of range";
        for (const auto& [t, bias] : s->req.sampling.logit_bias)
            if (why.empty() && t >= model_->config().vocab_size)
                why = "logit_bias: token id " + std::to_string(t) + " out of range (the vocabulary has " +
                      std::to_string(model_->config().vocab_size) + " tokens)";
        if (why.empty()) why = sched_->add(s, clock_type::now());
        if (!why.empty() && s) finish(*s, finish_reason::rejected, why);
    }

    void measure_peaks(std::promise<device_peaks>& out) {
        try {
            const device_peaks p = calibrate_peaks(*be_);
            hub_.set_peaks(p);
            out.set_value(p);
        } catch (...) {
            out.set_exception(std::current_exception());
        }
    }

    void cancel_now(uint64_t id) {
        if (auto s = sched_->remove(id)) finish(*s, finish_reason::cancelled, "");
    }

    double now_s() const { return std::chrono::duration<double>(clock_type::now() - t0_).count(); }

    void step() {
        const auto t_start = clock_type::now();
        blocks_->set_now(std::chrono::duration<double>(t_start - t0_).count());
        const scheduler_counters c0 = sched_->counters();
        const uint64_t q0 = blocks_->prefix_cache_queries(), h0 = blocks_->prefix_cache_hits(),
                       e0 = blocks_->evicted_blocks();
        std::vector<rejection> rejected;
        scheduled_step st = sched_->schedule(t_start, rejected);
        for (auto& r : rejected) finish(*r.seq, finish_reason::rejected, r.reason);
        if (st.empty()) return;
        // Prefill progress before the chunk runs, so a prompt done in one long step still says it started.
        for (sequence* s : st.seqs)
            if (s->req.report_progress && s->req.on_event && s->generated() == 0) {
                token_event ev;
                ev.request_id = s->id;
                ev.prompt_computed = s->n_computed;
                ev.prompt_total = s->prompt_len;
                s->req.on_event(ev);
            }
        // Greedy argmax or device draws when every row allows it (only ids cross), else host.
        step_sampling how = plan_sampling(st, be_->samples_on_device());
        std::vector<float> logits;
        std::vector<int32_t> ids;
        try {
            if (how.path == sample_path::device_greedy) model_->forward_greedy(st.input, ids);
            else if (how.path == sample_path::device_draw) model_->forward_sample(st.input, how.draws, ids);
            else model_->forward(st.input, logits);
            // A step that wants no logits (prefill chunks only) returns once its work is queued on
            // an asynchronous backend; wait for it (here, so a device error ends this step's
            // requests), so that its duration (the roofline's FLOP/s, tok/s, the step strip) is
            // its own device time and not the launch time, with the work charged to the next step.
            if (st.input.logit_rows.empty()) be_->synchronize();
        } catch (const std::exception& e) {
            // The step failed as a whole: its requests end with the error; the engine keeps running.
            for (sequence* s : st.seqs) finish(*sched_->remove(s->id), finish_reason::error, e.what());
            return;
        }
        sched_->on_computed(st);
        const int vocab = model_->config().vocab_size;
        size_t row = 0;
        uint32_t started_prompt_tokens = 0;
        std::vector<std::pair<uint64_t, finish_reason>> done;
        for (size_t i = 0; i < st.seqs.size(); ++i) {
            if (!st.wants_logits[i]) continue;  // mid-prefill chunk
            sequence* s = st.seqs[i];
            const int32_t tok = how.path != sample_path::host ? s->accept(ids[row++])
                                                              : s->sample(&logits[row++ * size_t(vocab)], vocab);
            // A request's prompt counts once, whole, when its first token comes (as vLLM counts
            // prompt_tokens_total); a recompute after preemption has generated tokens already.
            if (s->generated() == 1) started_prompt_tokens += uint32_t(s->prompt_len);
            const bool eog = tok_->is_end_of_generation(tok) && !s->req.ignore_eos;
            token_event ev;
            ev.request_id = s->id;
            ev.token = tok;
            ev.text = tok_->is_end_of_generation(tok) ? std::string() : s->decoder->push(tok);
            if (s->req.logprobs >= 0 && how.path == sample_path::host) ev.logprobs = s->last_logprobs;
            if (s->req.on_event) s->req.on_event(ev);
            if (eog) done.emplace_back(s->id, finish_reason::stop);
            else if (s->generated() >= s->req.max_tokens || int(s->tokens.size()) >= max_context_)
                done.emplace_back(s->id, finish_reason::length);
        }
        for (auto& [id, why] : done) finish(*sched_->remove(id), why, "");

        step_record r;
        r.t_s = std::chrono::duration<double>(t_start - t0_).count();
        r.duration_s = std::chrono::duration<double>(clock_type::now() - t_start).count();
        r.prefill_tokens = st.prefill_tokens;
        r.decode_tokens = st.decode_tokens;
        r.sampled_tokens = int(row);
        r.num_running = int(st.seqs.size());
        r.num_waiting = sched_->num_waiting();
        const block_counts bc = blocks_->counts();
        r.kv_used = bc.used;
        r.kv_cached = bc.cached;
        r.kv_free = bc.free;
        std::vector<step_shape_seq> shape;
        for (size_t i = 0; i < st.seqs.size(); ++i)
            shape.push_back({st.input.seqs[i].n_tokens, st.input.seqs[i].start_pos, bool(st.wants_logits[i])});
        const step_cost cost = cost_.cost(shape, model_->last_experts_read());
        r.flops = cost.flops;
        r.bytes = cost.bytes();
        const scheduler_counters& c1 = sched_->counters();
        r.preemptions = uint32_t(c1.preemptions - c0.preemptions);
        r.recomputed_tokens = uint32_t(c1.recomputed_tokens - c0.recomputed_tokens);
        r.window_freed_blocks = uint32_t(c1.window_freed_blocks - c0.window_freed_blocks);
        r.started_prompt_tokens = started_prompt_tokens;
        r.rejected = uint32_t(rejected.size());
        r.finished = uint32_t(done.size());
        r.prefix_queries = uint32_t(blocks_->prefix_cache_queries() - q0);
        r.prefix_hits = uint32_t(blocks_->prefix_cache_hits() - h0);
        r.evicted_blocks = uint32_t(blocks_->evicted_blocks() - e0);
        const auto t_rec = clock_type::now();
        hub_.record_step(r);
        publish_kv_map(r.t_s + r.duration_s);
        hub_.add_overhead(std::chrono::duration<double>(clock_type::now() - t_rec).count());
    }

    void publish_gauges() {
        const block_counts bc = blocks_->counts();
        // Once per loop round, not per token: a scan of the waiting queue (already in rank order)
        // for the few requests that show their wait (the chat's); it allocates only when one waits.
        std::vector<std::pair<uint64_t, int>> places;
        int place = 0;
        for (const auto& s : sched_->waiting()) {
            ++place;
            if (s->req.report_progress) places.emplace_back(s->id, place);
        }
        hub_.set_gauges(int(sched_->running().size()), sched_->num_waiting(), bc.used, bc.cached, bc.free,
                        std::move(places));
    }

    void publish_kv_map(double now, bool force = false) {
        if (!force && now - kv_map_.t_s < 0.1 && kv_published_once_) return;  // kv_map_.t_s only changes here
        std::vector<block_manager::block_view> view;
        blocks_->export_view(view);
        std::lock_guard lk(kv_map_mu_);
        kv_map_.blocks.swap(view);
        kv_map_.t_s = now;
        kv_map_.block_size = blocks_->block_size();
        kv_published_once_ = true;
    }

    void finish(sequence& s, finish_reason why, const std::string& error) {
        token_event ev;
        ev.request_id = s.id;
        ev.finish = why;
        ev.error = error;
        if (s.decoder) ev.text = s.decoder->flush();
        const auto now = clock_type::now();
        ev.stats = s.stats(now);
        request_record rr;
        rr.t_s = std::chrono::duration<double>(now - t0_).count();
        rr.owner = s.req.conversation_id;
        rr.queue_s = ev.stats.queue_ms / 1000;
        rr.ttft_s = ev.stats.ttft_ms / 1000;
        rr.tpot_s = ev.stats.decode_tok_s > 0 ? 1.0 / ev.stats.decode_tok_s : 0;
        rr.e2e_s = ev.stats.e2e_ms / 1000;
        rr.prompt_tokens = ev.stats.prompt_tokens;
        rr.generated_tokens = ev.stats.generated_tokens;
        rr.cached_prompt_tokens = ev.stats.cached_prompt_tokens;
        rr.rejected = why == finish_reason::rejected;
        rr.cancelled = why == finish_reason::cancelled;
        rr.length = why == finish_reason::length;
        hub_.record_request(rr);
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
    int auto_tokens_ = 0;   // max_num_batched_tokens "auto" on this backend

    std::unique_ptr<block_manager> blocks_;
    std::unique_ptr<scheduler> sched_;
    serving_config config_;  // guarded by mu_
    cost_model cost_;
    metrics_hub hub_;
    size_t per_block_bytes_ = 0;
    device_info device_;
    clock_type::time_point t0_ = clock_type::now();
    mutable std::mutex kv_map_mu_;
    kv_map_view kv_map_;
    bool kv_published_once_ = false;

    mutable std::mutex mu_;
    std::condition_variable cv_, idle_cv_;
    std::deque<command> queue_;
    bool stop_ = false;
    bool in_step_ = false;  // the engine thread is handling a round of commands and a step
    uint64_t next_id_ = 0;
    int outstanding_ = 0;

    std::thread thread_;
};

} // namespace

std::unique_ptr<engine> engine::create(const engine_options& opt) {
    return std::make_unique<engine_impl>(opt);
}

} // namespace rl
