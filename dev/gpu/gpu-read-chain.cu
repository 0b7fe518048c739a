// gpu-read-chain.cu: an independent bound for batch-1 decode (no project code). How fast can the
// GPU read the bytes of one Llama-3-8B decode step when they are read the way a step reads them,
// one dependent kernel per matmul (q/k/v, attention's K/V, o, gate/up, down per layer, then the
// LM head), with nothing computed? Every variant reads the same 15.04 GB from distinct buffers
// (no L2 reuse across kernels) inside a CUDA graph, timed with events over many replays:
//   single      one kernel reads all of it (the read roof: no kernel boundaries at all)
//   chain       161 kernels, each waits for its predecessor (plain stream order)
//   chain-pdl   the same with programmatic dependent launch (ridgeline's launches): the successor
//               is launched once the predecessor's CTAs pass griddepcontrol.launch_dependents;
//               as each grid fills every CTA slot, its CTAs take slots as the predecessor's exit
//   chain-pre   chain-pdl, and each thread issues its first loads before the wait, as
//               ridgeline's GEMVs do with their first weight chunks
// Also an in-place x ^= y over two 256 MiB buffers, counted as 3 x 256 MiB moved: the elementwise
// half of ridgeline's calibrate_peaks (which takes the larger of that and a one-row GEMV read, so
// ridgeline-bench's "%bw-meas" divides by a figure ~4% higher). A graph memcpy node is not used:
// it ran on a copy engine at ~2.7 TB/s. chain-pre is what this launch shape reaches with zero
// compute, zero reductions and perfect load balance: a reference for a one-kernel-per-matmul
// batch-1 step, not a proof that nothing faster exists.
//   build: nvcc -O3 -arch=sm_90 -std=c++17 -o gpu-read-chain gpu-read-chain.cu
//   usage: gpu-read-chain [replays]
#include <cuda_runtime.h>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CK(x)                                                                                \
    do {                                                                                     \
        cudaError_t e_ = (x);                                                                \
        if (e_ != cudaSuccess) {                                                             \
            std::fprintf(stderr, "%s failed: %s (line %d)\n", #x, cudaGetErrorString(e_), __LINE__); \
            std::exit(1);                                                                    \
        }                                                                                    \
    } while (0)

constexpr int threads = 256, unroll = 4;

__device__ __forceinline__ uint4 ld_stream(const uint4* p) {
    uint4 r;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
    return r;
}

// mode 0: no PDL instructions; 1: wait then trigger; 2: first loads, then wait and trigger.
__global__ void __launch_bounds__(threads) read_kernel(const uint4* __restrict__ p, size_t n, unsigned* sink, int mode) {
    const size_t stride = size_t(gridDim.x) * threads;
    size_t i = size_t(blockIdx.x) * threads + threadIdx.x;
    unsigned acc = 0;
    uint4 pre[unroll];
    if (mode == 2)
#pragma unroll
        for (int u = 0; u < unroll; ++u) pre[u] = i + u * stride < n ? ld_stream(p + i + u * stride) : uint4{};
    if (mode >= 1) {
        asm volatile("griddepcontrol.wait;" ::: "memory");
        asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
    }
    if (mode == 2) {
#pragma unroll
        for (int u = 0; u < unroll; ++u) acc ^= pre[u].x ^ pre[u].y ^ pre[u].z ^ pre[u].w;
        i += unroll * stride;
    }
    for (; i + (unroll - 1) * stride < n; i += unroll * stride) {
        uint4 v[unroll];
#pragma unroll
        for (int u = 0; u < unroll; ++u) v[u] = ld_stream(p + i + u * stride);
#pragma unroll
        for (int u = 0; u < unroll; ++u) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
    }
    for (; i < n; i += stride) {
        const uint4 v = ld_stream(p + i);
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (acc == 0x9e3779b9u) sink[0] = acc;  // keeps the loads; the buffers are zero, so never taken
}

__global__ void __launch_bounds__(threads) add_kernel(uint4* __restrict__ x, const uint4* __restrict__ y, size_t n) {
    for (size_t i = size_t(blockIdx.x) * threads + threadIdx.x; i < n; i += size_t(gridDim.x) * threads) {
        uint4 a = x[i];
        const uint4 b = y[i];
        a.x ^= b.x, a.y ^= b.y, a.z ^= b.z, a.w ^= b.w;
        x[i] = a;
    }
}

struct piece {
    size_t offset, bytes;
};

// One wave at full occupancy (ctas = SMs x resident CTAs per SM), fewer for a small piece.
static void launch_read(const char* base, const piece& pc, unsigned* sink, int mode, bool pdl, int ctas, cudaStream_t s) {
    const size_t n = pc.bytes / 16;
    const size_t want = (n + size_t(threads) * unroll - 1) / (size_t(threads) * unroll);
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = dim3(unsigned(want < size_t(ctas) ? want : size_t(ctas)));
    cfg.blockDim = dim3(threads);
    cfg.stream = s;
    cudaLaunchAttribute a{};
    a.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    a.val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = &a;
    cfg.numAttrs = pdl ? 1 : 0;
    CK(cudaLaunchKernelEx(&cfg, read_kernel, reinterpret_cast<const uint4*>(base + pc.offset), n, sink, mode));
}

// ms per replay of a graph built by `record`.
template <typename F>
static double time_graph(F record, int replays, cudaStream_t s) {
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    record();
    CK(cudaStreamEndCapture(s, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    for (int w = 0; w < 3; ++w) CK(cudaGraphLaunch(ge, s));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    CK(cudaEventRecord(e0, s));
    for (int r = 0; r < replays; ++r) CK(cudaGraphLaunch(ge, s));
    CK(cudaEventRecord(e1, s));
    CK(cudaEventSynchronize(e1));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    CK(cudaEventDestroy(e0));
    CK(cudaEventDestroy(e1));
    CK(cudaGraphExecDestroy(ge));
    CK(cudaGraphDestroy(g));
    return ms / replays;
}

int main(int argc, char** argv) {
    const int replays = argc > 1 ? std::atoi(argv[1]) : 50;
    // Llama-3-8B, batch 1, context 256, bf16: per layer q/k/v (6144 x 4096), K+V of 256 tokens
    // (8 kv heads x 128 dims, both), o (4096 x 4096), gate and up (2 x 14336 x 4096), down
    // (4096 x 14336); then the LM head (128256 x 4096).
    const size_t layer[] = {6144ull * 4096 * 2, 256ull * 8 * 128 * 2 * 2, 4096ull * 4096 * 2, 2ull * 14336 * 4096 * 2,
                            4096ull * 14336 * 2};
    std::vector<piece> pieces;
    size_t total = 0;
    for (int l = 0; l < 32; ++l)
        for (size_t b : layer) pieces.push_back({total, b}), total += b;
    pieces.push_back({total, 128256ull * 4096 * 2});
    total += pieces.back().bytes;

    int dev = 0, sms = 0;
    CK(cudaGetDevice(&dev));
    CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
    int per_sm = 0;
    CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, read_kernel, threads, 0));
    const int ctas = sms * per_sm;
    cudaDeviceProp prop{};
    CK(cudaGetDeviceProperties(&prop, dev));
    char* buf = nullptr;
    unsigned* sink = nullptr;
    CK(cudaMalloc(&buf, total));
    CK(cudaMemset(buf, 0, total));
    CK(cudaMalloc(&sink, 16));
    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

    // The elementwise roof, as ridgeline's calibration measures it (x += y, 256 MiB each).
    const size_t ab = size_t(256) << 20;
    uint4* ax = reinterpret_cast<uint4*>(buf);
    const uint4* ay = reinterpret_cast<const uint4*>(buf + ab);
    const double add_ms = time_graph([&] { add_kernel<<<ctas, threads, 0, s>>>(ax, ay, ab / 16); }, 20, s);
    const double add_tbs = 3.0 * ab / (add_ms * 1e-3) / 1e12;
    std::printf("%s, %d SMs x %d CTAs of %d threads: %zu kernels, %.1f MB per step; elementwise roof %.2f TB/s\n",
                prop.name, sms, per_sm, threads, pieces.size(), total / 1e6, add_tbs);
    std::printf("%-10s %10s %10s %10s %10s\n", "variant", "ms/step", "TB/s", "%add-roof", "tok/s");
    auto row = [&](const char* name, double ms) {
        const double tbs = total / (ms * 1e-3) / 1e12;
        std::printf("%-10s %10.3f %10.3f %10.1f %10.1f\n", name, ms, tbs, 100.0 * tbs / add_tbs, 1e3 / ms);
    };
    for (int round = 0; round < 2; ++round) {
        row("single", time_graph([&] { launch_read(buf, {0, total}, sink, 0, false, ctas, s); }, replays / 5 + 1, s));
        row("chain", time_graph([&] { for (auto& p : pieces) launch_read(buf, p, sink, 0, false, ctas, s); }, replays, s));
        row("chain-pdl", time_graph([&] { for (auto& p : pieces) launch_read(buf, p, sink, 1, true, ctas, s); }, replays, s));
        row("chain-pre", time_graph([&] { for (auto& p : pieces) launch_read(buf, p, sink, 2, true, ctas, s); }, replays, s));
    }
    CK(cudaFree(buf));
    CK(cudaFree(sink));
    return 0;
}
