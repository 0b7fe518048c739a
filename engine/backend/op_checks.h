// op_checks: the argument checks every backend makes before an op touches memory: shapes against
// each other and against the step, rope parameters, the step's block tables against the KV pool.
// Each throws engine_error naming the op and the shapes that disagree. Storage and dtype checks
// stay with each backend (the CPU backend takes f32, the CUDA backend bf16 and f32 activations).
#pragma once
#include "backend/backend.h"

namespace rl::op_checks {

void embed(const tensor& table, const tensor& out, const step_input& step);
void rms_norm(const tensor& x, const tensor& w, const tensor& out);
void add(const tensor& x, const tensor& y);
void add_bias(const tensor& x, const tensor& b);
void matmul(const tensor& x, const tensor& w, const tensor& out);
void rope(const tensor& x, const rope_params& p, int n_tokens);
void kv_store(const tensor& k, const tensor& v, int n_tokens, const kv_cache_layout& kv);
/// The gated activations (silu_mul, gelu_mul): gate, up and out of one shape.
void silu_mul(const tensor& gate, const tensor& up, const tensor& out, const char* op = "silu_mul");
void gather_logit_rows(const tensor& x, const tensor& out, const step_input& step);
/// A step whose tables may lack blocks behind its kv_window must attend within that window.
void attention_window(const step_input& step, int window);
/// moe_ffn's shapes: x [n, d], router [E, d], stacked experts, out [n, d]; counts in range.
void moe_ffn(const tensor& x, const tensor& gate_inp, const tensor& gate_exps, const tensor& up_exps,
             const tensor& down_exps, const backend::moe_params& p, const tensor& out);
/// A step's batch: tokens and positions of one length (> 0), every row in exactly one sequence at
/// the position its sequence implies, logit rows inside the batch. Fills row_seq (the sequence of
/// each batch row), which both backends keep for the step.
void step_rows(const step_input& step, std::vector<int32_t>& row_seq);
/// Each sequence's block table covers its context with block ids inside the pool.
void step_blocks(const step_input& step, const kv_cache_layout& kv);

} // namespace rl::op_checks
