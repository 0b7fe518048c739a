// stories: the built-in serving stories. Each is a preset of serving knobs plus a load (a
// scenario of virtual users) that makes one serving effect happen within a minute, a two-sentence
// caption of what to watch, and the counter that shows it happened. Sizes depend on the backend
// (story_backend: read from the loaded engine), never on one machine: a GPU gets more users and
// longer texts because it serves them faster, while pools are sized in blocks, which fill the
// same way on any device. The window's Presets list, `ridgeline-bench serve --preset NAME` and the
// GUI test all read this one table. Exercise: tests/test_stories.cpp, tests/test_story_window.cpp.
#pragma once
#include "metrics/metrics.h"
#include "runtime/load_generator.h"
#include "serving/serving_config.h"

#include <cstdint>
#include <string>
#include <vector>

namespace rl {

class engine;

/// What a story needs to know about the engine it runs on.
struct story_backend {
    bool gpu = false;
    int auto_batched_tokens = 512;   ///< engine_info::auto_batched_tokens: one "auto" step's tokens
};
story_backend story_backend_of(const engine& e);

/// The counters the stories are about, summed over step records (every one is also in
/// ridgeline-bench serve's JSON under "story").
struct story_tally {
    uint64_t steps = 0;
    uint64_t preemptions = 0, evicted_blocks = 0, recomputed_tokens = 0;
    /// Requests refused. Most are refused on arrival (a full queue), between steps, so no step
    /// record holds them: the caller sets this from metrics_snapshot::rejected_requests.
    uint64_t rejected = 0;
    uint64_t prefill_tokens = 0, decode_tokens = 0;
    uint64_t prefill_steps = 0;      ///< steps that computed more prompt tokens than decode tokens
    uint64_t decode_steps = 0;       ///< steps with decodes and at most as many prompt tokens
    /// Decode tokens that waited in a step carrying more prompt tokens than one "auto" step
    /// (story_backend::auto_batched_tokens): the head-of-line blocking chunked prefill removes.
    uint64_t decodes_behind_long_prefill = 0;
    int max_batch = 0;
    void add(const step_record& r, int long_prefill_tokens);
};

struct story {
    std::string name;                ///< "kv-pressure": the --preset word
    std::string title;               ///< "KV pressure": the Presets list
    std::string caption;             ///< two sentences: what happens, what to watch
    serving_config serving;          ///< every knob (serving_config{} where the story is silent)
    scenario load;                   ///< the virtual users
    std::string watch;               ///< what the counter counts, for "seen: 3 preemptions"
    /// The story's counter in `t`; the effect is there once it is above 0.
    uint64_t (*counter)(const story_tally& t) = nullptr;
};

/// The --preset words, in the Presets list's order.
std::vector<std::string> story_names();
/// The story for a backend; throws engine_error listing the names for an unknown one.
story story_preset(const std::string& name, const story_backend& be);

} // namespace rl
