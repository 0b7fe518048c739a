// cpu-quant-bench.cpp: single-thread CPU time per block of 32 of cpu_quant::gemv_rows, one
// activation row, on random blocks in L2 (256 rows) and from memory (49,152 rows), best of 5.
// The numbers in dev/notes and docs/performance.md on the activation planes came from building
// this against two trees' engine/backend/cpu_quant* (old and new) and running them alternately:
//   g++ -O2 -std=c++20 -ITREE/engine dev/cpu-quant-bench.cpp TREE/engine/backend/cpu_quant.cpp
//       TREE/engine/backend/cpu_quant_avx2.cpp TREE/engine/backend/cpu_quant_vnni.cpp
//       TREE/engine/gguf/ggml_types.cpp TREE/engine/gguf/dequant.cpp -o /tmp/cpu-quant-bench
//   (one line)
// Timing only: correctness is test_cpu_quant's (every format and level against fp64).
#include "backend/cpu_quant.h"
#include "gguf/ggml_types.h"
#include <cstdio>
#include <random>
#include <vector>
#include <ctime>
using namespace rl;
int main() {
    std::mt19937 rng(1);
    for (ggml_type t : {ggml_type::q4_1, ggml_type::q8_0, ggml_type::q4_k, ggml_type::q6_k}) {
        for (int64_t rows : {int64_t(256), int64_t(49152)}) {
            int64_t k = (t == ggml_type::q4_k || t == ggml_type::q6_k) ? 1536 : 576;
            size_t rb = ggml_row_bytes(t, k);
            std::vector<uint8_t> w(rb * rows);
            for (auto& b : w) b = rng() & 0xff;
            std::vector<float> x(k), out(rows);
            std::normal_distribution<float> nd;
            for (auto& v : x) v = nd(rng);
            cpu_quant::q8_rows q; cpu_quant::resize_q8(q, 1, k); cpu_quant::quantize_rows(x.data(), 0, 1, q);
            cpu_quant::block_weight bw{t, w.data(), rb, k};
            int iters = rows == 256 ? 4000 : 20;
            double best = 1e30;
            for (int rep = 0; rep < 5; ++rep) {
                timespec a, b; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
                for (int i = 0; i < iters; ++i) cpu_quant::gemv_rows(bw, q, 0, rows, out.data(), rows, cpu_quant::detected_isa());
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
                double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
                best = std::min(best, ns / iters / (rows * k / 32));
            }
            std::printf("%s rows %6ld: %.2f ns/block (cpu time, best of 5)\n", ggml_type_name(t).c_str(), rows, best);
        }
    }
}
