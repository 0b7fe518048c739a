// step_pack.cpp: see step_pack.h.
#include "step_pack.h"

#include "backend/op_checks.h"
#include "common/engine_error.h"

#include <string>

namespace rl::kernels {

step_offsets pack_step(const step_input& in, int tile_rows, std::vector<int32_t>& pk) {
    RL_CHECK(tile_rows > 0, "pack_step: tile_rows must be positive");
    std::vector<int32_t> row_seq;
    op_checks::step_rows(in, row_seq);  // throws before anything is packed
    const int S = int(in.seqs.size());

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
