// step_sampling.cpp: see step_sampling.h.
#include "serving/step_sampling.h"

namespace rl {

step_sampling plan_sampling(const scheduled_step& st, bool backend_samples_on_device) {
    bool greedy = true, draw = backend_samples_on_device;
    for (size_t i = 0; i < st.seqs.size(); ++i) {
        if (!st.wants_logits[i]) continue;  // mid-prefill chunk: no token this step
        greedy = greedy && st.seqs[i]->device_greedy_ok();
        draw = draw && st.seqs[i]->device_sample_ok();
    }
    step_sampling out;
    if (greedy) {
        out.path = sample_path::device_greedy;
    } else if (draw) {
        out.path = sample_path::device_draw;
        for (size_t i = 0; i < st.seqs.size(); ++i)
            if (st.wants_logits[i]) out.draws.push_back(st.seqs[i]->device_sampling());
    }
    return out;
}

} // namespace rl
