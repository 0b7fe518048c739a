// op_checks.cpp: see op_checks.h.
#include "backend/op_checks.h"

#include "common/engine_error.h"

#include <algorithm>

namespace rl::op_checks {

void embed(const tensor& table, const tensor& out, const step_input& step) {
    const int64_t n = step.n_tokens();
    RL_CHECK(out.rows == n && out.cols == table.cols, "embed: output " + shape_of(out) + " for table " +
                                                          shape_of(table) + " and " + std::to_string(n) + " tokens");
    for (int32_t t : step.tokens)
        RL_CHECK(t >= 0 && t < table.rows, "embed: token id " + std::to_string(t) + " out of range");
}

void rms_norm(const tensor& x, const tensor& w, const tensor& out) {
    RL_CHECK(w.numel() == x.cols && out.rows == x.rows && out.cols == x.cols,
             "rms_norm: x " + shape_of(x) + ", w " + shape_of(w) + ", out " + shape_of(out));
}

void add(const tensor& x, const tensor& y) {
    RL_CHECK(x.rows == y.rows && x.cols == y.cols, "add: " + shape_of(x) + " += " + shape_of(y));
}

void add_bias(const tensor& x, const tensor& b) {
    RL_CHECK(b.numel() == x.cols, "add_bias: x " + shape_of(x) + ", bias " + shape_of(b));
}

void matmul(const tensor& x, const tensor& w, const tensor& out) {
    RL_CHECK(x.cols == w.cols && out.rows == x.rows && out.cols == w.rows,
             "matmul: x " + shape_of(x) + " . w " + shape_of(w) + "^T -> out " + shape_of(out));
}

void rope(const tensor& x, const rope_params& p, int n_tokens) {
    RL_CHECK(p.inv_freq && p.rope_dim > 0 && p.rope_dim % 2 == 0 && p.rope_dim <= p.head_dim &&
                 int(p.inv_freq->size()) == p.rope_dim / 2,
             "rope: rope_dim " + std::to_string(p.rope_dim) + " with head_dim " + std::to_string(p.head_dim) +
                 " needs rope_dim/2 inverse frequencies");
    RL_CHECK(x.rows == n_tokens && x.cols == int64_t(p.n_heads) * p.head_dim,
             "rope: x " + shape_of(x) + " for " + std::to_string(n_tokens) + " tokens x " +
                 std::to_string(p.n_heads) + " heads x " + std::to_string(p.head_dim));
}

void kv_store(const tensor& k, const tensor& v, int n_tokens, const kv_cache_layout& kv) {
    const int64_t w = int64_t(kv.n_kv_heads) * kv.head_dim;
    RL_CHECK(k.rows == n_tokens && k.cols == w && v.rows == k.rows && v.cols == w,
             "kv_store: k " + shape_of(k) + ", v " + shape_of(v) + " for a pool of " + std::to_string(kv.n_kv_heads) +
                 " kv heads x " + std::to_string(kv.head_dim));
}

void silu_mul(const tensor& gate, const tensor& up, const tensor& out, const char* op) {
    RL_CHECK(gate.rows == up.rows && gate.cols == up.cols && out.rows == gate.rows && out.cols == gate.cols,
             std::string(op) + ": gate " + shape_of(gate) + ", up " + shape_of(up) + ", out " + shape_of(out));
}

void attention_window(const step_input& step, int window) {
    RL_CHECK(step.kv_window == 0 || (window > 0 && window <= step.kv_window),
             "attention: the step freed KV blocks outside a " + std::to_string(step.kv_window) +
                 "-token window, but this layer attends over " +
                 (window > 0 ? std::to_string(window) + " positions" : std::string("the whole context")));
}

void moe_ffn(const tensor& x, const tensor& gate_inp, const tensor& gate_exps, const tensor& up_exps,
             const tensor& down_exps, const backend::moe_params& p, const tensor& out) {
    const int64_t n = x.rows, d = x.cols, E = p.n_experts, ff = p.d_ff;
    RL_CHECK(E > 0 && p.n_used > 0 && p.n_used <= E && ff > 0, "moe_ffn: bad expert counts");
    RL_CHECK(gate_inp.rows == E && gate_inp.cols == d, "moe_ffn: router " + shape_of(gate_inp) + " for x " + shape_of(x));
    RL_CHECK(gate_exps.rows == E * ff && gate_exps.cols == d && up_exps.rows == E * ff && up_exps.cols == d &&
                 down_exps.rows == E * d && down_exps.cols == ff,
             "moe_ffn: expert weights " + shape_of(gate_exps) + ", " + shape_of(up_exps) + ", " + shape_of(down_exps) +
                 " for " + std::to_string(E) + " experts of " + std::to_string(ff));
    RL_CHECK(out.rows == n && out.cols == d, "moe_ffn: out " + shape_of(out) + " for x " + shape_of(x));
}

void gather_logit_rows(const tensor& x, const tensor& out, const step_input& step) {
    const size_t nl = step.logit_rows.size();
    RL_CHECK(x.rows == step.n_tokens() && out.rows == int64_t(nl) && out.cols == x.cols,
             "gather_logit_rows: x " + shape_of(x) + ", out " + shape_of(out) + " for " + std::to_string(nl) +
                 " logit rows");
}

void step_rows(const step_input& in, std::vector<int32_t>& row_seq) {
    const int n = in.n_tokens();
    RL_CHECK(n > 0, "step has no tokens");
    RL_CHECK(in.positions.size() == in.tokens.size(), "step: positions and tokens differ in length");
    row_seq.assign(size_t(n), -1);
    for (size_t s = 0; s < in.seqs.size(); ++s) {
        const seq_slice& q = in.seqs[s];
        RL_CHECK(q.n_tokens > 0 && q.token_begin >= 0 && q.token_begin + q.n_tokens <= n && q.start_pos >= 0,
                 "step: sequence " + std::to_string(s) + " covers rows outside the batch");
        for (int i = 0; i < q.n_tokens; ++i) {
            const int r = q.token_begin + i;
            RL_CHECK(row_seq[size_t(r)] < 0, "step: batch row " + std::to_string(r) + " belongs to two sequences");
            RL_CHECK(in.positions[size_t(r)] == q.start_pos + i,
                     "step: position of row " + std::to_string(r) + " disagrees with its sequence's start_pos");
            row_seq[size_t(r)] = int32_t(s);
        }
    }
    for (int r = 0; r < n; ++r) RL_CHECK(row_seq[size_t(r)] >= 0, "step: batch row " + std::to_string(r) + " has no sequence");
    for (int32_t r : in.logit_rows) RL_CHECK(r >= 0 && r < n, "step: logit row " + std::to_string(r) + " is out of range");
}

void step_blocks(const step_input& step, const kv_cache_layout& kv) {
    for (const seq_slice& s : step.seqs) {
        const int need = (s.context_len() + kv.block_size - 1) / kv.block_size;
        RL_CHECK(int(s.block_table.size()) >= need, "step: a sequence with " + std::to_string(s.context_len()) +
                                                        " positions has only " + std::to_string(s.block_table.size()) +
                                                        " blocks in its table");
        // Blocks wholly before every window may have been freed (-1); see step_input::kv_window.
        const int first_needed = step.kv_window > 0 ? std::max(0, s.start_pos - step.kv_window + 1) : 0;
        for (int i = 0; i < need; ++i) {
            const int32_t b = s.block_table[size_t(i)];
            if (b == -1 && (i + 1) * kv.block_size <= first_needed) continue;
            RL_CHECK(b >= 0 && b < kv.num_blocks, "step: block id " + std::to_string(b) + " is outside the KV pool");
        }
    }
}

} // namespace rl::op_checks
