// GPU dequantization (kernels/dequant.cu) against the CPU reference (engine/gguf/dequant.cpp).
// Tolerance: the GPU writes bf16, so each value must equal the CPU fp32 value rounded to bf16,
// within one bf16 ulp (the GPU may fuse d*q+m into one FMA, which can move the last fp32 bit).
// randomFillMatchesHost: synthetic weights filled on the device (kernels/random_fill.cu) must
// equal the host definition (backend/random_uniform.h) rounded to the tensor's type, bit for bit.
// Without a CUDA device every test skips with the reason.
#include "gpu_test.h"

#include "gguf/dequant.h"
#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "kernels.h"

#include <cuda_runtime.h>

#include <bit>
#include <cmath>
#include <fstream>
#include <random>
#include <vector>

namespace {

bool gpuOrSkipReason(std::string& why) { return rl::kernels::cuda_available(&why); }

// Returns the number of elements further than one bf16 ulp from the rounded reference.
int64_t compareOnGpu(rl::ggml_type type, const std::vector<uint8_t>& raw, int64_t n) {
    std::vector<float> ref(static_cast<size_t>(n));
    rl::dequantize_row(type, raw.data(), ref.data(), n);
    void* dSrc = nullptr;
    uint16_t* dDst = nullptr;
    cudaMalloc(&dSrc, raw.size());
    cudaMalloc(reinterpret_cast<void**>(&dDst), size_t(n) * 2);
    cudaMemcpy(dSrc, raw.data(), raw.size(), cudaMemcpyHostToDevice);
    cudaMemset(dDst, 0xFF, size_t(n) * 2);  // poison: NaN bf16, so unwritten outputs fail
    rl::kernels::dequantize_to_bf16(type, dSrc, dDst, n, nullptr);
    std::vector<uint16_t> got(static_cast<size_t>(n));
    cudaMemcpy(got.data(), dDst, size_t(n) * 2, cudaMemcpyDeviceToHost);
    cudaFree(dSrc);
    cudaFree(dDst);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float g = rl::bf16_to_fp32(got[size_t(i)]);
        const float r = rl::bf16_to_fp32(rl::fp32_to_bf16(ref[size_t(i)]));
        const float ulp = std::ldexp(1.0f, std::ilogb(std::fabs(r) > 0 ? r : 1e-30f) - 7);
        if (!(std::fabs(g - r) <= ulp)) ++bad;
    }
    return bad;
}

std::vector<uint8_t> randomBlocks(rl::ggml_type type, int64_t n, std::mt19937& rng) {
    const auto tr = rl::ggml_traits(type);
    std::vector<uint8_t> raw(size_t(n / tr.block_elems) * tr.block_bytes);
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto& b : raw) b = uint8_t(byte(rng));
    // Keep fp16 scales finite and modest: overwrite the leading scale fields with real values.
    std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
    if (type == rl::ggml_type::f32) {
        auto* f = reinterpret_cast<float*>(raw.data());
        for (int64_t i = 0; i < n; ++i) f[i] = scale(rng) * 100;
        return raw;
    }
    if (type == rl::ggml_type::f16) {
        auto* h = reinterpret_cast<uint16_t*>(raw.data());
        for (int64_t i = 0; i < n; ++i) h[i] = rl::fp32_to_fp16(scale(rng) * 100);
        return raw;
    }
    return rl_gpu_test::random_blocks(type, 1, n, rng, 0.05f);
}

} // namespace

class TestGpuDequant : public QObject {
    Q_OBJECT
private slots:
    void randomBlocksMatchCpu() {
        std::string why;
        if (!gpuOrSkipReason(why)) QSKIP(("no usable CUDA device (" + why + "); GPU tests skipped").c_str());
        std::mt19937 rng(1234);
        for (auto t : {rl::ggml_type::f32, rl::ggml_type::f16, rl::ggml_type::q8_0, rl::ggml_type::q4_0,
                       rl::ggml_type::q4_1, rl::ggml_type::q5_0, rl::ggml_type::q5_1, rl::ggml_type::q4_k,
                       rl::ggml_type::q5_k, rl::ggml_type::q6_k}) {
            const int64_t n = 256 * 1001;  // an odd number of blocks of every format
            const auto raw = randomBlocks(t, n, rng);
            const int64_t bad = compareOnGpu(t, raw, n);
            QVERIFY2(bad == 0, (rl::ggml_type_name(t) + ": " + std::to_string(bad) + " mismatches").c_str());
        }
    }

