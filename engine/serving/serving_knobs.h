// serving_knobs: the one table of serving-knob metadata. Each row names a serving_config field and
// says its type, range, unit, help text, what 0 means where 0 is special, and the flag vLLM, SGLang
// and llama-server use for it. The validator, the window's serving panel, the command-line options
// of every program, the command exports and the settings file all read this table; the default of
// each knob is the value in serving_config{} (one place). Cross-field rules live in validate().
// Exercise: tests/test_serving_knobs.cpp.
#pragma once
#include "serving/serving_config.h"

#include <span>
#include <string>
#include <string_view>

namespace rl {

enum class knob_type { integer, real, boolean, choice };

struct knob_info {
    std::string_view name{};       ///< serving_config field, settings-file key, panel object name
    std::string_view flag{};       ///< command-line option, e.g. "--max-num-seqs"; a boolean also
                                   ///< takes "--no-" + its name ("--no-prefix-caching")
    std::string_view group{};      ///< the panel's group box: "Batching", "KV pool", "Admission control"
    knob_type type{};
    double min = 0, max = 0;       ///< inclusive range of integer and real knobs
    bool min_exclusive = false;    ///< the range is (min, max] (gpu_memory_utilization)
    bool power_of_two = false;     ///< integer knobs that must be a power of two (block_size)
    int decimals = 0;              ///< real knobs: digits after the point a person sets
    double step = 1;               ///< integer and real knobs: one arrow-key step in the panel
    std::string_view unit{};       ///< "sequences", "tokens", "ms", ...; "" for booleans and choices
    std::string_view help{};       ///< one line: tooltip and --help text
    std::string_view zero_means{}; ///< non-empty where 0 is special: "auto", "off"
    std::span<const std::string_view> choices{}; ///< choice knobs: the accepted words, in order
    bool restarts_pool = false;    ///< changing it re-sizes the KV pool (cannot apply to a loaded model)
    bool sizes_auto_pool = false;  ///< ...but only an automatic pool (kv_blocks 0): with kv_blocks
                                   ///< given on both sides a change restarts nothing
    /// The flag each engine sets this knob with, "" where it has none. Not always the same meaning:
    /// SGLang turns prefix caching OFF with --disable-radix-cache and sizes chunks with
    /// --chunked-prefill-size; llama-server's -c is the whole context over all slots, not blocks,
    /// and its --cache-prompt is an exact prompt cache per slot, not shared blocks.
    /// interop/export_commands.cpp converts the values and writes a note wherever they differ.
    std::string_view vllm_flag{}, sglang_flag{}, llama_server_flag{};
    double (*get)(const serving_config&) = nullptr; ///< booleans 0/1, choices their index
    void (*set)(serving_config&, double) = nullptr;
};

/// Every serving knob, in the order the panel and --help show them (grouped by `group`).
std::span<const knob_info> serving_knobs();
/// By name ("max_num_seqs") or flag ("--max-num-seqs"); nullptr when there is none.
const knob_info* find_knob(std::string_view name_or_flag);

/// The knob's value in `c` as text: "16", "0.9", "true", "priority".
std::string knob_text(const knob_info& k, const serving_config& c);
/// The default (serving_config{}) as text.
std::string knob_default_text(const knob_info& k);
/// The accepted range of a number knob as "[1, 4096]" or "(0, 0.98]"; "" for booleans and choices.
std::string knob_range_text(const knob_info& k);
/// The least value a person can set: min, or one unit of the last shown decimal above it where
/// min itself is excluded (gpu_memory_utilization: 0.01).
double knob_lowest(const knob_info& k);
/// Whether `c` holds the knob's special zero (kv_blocks 0 = auto, max_queue_ms 0 = off).
bool knob_is_zero_special(const knob_info& k, const serving_config& c);

/// Parses `text` as the knob's value into `c` (words for booleans: true/false/1/0/on/off; the
/// choice words for choices). Refuses text that does not parse or is out of the knob's range.
config_error set_knob_text(const knob_info& k, std::string_view text, serving_config& c);
/// Checks one knob's value in `c` against its row (range, power of two).
config_error check_knob(const knob_info& k, const serving_config& c);

} // namespace rl
