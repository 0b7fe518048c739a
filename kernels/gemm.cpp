// gemm.cpp: the cuBLASLt wrapper for the backend's matmul, out[n, m] = x[n, k] . w[m, k]^T with
// bf16 operands, fp32 accumulation and bf16 (or, for the logits, f32) output, all row-major.
// cuBLAS is column-major, and a row-major [r, c] matrix with leading dimension c is the same
// memory as a column-major [c, r] matrix. So w (row-major [m, k]) is column-major W = [k, m],
// x is column-major X = [k, n], and out is column-major O = [m, n]; out = x.w^T becomes
// O = W^T . X: A = W (k x m, lda = k) with op(A) = T, B = X (k x n, ldb = k) with op(B) = N,
// C = D = O (m x n, ldc = m). tests/test_gpu_kernels.cpp checks this against a CPU product.
// Products of few rows (decode) go to gemv.cu instead when prefers_gemv says so (its limits are
// open questions, in tuning.h); the backend asks.
// Algorithms come from cuBLASLt's heuristic once per (row bucket, m, k, alignment) and are cached,
// at most kMaxPlans of them, least recently used out first. Prefill steps come in every token
// count up to the step budget: keyed by the exact count, plans (ours, and cuBLASLt's own
// heuristics cache of 8,192 by default) and the kernels they pick keep arriving for as long as new
// counts turn up, and resident memory grows with them. So row counts above 8 share the algorithm
// chosen for their bucket's top (bucket_rows); the layouts carry the exact count, and
// cublasLtMatmulAlgoCheck confirms the algorithm once for each count it meets (a rejected count
// gets an algorithm of its own, uncached).
#include "common.cuh"
#include "common/diag_counters.h"
#include "kernels.h"
#include "tuning.h"

#include <cublasLt.h>

#include <atomic>
#include <bitset>
#include <list>
#include <map>
#include <string>
#include <tuple>

#define RL_CUBLAS_CHECK(call)                                                                            \
    do {                                                                                                 \
        cublasStatus_t rl_st_ = (call);                                                                  \
        if (rl_st_ != CUBLAS_STATUS_SUCCESS)                                                             \
            throw ::rl::engine_error(std::string("cuBLAS error: ") + cublasLtGetStatusString(rl_st_) +  \
                                         " in " #call, __FILE__, __LINE__);                             \
    } while (0)

namespace rl::kernels {
namespace {

constexpr size_t workspace_bytes = size_t(32) << 20;  // what cuBLAS recommends for Hopper
constexpr size_t kMaxPlans = 512;   // a few KiB each; a missed plan costs one heuristic query

// The row count whose algorithm serves n rows: exact up to 8 (decode), then the next multiple of
// 8 up to 64, of 32 up to 512 and of 128 beyond. Each bucket spans at most 128 counts.
int64_t bucket_rows(int64_t n) {
    const int64_t q = n <= 8 ? 1 : n <= 64 ? 8 : n <= 512 ? 32 : 128;
    return (n + q - 1) / q * q;
}

// Largest power of two (<= 256) dividing both the address and the row pitch in bytes: the
// alignment cuBLASLt may assume for every row of the operand.
uint32_t alignment_of(const void* p, int64_t ld_elems, int elem_bytes = 2) {
    const uint64_t bits = uint64_t(reinterpret_cast<uintptr_t>(p)) | uint64_t(ld_elems * elem_bytes) | 256u;
    return uint32_t(bits & (~bits + 1));
}

struct plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    uint64_t rows = 0;                   // the row count the layouts b and c hold now
    std::bitset<128> checked, rejected;  // by bucket top - n: AlgoCheck's verdict on algo
    void destroy() {
        if (a) cublasLtMatrixLayoutDestroy(a);
        if (b) cublasLtMatrixLayoutDestroy(b);
        if (c) cublasLtMatrixLayoutDestroy(c);
        if (desc) cublasLtMatmulDescDestroy(desc);
        a = b = c = nullptr, desc = nullptr;
    }
};

using plan_key = std::tuple<int64_t, int64_t, int64_t, uint32_t, uint32_t, uint32_t, bool>;  // n, m, k, alignments, f32 out

} // namespace

struct gemm_runner::impl {
    cublasLtHandle_t handle = nullptr;
    void* workspace = nullptr;
    std::list<plan_key> order;   // most recently used first
    std::map<plan_key, std::pair<plan, std::list<plan_key>::iterator>> plans;

    ~impl() {
        for (auto& [key, e] : plans) e.first.destroy();
        if (workspace) cudaFree(workspace);
        if (handle) cublasLtDestroy(handle);
    }

    // The best algorithm for the layouts p holds now (one heuristic query); throws when none.
    cublasLtMatmulAlgo_t heuristic(const plan& p, uint32_t al_w, uint32_t al_x, uint32_t al_o) {
        cublasLtMatmulPreference_t pref = nullptr;
        RL_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
        const uint64_t ws = workspace_bytes;
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al_w, sizeof(al_w));
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al_x, sizeof(al_x));
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al_o, sizeof(al_o));
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al_o, sizeof(al_o));
        cublasLtMatmulHeuristicResult_t result{};
        int found = 0;
        const cublasStatus_t st =
            cublasLtMatmulAlgoGetHeuristic(handle, p.desc, p.a, p.b, p.c, p.c, pref, 1, &result, &found);
        cublasLtMatmulPreferenceDestroy(pref);
        if (st != CUBLAS_STATUS_SUCCESS || found == 0)
            RL_THROW("cuBLASLt has no bf16 algorithm for out[" + std::to_string(p.rows) + ", m] = x . w^T (" +
                     cublasLtGetStatusString(st) + ")");
        return result.algo;
    }

    // The plan for n rows, its layouts set to n, and in algo what to run it with.
    plan& get(int64_t n, int64_t m, int64_t k, uint32_t al_w, uint32_t al_x, uint32_t al_o, bool out_f32,
              cublasLtMatmulAlgo_t& algo) {
        const int64_t nb = bucket_rows(n);
        const plan_key key{nb, m, k, al_w, al_x, al_o, out_f32};
        plan* found = nullptr;
        if (auto it = plans.find(key); it != plans.end()) {
            order.splice(order.begin(), order, it->second.second);
            found = &it->second.first;
        } else {
            found = &create(key, nb, m, k, al_w, al_x, al_o, out_f32);
        }
        plan& p = *found;
        if (p.rows != uint64_t(n)) {
            const uint64_t rows = uint64_t(n);
            RL_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(p.b, CUBLASLT_MATRIX_LAYOUT_COLS, &rows, sizeof(rows)));
            RL_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(p.c, CUBLASLT_MATRIX_LAYOUT_COLS, &rows, sizeof(rows)));
            p.rows = rows;
        }
        algo = p.algo;
        const size_t slot = size_t(nb - n);
        if (slot == 0) return p;
        if (!p.checked[slot]) {
            cublasLtMatmulHeuristicResult_t r{};
            p.rejected[slot] = cublasLtMatmulAlgoCheck(handle, p.desc, p.a, p.b, p.c, p.c, &p.algo, &r) !=
                                   CUBLAS_STATUS_SUCCESS ||
                               r.workspaceSize > workspace_bytes;
            p.checked[slot] = true;
        }
        if (p.rejected[slot]) algo = heuristic(p, al_w, al_x, al_o);   // rare: not worth a cache entry
        return p;
    }

    plan& create(const plan_key& key, int64_t nb, int64_t m, int64_t k, uint32_t al_w, uint32_t al_x, uint32_t al_o,
                 bool out_f32) {
        if (plans.size() >= kMaxPlans) {   // the caller used the plan it got last time already
            auto old = plans.find(order.back());
            old->second.first.destroy();
            plans.erase(old);
            order.pop_back();
        }
        plan p;
        try {
            RL_CUBLAS_CHECK(cublasLtMatmulDescCreate(&p.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
            const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
            RL_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
            RL_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
            RL_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.a, CUDA_R_16BF, uint64_t(k), uint64_t(m), k));    // W
            RL_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.b, CUDA_R_16BF, uint64_t(k), uint64_t(nb), k));   // X
            RL_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p.c, out_f32 ? CUDA_R_32F : CUDA_R_16BF, uint64_t(m),
                                                       uint64_t(nb), m));                                   // O
            p.rows = uint64_t(nb);
            p.algo = heuristic(p, al_w, al_x, al_o);
        } catch (...) {
            p.destroy();
            throw;
        }
        ++diag::gemm_plans_created;
        order.push_front(key);
        return plans.emplace(key, std::make_pair(p, order.begin())).first->second.first;
    }
};

