// step_pack.cpp: see step_pack.h.
#include "step_pack.h"

#include "common/engine_error.h"

#include <string>

namespace rl::kernels {

step_offsets pack_step(const step_input& in, int tile_rows, std::vector<int32_t>& pk) {
    const int n = in.n_tokens(), S = int(in.seqs.size());
    RL_CHECK(n > 0, "step has no tokens");
    RL_CHECK(tile_rows > 0, "pack_step: tile_rows must be positive");
    RL_CHECK(in.positions.size() == in.tokens.size(), "step: positions and tokens differ in length");
    std::vector<int32_t> row_seq(size_t(n), -1);
    for (int s = 0; s < S; ++s) {
        const seq_slice& q = in.seqs[size_t(s)];
        RL_CHECK(q.n_tokens > 0 && q.token_begin >= 0 && q.token_begin + q.n_tokens <= n && q.start_pos >= 0,
                 "step: sequence " + std::to_string(s) + " covers rows outside the batch");
        for (int i = 0; i < q.n_tokens; ++i) {
            const int r = q.token_begin + i;
            RL_CHECK(row_seq[size_t(r)] < 0, "step: batch row " + std::to_string(r) + " belongs to two sequences");
            RL_CHECK(in.positions[size_t(r)] == q.start_pos + i,
                     "step: position of row " + std::to_string(r) + " disagrees with its sequence's start_pos");
            row_seq[size_t(r)] = s;
        }
    }
    for (int r = 0; r < n; ++r) RL_CHECK(row_seq[size_t(r)] >= 0, "step: batch row " + std::to_string(r) + " has no sequence");
    for (int32_t r : in.logit_rows) RL_CHECK(r >= 0 && r < n, "step: logit row " + std::to_string(r) + " is out of range");

    step_offsets o;
    pk.clear();
    pk.insert(pk.end(), in.tokens.begin(), in.tokens.end());
    pk.insert(pk.end(), in.positions.begin(), in.positions.end());
    pk.insert(pk.end(), row_seq.begin(), row_seq.end());
    o.seq_token_begin = pk.size();
    for (const seq_slice& s : in.seqs) pk.push_back(s.token_begin);
    o.seq_n_tokens = pk.size();
    for (const seq_slice& s : in.seqs) pk.push_back(s.n_tokens);
    o.seq_start_pos = pk.size();
    for (const seq_slice& s : in.seqs) pk.push_back(s.start_pos);
    o.seq_table = pk.size();
    size_t table_off = 0;
    for (const seq_slice& s : in.seqs) {
        pk.push_back(int32_t(table_off));
        table_off += s.block_table.size();
    }
    o.logit_rows = pk.size();
    pk.insert(pk.end(), in.logit_rows.begin(), in.logit_rows.end());
    o.decode_rows = pk.size();
    for (const seq_slice& s : in.seqs)
        if (s.n_tokens == 1) pk.push_back(s.token_begin);
    o.tiles = pk.size();
    for (int s = 0; s < S; ++s) {
        const int nt = in.seqs[size_t(s)].n_tokens;
        if (nt < 2) continue;
        for (int r0 = 0; r0 < nt; r0 += tile_rows) {
            pk.push_back(s);
            pk.push_back(r0);
        }
    }
    o.n_decode = int(o.tiles - o.decode_rows);
    o.n_tiles = int((pk.size() - o.tiles) / 2);
    // Last, so that every other offset depends only on (n, n_seqs, logit rows, decodes, tiles):
    // a recorded decode step (cuda_graphs.cpp) replays with the same offsets.
    o.block_tables = pk.size();
    for (const seq_slice& s : in.seqs) pk.insert(pk.end(), s.block_table.begin(), s.block_table.end());
    return o;
}

} // namespace rl::kernels
