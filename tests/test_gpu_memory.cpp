// Device memory exhaustion (issue "Reliability"): with most of the GPU taken by another
// allocation, loading a model whose weights do not fit is refused with one clear message that
// names both sizes, nothing is left allocated, and the same backend then loads a model that fits
// and runs a step. A KV pool that does not fit is covered by test_gpu_kernels (rejectsBadInput).
// Without a CUDA device every test skips with the reason.
#include "gpu_test.h"

#include "common/engine_error.h"
#include "model/llama_model.h"
#include "model/synthetic.h"

#include <cuda_runtime.h>

namespace {

size_t free_bytes() {
    size_t free = 0, total = 0;
    return cudaMemGetInfo(&free, &total) == cudaSuccess ? free : 0;
}

// Takes all but `leave` bytes of the device's free memory until destroyed.
struct memory_hog {
    void* p = nullptr;
    explicit memory_hog(size_t leave) {
        const size_t f = free_bytes();
        if (f > leave && cudaMalloc(&p, f - leave) != cudaSuccess) p = nullptr;
    }
    ~memory_hog() {
        if (p) cudaFree(p);
    }
};

constexpr size_t GiB = size_t(1) << 30;

// Gives `m` a small KV pool and runs one greedy step of `prompt`: the backend is still usable.
void decodes(rl::backend& be, rl::llama_model& m, const rl::model_config& cfg, const std::vector<int32_t>& prompt) {
    be.alloc_kv(rl::kv_cache_layout{cfg.n_layers, 8, 16, cfg.n_kv_heads, cfg.head_dim});
    rl::step_input in = rl_gpu_test::one_seq_step(prompt, 0);
    in.seqs[0].block_table = {2};
    in.logit_rows = {int32_t(prompt.size()) - 1};
    std::vector<int32_t> ids;
    m.forward_greedy(in, ids);
    QCOMPARE(ids.size(), size_t(1));
    QVERIFY(ids[0] >= 0 && ids[0] < cfg.vocab_size);
}

} // namespace

class TestGpuMemory : public QObject {
    Q_OBJECT
private slots:
    void modelLargerThanFreeMemoryIsRefused() {
        GPU_OR_SKIP();
        auto be = rl::make_cuda_backend(0);
        std::string message;
        size_t before = 0, after = 0;
        {
            memory_hog hog(3 * GiB);  // Llama-3-8B needs ~15 GiB of bf16 weights
            QVERIFY2(hog.p, "could not take the device's free memory for the test");
            before = free_bytes();
            QVERIFY(before < 4 * GiB);
            try {
                auto m = rl::llama_model::synthetic(rl::synthetic_config("llama3-8b"), *be);
                QFAIL("a 15 GiB model loaded into less than 4 GiB of free device memory");
            } catch (const rl::engine_error& e) {
                message = e.what();
            }
            after = free_bytes();
        }
        std::printf("  refused: %s\n  free before %zu MiB, after %zu MiB\n", message.c_str(), before >> 20, after >> 20);
        QVERIFY2(message.find("is free on the cuda device") != std::string::npos, message.c_str());
        QVERIFY2(message.find("MiB") != std::string::npos, message.c_str());
        QVERIFY2(before - after < 64 * (size_t(1) << 20), "the refused load left device memory allocated");

        // The same backend still works: a model that fits loads and decodes.
        const rl::model_config cfg = rl::synthetic_config("smollm2-135m");
        auto m = rl::llama_model::synthetic(cfg, *be);
        decodes(*be, *m, cfg, {1, 2, 3, 4});
    }

    // Weights that fit, then a KV pool larger than what is left: refused with the sizes, the
    // model stays loaded and usable with a pool that fits.
    void kvPoolThatDoesNotFitAfterLoad() {
        GPU_OR_SKIP();
        auto be = rl::make_cuda_backend(0);
        const rl::model_config cfg = rl::synthetic_config("smollm2-135m");
        auto m = rl::llama_model::synthetic(cfg, *be);
        std::string message;
        {
            memory_hog hog(1 * GiB);
            QVERIFY2(hog.p, "could not take the device's free memory for the test");
            // 2 GiB of KV: 30 layers x 2 x blocks x 16 x 3 x 64 x 2 bytes = 368,640 bytes per block.
            try {
                be->alloc_kv(rl::kv_cache_layout{cfg.n_layers, 6000, 16, cfg.n_kv_heads, cfg.head_dim});
                QFAIL("a 2 GiB KV pool was allocated with 1 GiB free");
            } catch (const rl::engine_error& e) {
                message = e.what();
            }
        }
        std::printf("  refused: %s\n", message.c_str());
        QVERIFY2(message.find("does not fit in free GPU memory") != std::string::npos, message.c_str());
        decodes(*be, *m, cfg, {5, 6});
    }
};

RL_TEST_MAIN(TestGpuMemory, modelLargerThanFreeMemoryIsRefused, kvPoolThatDoesNotFitAfterLoad)
#include "test_gpu_memory.moc"