gemm_runner::gemm_runner() : p_(new impl) {
    try {
        RL_CUBLAS_CHECK(cublasLtCreate(&p_->handle));
        RL_CUBLAS_CHECK(cublasLtHeuristicsCacheSetCapacity(kMaxPlans));   // process-wide
        RL_CUDA_CHECK(cudaMalloc(&p_->workspace, workspace_bytes));
    } catch (...) {
        delete p_;
        throw;
    }
}

gemm_runner::~gemm_runner() { delete p_; }

void gemm_runner::bf16_xwt(const uint16_t* x, const uint16_t* w, void* out, int64_t n, int64_t m, int64_t k,
                           rl_stream stream, bool out_f32) {
    RL_CHECK(x && w && out, "gemm bf16_xwt: null pointer");
    RL_CHECK(n >= 0 && m > 0 && k > 0, "gemm bf16_xwt: bad shape [" + std::to_string(n) + ", " +
                                           std::to_string(m) + ", " + std::to_string(k) + "]");
    if (n == 0) return;
    cublasLtMatmulAlgo_t algo{};
    const plan& p = p_->get(n, m, k, alignment_of(w, k), alignment_of(x, k), alignment_of(out, m, out_f32 ? 4 : 2),
                            out_f32, algo);
    const float alpha = 1.f, beta = 0.f;
    RL_CUBLAS_CHECK(cublasLtMatmul(p_->handle, p.desc, &alpha, w, p.a, x, p.b, &beta, out, p.c, out, p.c, &algo,
                                   p_->workspace, workspace_bytes, stream));
}

bool gemm_runner::prefers_gemv(int64_t n, size_t weight_bytes) const {
    const kernel_tuning& t = tuning();
    return n >= 1 && n <= t.gemv_max_rows &&
           (n <= 2 || weight_bytes <= size_t(t.gemv_large_weights_mib) << 20);
}

} // namespace rl::kernels
