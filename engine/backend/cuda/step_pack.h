// step_pack: flattens a step_input into the int32 arrays the CUDA kernels read (one host buffer,
// copied to the device with one cudaMemcpyAsync by cuda_backend::set_step), after checking that
// the batch is consistent. Pure C++: no CUDA headers.
#pragma once
#include "backend/backend.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rl::kernels {

/// Element offsets into the packed buffer. tokens at 0, positions at n, row_seq at 2n.
struct step_offsets {
    size_t seq_token_begin = 0, seq_n_tokens = 0, seq_start_pos = 0, seq_table = 0;  // [n_seqs] each
    size_t block_tables = 0;  // all sequences' tables, concatenated (packed last)
    size_t logit_rows = 0;
    size_t decode_rows = 0;  // batch rows of single-token sequences
    size_t tiles = 0;        // (sequence, first row in it) pairs for multi-token sequences
    int n_decode = 0, n_tiles = 0;
};

/// Validates `in` (rows covered exactly once, positions == start_pos + i, logit rows in range;
/// engine_error otherwise) and packs it into `out`. tile_rows: query rows per prefill tile.
step_offsets pack_step(const step_input& in, int tile_rows, std::vector<int32_t>& out);

} // namespace rl::kernels
