// tuning.h: the kernels' launch choices that are still open questions, in one typed table that
// is read once per process. Plain C++ (no CUDA headers): included by .cu launchers, by the CUDA
// backend's host code and by the GPU tests.
// Only choices whose A/B experiments are unfinished live here (each field says why it is still
// open); a choice that was settled keeps the winning path as the only one and has no field.
// The measurements behind every default are in dev/notes/kernel-switches.md.
//
// Overrides, for A/B runs and profiling only: one environment variable,
//   RIDGELINE_TUNING="key=value,key=value,..."   e.g. RIDGELINE_TUNING="gemv_max_rows=0,cuda_graphs=0"
// whose keys are the field names below. Booleans are 0 or 1; a GEMV split is "<warps per row
// pair>x<CTA warps>", e.g. 2x8; gemv_split=KxW sets all eight gemv_b{1,2}_{add,glu,rope,out}
// entries at once (later items win, so "gemv_split=1x4,gemv_b1_add=2x4" works). Empty items
// are ignored. It is parsed on the first call of tuning() (the CUDA backend's constructor makes
// that call, before any launch), and a malformed item, an unknown key or a value outside its
// range is refused: tuning() throws rl::engine_error naming the key, so a mistyped A/B never
// runs silently on the defaults. When the variable is set, the applied overrides are printed
// once to stderr, so a log shows what each run measured.
#pragma once
#include <string>

namespace rl::kernels {

/// How a GEMV of one or two x rows spreads each pair of output rows: over warps_per_row_pair
/// warps, each taking a contiguous 1/warps_per_row_pair of k (their partial sums added in shared
/// memory), in CTAs of cta_warps warps (8-warp CTAs halve the CTAs for the same warps, so halve
/// the norm prologues, each of which re-reads the f32 residual row).
struct gemv_split {
    int warps_per_row_pair = 1;  ///< 1, 2 or 4
    int cta_warps = 4;           ///< 4 or 8
};

/// The GEMV's epilogues: the second index of kernel_tuning::gemv_k_split.
enum class gemv_end : int {
    add = 0,   ///< adds into the f32 residual stream (the o and down projections)
    glu = 1,   ///< writes silu(gate) * up (gate and up)
    rope = 2,  ///< rope + KV store (q, k and v)
    out = 3,   ///< plain bf16 or f32 output (the LM head)
};
constexpr int gemv_n_ends = 4;

/// Every field: its default (what the kernels did before the table existed), its range, and why
/// the choice is still open. The defaults were measured on H200s only; the same A/Bs on an H100
/// (the same 132 SMs with about 70% of the bandwidth) are the first thing that could move them.
struct kernel_tuning {
    // --- launch mechanics: debugging and profiling switches ---------------------------------
    /// Record decode steps as CUDA graphs and replay them. 0: every step eager (Nsight Compute
    /// scripts profile eager steps; also isolates a suspected capture bug).
    bool cuda_graphs = true;
    /// Largest decode batch recorded as a CUDA graph; 1..4096. A decode step of n <= this rows
    /// runs padded to the next capture size (graph_capture_rows in backend.h), so a server whose
    /// batch wanders over 1..n keeps a few recordings instead of one per size (each holds
    /// megabytes of host memory); bigger batches run eager, where launch overhead is small
    /// against the step. Open: the padding's cost against the launches it saves was not swept.
    int graph_max_rows = 256;
    /// Programmatic dependent launch on sm_90+ (launch.cuh). 0: plain stream order, for
    /// bisecting a suspected missing pdl_wait and for profiles without the overlap.
    bool pdl = true;

