// diag_counters: process-wide counts of the things that take host memory once per new shape
// (cuBLASLt plans made, CUDA graphs instantiated and still held). ridgeline-soak writes them beside the resident
// size, so that a step in resident memory can be matched with what caused it.
#pragma once
#include <atomic>
#include <cstdint>

namespace rl::diag {

inline std::atomic<uint64_t> gemm_plans_created{0};
inline std::atomic<uint64_t> graphs_instantiated{0};
inline std::atomic<int64_t> graphs_live{0};   // instantiated and not yet destroyed

} // namespace rl::diag
