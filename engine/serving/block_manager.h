// block_manager: the paged KV pool's bookkeeping (no memory of its own: the backend holds the
// K/V data, this decides which physical block holds what). Full blocks are content-addressed by
// hash(parent hash, token ids) so any sequence sharing a prefix reuses them (prefix caching).
// A block is in exactly one state: used (ref_count > 0), cached (idle, hashed, evictable LRU)
// or free. Its own memory is sized with the pool when the pool is made (each block's token ids in
// one array, the LRU threaded through the blocks, the hash index reserved), so a long run does not
// grow it as the prefix cache fills. Exercise: tests/test_block_manager.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace rl {

struct block_counts {
    int used = 0;     // referenced by at least one running sequence
    int cached = 0;   // idle, holding a reusable prefix, evictable
    int free = 0;     // empty
};

class block_manager {
public:
    block_manager(int num_blocks, int block_size, bool prefix_caching = true);

    int num_blocks() const { return int(blocks_.size()); }
    int block_size() const { return block_size_; }
    bool prefix_caching() const { return prefix_caching_; }
    void set_prefix_caching(bool on);   // off: drops every cached block

    /// Finds the longest cached prefix of `tokens` made of full blocks, takes a reference on each,
    /// and appends them to `table`. Never reuses the block holding the last token (its logits are
    /// needed), so at most tokens.size()-1 tokens come from cache. Returns the tokens covered.
    int match_prefix(const std::vector<int32_t>& tokens, std::vector<int32_t>& table, uint64_t owner);

    /// Grows `table` so it covers n_tokens. Returns false (and changes nothing) when the pool,
    /// counting evictable cached blocks, cannot supply the blocks.
    bool grow(std::vector<int32_t>& table, int n_tokens, uint64_t owner);
    int blocks_needed(const std::vector<int32_t>& table, int n_tokens) const;
    int available() const { return free_count() + lru_size_; }

    /// Registers the full blocks among the first n_computed tokens so later requests can reuse them.
    /// After a released (-1) entry a call without a cursor can chain only blocks registered
    /// before it (the parent's hash is gone); a cursor keeps the hash, so the chain goes on.
    /// With a cursor (one per sequence, reset whenever its table is emptied) a call resumes where
    /// the last one stopped instead of walking the whole table again, so a long context costs
    /// per step only its newly full blocks.
    struct commit_cursor {
        int blocks = 0;       // table entries already walked
        uint64_t parent = 0;  // the hash chained up to there
        bool chained = true;  // whether parent is still the hash of every block before
    };
    void commit_full_blocks(const std::vector<int32_t>& table, const std::vector<int32_t>& tokens,
                            int n_computed, commit_cursor* cursor = nullptr);

    /// Drops the sequence's references. Hashed blocks become cached (most recent), others free.
    /// Entries already released by release_front (-1) are skipped.
    void release(std::vector<int32_t>& table);
    /// Releases the table's first n_blocks entries (those a sliding window has left behind) as
    /// release() would and marks them -1; the table keeps its length, so indices stay positions /
    /// block_size. Returns how many were released (entries already -1 are not counted).
    int release_front(std::vector<int32_t>& table, int n_blocks);

    block_counts counts() const;
    enum class block_state : uint8_t { free, cached, used };
    struct block_view {
        block_state state;
        uint64_t owner;      // last owner (conversation id with owner bits); 0 when free
        uint64_t last_used;  // logical clock of the last touch
        double touched_s;    // wall time of the last touch (set_now), for "age" in the KV map
    };
    /// Every block's state, for the KV map. O(blocks).
    void export_view(std::vector<block_view>& out) const;
    uint64_t clock() const { return tick_; }
    /// The caller's notion of now (seconds), stamped on blocks as they are touched.
    void set_now(double now_s) { now_s_ = now_s; }
    uint64_t owner_of(int32_t block) const { return blocks_[size_t(block)].owner; }
    int ref_count(int32_t block) const { return blocks_[size_t(block)].ref_count; }
    bool is_cached_idle(int32_t block) const { return blocks_[size_t(block)].in_lru; }
    /// Bytes this bookkeeping holds (its own, not the KV data), for the soak and tests.
    size_t bookkeeping_bytes() const;
    uint64_t last_used(int32_t block) const { return blocks_[size_t(block)].last_used; }

    // Counters, monotonically increasing (vLLM names: prefix_cache_queries/hits are in tokens).
    uint64_t prefix_cache_queries() const { return queries_; }
    uint64_t prefix_cache_hits() const { return hits_; }
    uint64_t evicted_blocks() const { return evictions_; }
    /// Undoes the counting of a lookup whose admission did not go ahead (it will be retried).
    void rollback_query(uint64_t queried, uint64_t hit) { queries_ -= queried; hits_ -= hit; }

    /// Checks every invariant; returns a description of the first violation, or "" when sound.
    std::string check_invariants() const;

private:
    struct block {
        int ref_count = 0;
        uint64_t hash = 0;          // 0: not registered (its ids in tokens_ are then stale)
        uint64_t owner = 0;
        uint64_t last_used = 0;
        double touched_s = 0;
        bool in_lru = false;
        int32_t lru_prev = -1, lru_next = -1;   // neighbours in the LRU while cached
    };

    int free_count() const { return int(free_.size()); }
    int32_t take_block(uint64_t owner);   // free first, else evict the least recently used cached
    void evict(int32_t b);
    void lru_push_back(int32_t b);
    void drop_ref(int32_t b);   // one reference less; at zero cached (hashed) or free
    void lru_unlink(int32_t b);
    const int32_t* tokens_of(int32_t b) const { return tokens_.data() + size_t(b) * size_t(block_size_); }
    static uint64_t hash_block(uint64_t parent, const int32_t* tokens, int n);

    int block_size_;
    bool prefix_caching_;
    uint64_t tick_ = 0;
    double now_s_ = 0;
    std::vector<block> blocks_;
    std::vector<int32_t> free_;
    std::vector<int32_t> tokens_;   // block b's token ids at [b * block_size_, ...) while registered
    int32_t lru_head_ = -1, lru_tail_ = -1;   // head = least recently used
    int lru_size_ = 0;
    std::unordered_map<uint64_t, int32_t> by_hash_;
    uint64_t queries_ = 0, hits_ = 0, evictions_ = 0;
};

} // namespace rl
