// stories.cpp: the story table (see stories.h). Every number here is sized so the effect shows
// within a minute: on the CPU with SmolLM2-135M on two cores, and on a GPU, where throughput is
// tens of times higher, with more users and longer texts so the load still outruns the engine.
#include "runtime/stories.h"

#include "common/engine_error.h"
#include "runtime/engine.h"

#include <algorithm>

namespace rl {

void story_tally::add(const step_record& r, int long_prefill_tokens) {
    ++steps;
    preemptions += r.preemptions;
    evicted_blocks += r.evicted_blocks;
    recomputed_tokens += r.recomputed_tokens;
    prefill_tokens += uint64_t(r.prefill_tokens);
    decode_tokens += uint64_t(r.decode_tokens);
    if (r.prefill_tokens > r.decode_tokens) ++prefill_steps;
    if (r.decode_tokens > 0 && r.decode_tokens >= r.prefill_tokens) ++decode_steps;
    if (r.prefill_tokens > long_prefill_tokens) decodes_behind_long_prefill += uint64_t(r.decode_tokens);
    max_batch = std::max(max_batch, r.num_running);
}

story_backend story_backend_of(const engine& e) {
    story_backend b;
    b.gpu = e.device().kind == "cuda";
    b.auto_batched_tokens = e.info().auto_batched_tokens;
    return b;
}

std::vector<std::string> story_names() {
    return {"batching-pays", "kv-pressure", "idle-return", "at-capacity", "summarize-vs-write", "head-of-line"};
}

story story_preset(const std::string& name, const story_backend& be) {
    const bool gpu = be.gpu;
    story s;
    s.name = name;
    scenario& l = s.load;
    serving_config& c = s.serving;
    l.name = name;
    l.style = "chat";
    if (name == "batching-pays") {
        s.title = "Batching pays";
        s.caption = "Virtual users ramp up and the engine runs their decodes as one batch, so tokens per second "
                    "rise with the batch. Watch the batch and tok/s plots climb together, and the roofline point "
                    "walk right, from bandwidth-bound toward the ridge.";
        c.max_num_seqs = gpu ? 128 : 16;
        l.users = gpu ? 128 : 16;
        l.ramp_s = gpu ? 40 : 20;
        l.think_mean_s = 0.5;
        l.prompt_tokens = 48;
        l.output_tokens = gpu ? 256 : 64;
        l.turns = 4;
        s.watch = "largest batch";
        s.counter = [](const story_tally& t) { return uint64_t(t.max_batch >= 4 ? t.max_batch : 0); };
    } else if (name == "kv-pressure") {
        s.title = "KV pressure";
        s.caption = "The KV pool holds only a few conversations, so growing replies run out of blocks. Watch the "
                    "KV map fill, idle cached blocks get evicted, then running sequences preempted and recomputed.";
        c.max_model_len = gpu ? 1024 : 512;
        c.kv_blocks = gpu ? 256 : 40;
        l.users = gpu ? 32 : 4;
        l.think_mean_s = 1;
        l.prompt_tokens = gpu ? 200 : 48;
        l.output_tokens = gpu ? 400 : 200;
        l.turns = 6;
        s.watch = "preemptions + evicted blocks";
        s.counter = [](const story_tally& t) { return t.preemptions + t.evicted_blocks; };
    } else if (name == "idle-return") {
        s.title = "Idle users come back";
        s.caption = "Users pause between turns while others fill the pool, so the cached blocks of idle "
                    "conversations are evicted. Watch evictions on the KV map, then recomputed tokens when the "
                    "owners return and their history is computed again.";
        c.max_model_len = gpu ? 1024 : 512;
        c.kv_blocks = gpu ? 320 : 32;
        l.users = gpu ? 40 : 5;
        l.think_mean_s = 3;
        l.prompt_tokens = gpu ? 160 : 48;
        l.output_tokens = 32;
        l.turns = 50;
        s.watch = "recomputed tokens";
        s.counter = [](const story_tally& t) { return t.recomputed_tokens; };
    } else if (name == "at-capacity") {
        s.title = "At capacity";
        s.caption = "More users ask than the batch and the short queue admit, so admission control refuses "
                    "requests with a reason. Watch the rejected count rise while the batch stays at its limit.";
        c.max_num_seqs = gpu ? 16 : 4;
        c.max_waiting = gpu ? 16 : 4;
        c.max_queue_ms = 5000;
        l.users = gpu ? 128 : 16;
        l.think_mean_s = 0.2;
        l.prompt_tokens = 48;
        l.output_tokens = gpu ? 256 : 64;
        l.turns = 2;
        s.watch = "rejected requests";
        s.counter = [](const story_tally& t) { return t.rejected; };
    } else if (name == "summarize-vs-write") {
        s.title = "Summarize vs write";
        s.caption = "Half the users send long texts to summarize, half ask for long pieces of writing. Watch "
                    "prefill-heavy steps sit high on the roofline and decode steps low, and prefill tok/s dwarf "
                    "decode tok/s.";
        l.users = gpu ? 32 : 4;
        l.mix_users = l.users / 2;
        l.style = "write";
        l.prompt_tokens = 50;
        l.output_tokens = gpu ? 800 : 160;
        l.mix_style = "summarize";
        l.mix_prompt_tokens = gpu ? 1500 : 250;
        l.mix_output_tokens = gpu ? 100 : 32;
        l.think_mean_s = 1;
        l.turns = 1;
        s.watch = "prefill-heavy and decode-heavy steps (the fewer of the two)";
        s.counter = [](const story_tally& t) { return std::min(t.prefill_steps, t.decode_steps); };
    } else if (name == "head-of-line") {
        s.title = "Head-of-line blocking";
        s.caption = "Chunked prefill is off, so a long prompt is computed in one step and every chat's next token "
                    "waits behind it. Turn chunked prefill on and the token budget back to auto, and the chats "
                    "flow again while the prompt is split.";
        c.chunked_prefill = false;
        c.max_model_len = gpu ? 8192 : 2048;
        c.max_num_batched_tokens = c.max_model_len;   // a whole prompt must fit one step
        l.users = gpu ? 24 : 4;
        l.mix_users = gpu ? 8 : 1;
        l.prompt_tokens = 32;
        l.output_tokens = gpu ? 512 : 128;
        l.mix_style = "summarize";
        l.mix_prompt_tokens = gpu ? 4000 : 700;
        l.mix_output_tokens = 16;
        l.think_mean_s = 1;
        l.turns = 3;
        s.watch = "decode tokens behind a long prefill";
        s.counter = [](const story_tally& t) { return t.decodes_behind_long_prefill; };
    } else {
        std::string names;
        for (const auto& n : story_names()) names += (names.empty() ? "" : ", ") + n;
        RL_THROW("unknown preset '" + name + "' (known: " + names + ")");
    }
    return s;
}

} // namespace rl