    void realModelEmbeddingMatchesCpu() {
        std::string why;
        if (!gpuOrSkipReason(why)) QSKIP(("no usable CUDA device (" + why + "); GPU tests skipped").c_str());
        if (!std::ifstream(RL_MODEL_PATH).good()) QFAIL("model missing: run scripts/fetch-model");
        auto f = rl::gguf_file::open(RL_MODEL_PATH);
        for (const char* name : {"token_embd.weight", "blk.0.attn_q.weight", "blk.29.ffn_down.weight"}) {
            const auto& t = f->tensor(name);
            std::vector<uint8_t> raw(t.data, t.data + t.nbytes);
            QCOMPARE(compareOnGpu(t.type, raw, t.n_elements()), int64_t(0));
        }
    }

    void randomFillMatchesHost() {
        GPU_OR_SKIP();
        rl_gpu_test::gpu g;
        // 1,010,009 values: two passes of the launcher's grid-stride loop (at most 2,048 x 256 threads).
        const int64_t rows = 1009, cols = 1001;
        struct fill { rl::dtype t; uint64_t seed; float lo, hi; };
        for (const fill f : {fill{rl::dtype::bf16, 7, -0.027f, 0.027f}, fill{rl::dtype::f32, 123456789, -1.f, 1.f},
                             fill{rl::dtype::f16, 3, -0.0151f, 0.0151f}, fill{rl::dtype::bf16, 0, 1.f, 1.f}}) {
            rl::tensor t = g.poisoned(rows, cols, f.t);  // NaN: an unwritten element fails
            g.be->fill_random(t, f.seed, f.lo, f.hi);
            const rl_gpu_test::vec got = g.get(t);
            int64_t bad = 0, first = -1;
            for (int64_t i = 0; i < rows * cols; ++i) {
                const float v = rl::random_uniform_at(f.seed, uint64_t(i), f.lo, f.hi);
                const float want = f.t == rl::dtype::f32    ? v
                                   : f.t == rl::dtype::bf16 ? rl::bf16_to_fp32(rl::fp32_to_bf16(v))
                                                                  : rl::fp16_to_fp32(rl::fp32_to_fp16(v));
                if (std::bit_cast<uint32_t>(got[size_t(i)]) != std::bit_cast<uint32_t>(want) && bad++ == 0) first = i;
            }
            QVERIFY2(bad == 0, ("seed " + std::to_string(f.seed) + ": " + std::to_string(bad) + " of " +
                                std::to_string(rows * cols) + " differ, first at " + std::to_string(first))
                                   .c_str());
        }
        auto throws = [](void* out, int64_t n, float lo, float hi) {
            try {
                rl::kernels::fill_uniform(out, rl::kernels::fill_kind::f32, n, 1, lo, hi, nullptr);
            } catch (const rl::engine_error&) { return true; }
            return false;
        };
        QVERIFY2(throws(nullptr, 16, -1.f, 1.f), "fill_uniform accepted a null output");
        QVERIFY2(throws(nullptr, 0, 1.f, -1.f), "fill_uniform accepted lo > hi");
        QVERIFY2(throws(nullptr, 0, -3e38f, 3e38f), "fill_uniform accepted a range wider than a float");
        QVERIFY2(!throws(nullptr, 0, -1.f, 1.f), "fill_uniform refused an empty fill");
    }

    void rejectsUnsupportedType() {
        std::string why;
        if (!gpuOrSkipReason(why)) QSKIP(("no usable CUDA device (" + why + "); GPU tests skipped").c_str());
        bool threw = false;
        uint16_t dummy = 0;
        try {
            rl::kernels::dequantize_to_bf16(rl::ggml_type::q2_k, &dummy, &dummy, 256, nullptr);
        } catch (const rl::engine_error&) { threw = true; }
        QVERIFY(threw);
    }
};

RL_TEST_MAIN(TestGpuDequant, randomBlocksMatchCpu, realModelEmbeddingMatchesCpu, randomFillMatchesHost,
             rejectsUnsupportedType)
#include "test_gpu_dequant.moc"
