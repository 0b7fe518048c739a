// engine: the facade over model, tokenizer and serving loop. Owns one engine thread that takes
// typed commands from a queue (submit, cancel) and streams token_events back to each request's sink.
#pragma once
#include "backend/backend.h"
#include "metrics/metrics_hub.h"
#include "model/model_config.h"
#include "serving/block_manager.h"
#include "serving/request.h"
#include "serving/serving_config.h"
#include "tokenizer/chat_template.h"
#include <future>
#include <map>
#include <memory>
#include <string>

namespace rl {

class tokenizer;

struct engine_options {
    std::string model_path;            // a GGUF file, or synthetic:NAME (model/synthetic.h)
    std::string backend = "cpu";       // "cpu" (or "cuda" when built)
    int threads = 0;                   // CPU backend threads; 0 = all cores
    serving_config serving;            // max_model_len 0 = min(model context, 8192); kv_blocks 0 =
                                       // kv_budget_gib, else every seat a full context capped by memory
    bool calibrate = true;             // measure the backend's peaks at start (about a second)
    /// Peaks measured before, by peaks_key (metrics/calibrate.h): a hit for this device is used
    /// instead of measuring, so the roof stays where it was (the window's per-device cache).
    std::map<std::string, device_peaks> known_peaks;
    weight_storage weights = weight_storage::automatic;  // GGUF blocks kept as they are, or expanded
};

struct engine_info {
    std::string model_name;
    std::string model_path;
    std::string arch;
    std::string backend;               // "cpu (16 threads)"
    std::string chat_template;         // "chatml", ...
    std::string template_warning;
    int64_t params = 0;
    size_t weight_bytes = 0;           // as the backend holds them (native blocks, or expanded)
    std::string weight_types;          // "q4_k 3.60 GiB, q6_k 0.79 GiB, bf16 0.00 GiB"
    std::string weights;               // the storage in force: "native", "bf16", "f32" ("auto" resolved)
    int context_length = 0;            // max_model_len, "auto" resolved
    int auto_batched_tokens = 0;       // what max_num_batched_tokens "auto" (0) means on this backend
    int kv_blocks = 0;                 // the pool in blocks, "auto" resolved
    int block_size = 0;
    size_t kv_bytes_per_block = 0;     // K and V, all layers
    std::string dtype;                 // compute dtype of weights and KV: "fp32" (cpu), "bf16" (cuda)
    std::string peaks_key;             // what the peaks are valid for (metrics/calibrate.h)
    bool peaks_known = false;          // the peaks came from engine_options::known_peaks
};

class engine {
public:
    /// Loads the model on the calling thread and starts the engine thread.
    /// Throws engine_error with one clear line (missing file, not GGUF, unsupported model...).
    static std::unique_ptr<engine> create(const engine_options& opt);
    virtual ~engine() = default;

    /// Thread-safe. Returns the request id; events go to r.on_event on the engine thread.
    virtual uint64_t submit(request r) = 0;
    /// Thread-safe. Submits several requests at once: the engine thread admits them in the same
    /// round, so they start in the same step (the n choices of one API request decode together).
    virtual std::vector<uint64_t> submit_all(std::vector<request> rs) = 0;
    /// Thread-safe. The request ends with cancelled (if not already finished).
    virtual void cancel(uint64_t request_id) = 0;
    /// Thread-safe. Validated now (the reason is returned, "" when accepted); applied at the next
    /// step boundary. Pool-shape changes (the knob table's restarts_pool rows: block_size,
    /// kv_blocks, gpu_memory_utilization) are refused: they need a reload.
    virtual std::string apply(const serving_config& cfg) = 0;
    /// The config in force as it was chosen: kv_blocks stays 0 ("auto") when the pool was sized
    /// from memory; info().kv_blocks is the pool that choice resolved to.
    virtual serving_config current_config() const = 0;
    /// Thread-safe value snapshot. new_steps holds the steps after `since_index` (UINT64_MAX: none).
    virtual metrics_snapshot snapshot(uint64_t since_index = UINT64_MAX) const = 0;
    virtual device_peaks peaks() const = 0;
    /// Thread-safe. Queues a new measurement of the backend's peaks, run on the engine thread
    /// between steps (about a second, steps wait meanwhile) and put in force. The future gets
    /// the peaks, or what the measurement threw, or std::future_error (broken promise) when the
    /// engine is destroyed first; it needs no engine to wait on.
    virtual std::future<device_peaks> recalibrate() = 0;
    virtual device_info device() const = 0;   // as read at load time
    virtual std::vector<step_record> step_history() const = 0;
    virtual std::vector<request_record> request_history() const = 0;
    /// The KV pool block by block (state, owner, last touch), republished by the engine thread at
    /// most every 100 ms; t_s is when it was taken.
    struct kv_map_view {
        std::vector<block_manager::block_view> blocks;
        double t_s = 0;
        int block_size = 0;
    };
    virtual kv_map_view kv_map() const = 0;
    /// Blocks until no request is queued or running (tests, CLI).
    virtual void wait_idle() = 0;
    /// Thread-safe debug hook (tests): runs block_manager::check_invariants() on the engine thread
    /// between steps; "" when the KV bookkeeping is sound, else the first violation.
    virtual std::string check_kv_invariants() = 0;

    virtual const engine_info& info() const = 0;
    virtual const model_config& config() const = 0;
    virtual const tokenizer& get_tokenizer() const = 0;
    virtual const chat_template& get_chat_template() const = 0;

    /// Renders messages with the model's template and tokenizes them (special tokens parsed).
    std::vector<int32_t> tokenize_chat(const std::vector<chat_message>& messages) const;
    /// Tokenizes plain text (BOS added if the model wants it).
    /// parse_special: control tokens written in the text ("<|im_start|>") become their ids, as
    /// llama-server and vLLM do for a raw completion prompt; false keeps them as plain text.
    std::vector<int32_t> tokenize_text(const std::string& text, bool parse_special = false) const;
};

} // namespace rl
