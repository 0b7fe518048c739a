// cpu_quant_vnni.cpp: the block-format kernels of cpu_quant_x86.inc with AVX-512 VNNI's vpdpbusd
// (on 256-bit vectors, AVX512VL) doing the u8 x s8 sums in one instruction instead of maddubs +
// madd. Chosen at run time only on CPUs that report avx512vnni (cpu_quant.cpp).
#include "backend/cpu_quant.h"

#include <cstring>
#include <immintrin.h>

#if defined(__x86_64__)
#if defined(__clang__)  // (clang has no GCC target pragma; this is its equivalent)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
#endif
#define RL_QUANT_VNNI 1
namespace rl::cpu_quant {
namespace vnni_impl {
#include "backend/cpu_quant_x86.inc"
} // namespace vnni_impl
gemv_fn vnni_kernel(ggml_type t) { return vnni_impl::kernel_for(t); }
} // namespace rl::cpu_quant
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#else
namespace rl::cpu_quant {
gemv_fn vnni_kernel(ggml_type) { return nullptr; }
}
#endif
