// cuda_graphs.cpp: the CUDA backend's step recordings (backend::graph_* in backend.h). A
// decode-only step of a given shape issues the same kernels over the same buffers every time;
// only the data in the step metadata buffer (step_pack.h, which keeps its offsets fixed for a
// fixed shape) and the KV pool change. The model pads decode batches to a few capture sizes
// (graph_rows), so the recordings, megabytes of host memory each, stay few while the batch size
// wanders. The first sighting of a key runs eagerly (and warms the cuBLASLt plans and the rope
// table), the second is captured with stream capture and instantiated, later ones replay the
// graph with one cudaGraphLaunch. Any release(), alloc_kv() or growth of the metadata buffer
// forgets every recording (their pointers would be stale).
// kernel_tuning::cuda_graphs = 0 (kernels/tuning.h) turns recording off, every step eager: for
// profilers that follow eager launches and for isolating a suspected capture problem.
// Exercised by tests/test_gpu_backend.cpp (decode steps of several batch sizes, against the CPU).
#include "cuda_backend_impl.h"

#include "common/diag_counters.h"
#include "tuning.h"

#include <string>

namespace rl::cuda_detail {
namespace {
// One per capture size (graph_rows pads decode batches to 1, 2, 4, 8, 16, ...: 27 sizes up to
// graph_max_rows' default of 256); the cap only guards a table set beyond that.
constexpr size_t max_graphs = 64;
}

void cuda_backend::forget_graphs() noexcept {
    for (auto& [key, e] : graphs_)
        if (e.exec) {
            cudaGraphExecDestroy(e.exec);
            --diag::graphs_live;
        }
    graphs_.clear();
}

int cuda_backend::graph_rows(int n) const {
    const kernels::kernel_tuning& t = kernels::tuning();
    return t.cuda_graphs ? graph_capture_rows(n, t.graph_max_rows) : 0;
}

bool cuda_backend::graph_replay(uint64_t key) {
    const auto it = graphs_.find(key);
    if (it == graphs_.end() || !it->second.exec) return false;
    // The host checks that the ops would have made: token ids and block tables.
    for (int32_t t : step_.tokens)
        RL_CHECK(t >= 0 && t < it->second.vocab, "embed: token id " + std::to_string(t) + " out of range");
    check_step_kv(0);
    use_device();
    RL_CUDA_CHECK(cudaGraphLaunch(it->second.exec, stream_));
    return true;
}

bool cuda_backend::graph_begin(uint64_t key) {
    RL_CHECK(!recording_, "graph_begin: already recording");
    if (!kernels::tuning().cuda_graphs) return false;
    if (graphs_.size() >= max_graphs && !graphs_.count(key)) forget_graphs();
    graph_entry& e = graphs_[key];
    if (++e.seen < 2 || e.exec) return false;
    use_device();
    RL_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    recording_ = true;
    recording_key_ = key;
    return true;
}

void cuda_backend::graph_end() {
    RL_CHECK(recording_, "graph_end: not recording");
    recording_ = false;
    use_device();
    cudaGraph_t g = nullptr;
    RL_CUDA_CHECK(cudaStreamEndCapture(stream_, &g));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t err = cudaGraphInstantiate(&exec, g, 0);
    cudaGraphDestroy(g);
    RL_CUDA_CHECK(err);
    ++diag::graphs_instantiated;
    ++diag::graphs_live;
    graph_entry& e = graphs_[recording_key_];
    e.exec = exec;
    e.vocab = embed_vocab_;
    RL_CUDA_CHECK(cudaGraphLaunch(exec, stream_));  // capture only recorded: run the step now
}

void cuda_backend::graph_abort() noexcept {
    if (!recording_) return;
    recording_ = false;
    cudaGraph_t g = nullptr;
    cudaStreamEndCapture(stream_, &g);
    if (g) cudaGraphDestroy(g);
    cudaGetLastError();  // capture errors are not sticky; clear so later checks stay clean
    graphs_.erase(recording_key_);
}

} // namespace rl::cuda_detail
