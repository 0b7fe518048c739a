// cpu_quant_avx2.cpp: the AVX2 + FMA + F16C block-format kernels (cpu_quant_x86.inc), compiled
// under a target pragma rather than -mavx2, so nothing else in the library (no inline function
// from a shared header) can be emitted with AVX2 and picked by the linker for baseline code.
#include "backend/cpu_quant.h"

#include <cstring>
#include <immintrin.h>

#if defined(__x86_64__)
#if defined(__clang__)  // (clang has no GCC target pragma; this is its equivalent)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif
namespace rl::cpu_quant {
namespace avx2_impl {
#include "backend/cpu_quant_x86.inc"
} // namespace avx2_impl
gemv_fn avx2_kernel(ggml_type t) { return avx2_impl::kernel_for(t); }
} // namespace rl::cpu_quant
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#else
namespace rl::cpu_quant {
gemv_fn avx2_kernel(ggml_type) { return nullptr; }
}
#endif