    // --- decode GEMV (gemv.cu) against cuBLASLt (gemm.cpp) -----------------------------------
    /// Largest decode row count whose products go to the GEMV instead of cuBLASLt; 0..8, 0 =
    /// always cuBLASLt (which also turns the GEMV's fused residual ends off). Open: the crossover
    /// was measured on two model shapes on an H200; at 3-8 rows it depends on the weight size
    /// and the GPU's bandwidth-to-FLOP ratio.
    int gemv_max_rows = 4;
    /// Above 2 rows, only weights up to this many MiB take the GEMV; 0..65536. Open: the 16 MiB
    /// line lies between the two shapes measured (SmolLM2's matrices won, Llama-3-8B's lost);
    /// models with matrices between them (1-3 B parameters) have not been measured.
    int gemv_large_weights_mib = 16;
    /// At 1-2 rows, rows of k <= this keep 4 weight chunks per lane in flight instead of 2 (and
    /// skip gemv_k_split); 0..(1<<30), 0 = never. Open: 576- and 1536-wide rows gained, 4096-wide
    /// lost; widths 2048-3584 (small Llama and Qwen models) were never measured.
    int gemv_deep_k = 2048;
    /// Block-format weights: products of 9 up to this many rows go to qmma (kernels/qmma.h:
    /// weights decoded into shared memory in front of tensor cores); more rows dequantize each
    /// weight into a bf16 scratch for cuBLASLt. 0..65536, 0 = never qmma. Off: on SmolLM2's
    /// prefill qmma left logits 0.063 from the CPU's (0.035 without it), which its random-block
    /// test does not show; open (dev/notes/2026-12-06-native-weights.md).
    int qmma_max_rows = 0;
    /// Block-format weights: GEMVs of up to this many x rows quantize x to int8 blocks of 32 and
    /// use dp4a (gemv_int8.cuh); more rows, or 0, decode each weight to fp32 and use FMAs. 0..8.
    /// Open: the int8 path reads fewer instructions per weight, which is what bounded the fp32
    /// one at batch 1, but rounds x to 8 bits, and each CTA pays for quantizing x; the line
    /// between the two at 2-8 rows was not measured.
    int gemv_int8_max_rows = 8;
    /// The k split at 1 and 2 rows: [rows - 1][gemv_end]. Open: the best layout differed between
    /// two H200s for Qwen2.5-7B's gate/up, and only two model shapes were measured.
    gemv_split gemv_k_split[2][gemv_n_ends] = {
        // add     glu     rope    out
        {{2, 4}, {2, 8}, {1, 8}, {1, 4}},  // 1 row
        {{4, 4}, {2, 8}, {1, 8}, {1, 4}},  // 2 rows
    };

    // --- decode attention (attention_decode.cu) -----------------------------------------------
    /// Batches of at most this many rows take one query head per CTA instead of a head group;
    /// 0..65535, 0 = never. Open: it won at batch 1 at every context measured, but batch 2 won
    /// at short contexts and lost at long ones, so the line may belong to the context as well.
    int attn_one_head_rows = 1;
    /// Cap on the query heads one CTA takes (rounded down to a power of two); 1..8. Open: one
    /// exploratory run per value moved batch 1 both ways; never repeated.
    int attn_max_heads_per_cta = 8;
    /// Cap on the split-K slices of one row's context (also the cluster size); 1..16. Open: 8
    /// was within noise of 16 on an H200 (batch 2 slightly ahead, batch 1 slightly behind).
    int attn_max_splits = 16;
};

/// The table: the defaults above with RIDGELINE_TUNING applied, parsed on the first call (thread
/// safe). Throws rl::engine_error if the variable is malformed (and again on every later call).
const kernel_tuning& tuning();

/// The defaults with `spec` ("key=value,...", the variable's syntax) applied; throws
/// rl::engine_error naming the offending key. Pure: what tuning() uses, exposed for tests.
kernel_tuning parse_tuning(const std::string& spec);

/// The fields of t that differ from the defaults, as "key=value,..." (empty when none).
std::string describe_tuning(const kernel_tuning& t);

/// Tests only: replaces the table (checked like an override; throws rl::engine_error if out of
/// range). Call it before creating the backend that should see it and with no launch in flight:
/// recorded graphs, sized workspaces and cached plans keep the values they were made with.
void set_tuning_for_test(const kernel_tuning& t);

/// Tests only: forces capability fallbacks that this GPU would not take by itself, so the GPU
/// tests exercise them on Hopper too. These are not options: never read from the environment.
struct forced_fallbacks {
    /// Split-K decode attention merges its slices through the global workspace (the path for
    /// devices or binaries without thread-block clusters) instead of cluster shared memory.
    bool attention_global_merge = false;
};
const forced_fallbacks& fallbacks_forced();
void force_fallbacks_for_test(const forced_fallbacks& f);

} // namespace rl::kernels
