// block_manager.cpp: see block_manager.h. All operations are O(blocks touched); eviction is
// O(1) through the LRU list threaded through the blocks.
#include "serving/block_manager.h"

#include "common/engine_error.h"

#include <algorithm>

namespace rl {

block_manager::block_manager(int num_blocks, int block_size, bool prefix_caching)
    : block_size_(block_size), prefix_caching_(prefix_caching), blocks_(size_t(std::max(0, num_blocks))) {
    RL_CHECK(num_blocks > 0, "KV pool needs at least one block");
    RL_CHECK(block_size > 0, "block_size must be positive");
    free_.reserve(size_t(num_blocks));
    for (int b = num_blocks - 1; b >= 0; --b) free_.push_back(b);
    // Allocated (and, being value-initialised, written) now: a soak showed the per-block token
    // copies this replaces filling the heap for ten minutes as cached prefixes accumulated.
    tokens_.assign(size_t(num_blocks) * size_t(block_size), 0);
    by_hash_.reserve(size_t(num_blocks));
}

void block_manager::lru_push_back(int32_t id) {
    block& b = blocks_[size_t(id)];
    b.lru_prev = lru_tail_;
    b.lru_next = -1;
    if (lru_tail_ >= 0) blocks_[size_t(lru_tail_)].lru_next = id;
    else lru_head_ = id;
    lru_tail_ = id;
    b.in_lru = true;
    ++lru_size_;
}

void block_manager::lru_unlink(int32_t id) {
    block& b = blocks_[size_t(id)];
    if (b.lru_prev >= 0) blocks_[size_t(b.lru_prev)].lru_next = b.lru_next;
    else lru_head_ = b.lru_next;
    if (b.lru_next >= 0) blocks_[size_t(b.lru_next)].lru_prev = b.lru_prev;
    else lru_tail_ = b.lru_prev;
    b.lru_prev = b.lru_next = -1;
    b.in_lru = false;
    --lru_size_;
}

size_t block_manager::bookkeeping_bytes() const {
    return blocks_.capacity() * sizeof(block) + free_.capacity() * sizeof(int32_t) +
           tokens_.capacity() * sizeof(int32_t) + by_hash_.bucket_count() * sizeof(void*) +
           by_hash_.size() * (sizeof(std::pair<const uint64_t, int32_t>) + 2 * sizeof(void*));
}

uint64_t block_manager::hash_block(uint64_t parent, const int32_t* tokens, int n) {
    // FNV-1a over the parent hash and token ids, then a final avalanche; 0 is reserved.
    uint64_t h = 1469598103934665603ull ^ parent;
    auto mix = [&h](uint64_t v) {
        for (int i = 0; i < 8; ++i) {
            h ^= (v >> (8 * i)) & 0xFF;
            h *= 1099511628211ull;
        }
    };
    mix(parent);
    for (int i = 0; i < n; ++i) mix(uint64_t(uint32_t(tokens[i])));
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

void block_manager::set_prefix_caching(bool on) {
    prefix_caching_ = on;
    if (on) return;
    while (lru_head_ >= 0) evict(lru_head_);
    for (auto& b : blocks_)  // blocks in use keep their data but stop being shareable
        if (b.hash) {
            by_hash_.erase(b.hash);
            b.hash = 0;
        }
}

int block_manager::match_prefix(const std::vector<int32_t>& tokens, std::vector<int32_t>& table, uint64_t owner) {
    RL_CHECK(table.empty(), "match_prefix needs an empty block table");
    queries_ += tokens.size();
    if (!prefix_caching_ || tokens.empty()) return 0;
    const int full = int(tokens.size() - 1) / block_size_;  // keep the last token to compute
    uint64_t parent = 0;
    for (int i = 0; i < full; ++i) {
        const int32_t* t = tokens.data() + size_t(i) * size_t(block_size_);
        const uint64_t h = hash_block(parent, t, block_size_);
        auto it = by_hash_.find(h);
        if (it == by_hash_.end()) break;
        block& b = blocks_[size_t(it->second)];
        const int32_t* held = tokens_of(it->second);
        if (!std::equal(held, held + block_size_, t)) break;  // hash collision: stop sharing
        if (b.in_lru) lru_unlink(it->second);
        ++b.ref_count;
        b.owner = owner;
        b.last_used = ++tick_;
        b.touched_s = now_s_;
        table.push_back(it->second);
        parent = h;
    }
    const int cached = int(table.size()) * block_size_;
    hits_ += uint64_t(cached);
    return cached;
}

int block_manager::blocks_needed(const std::vector<int32_t>& table, int n_tokens) const {
    return std::max(0, (n_tokens + block_size_ - 1) / block_size_ - int(table.size()));
}

bool block_manager::grow(std::vector<int32_t>& table, int n_tokens, uint64_t owner) {
    const int need = blocks_needed(table, n_tokens);
    if (need > available()) return false;
    for (int i = 0; i < need; ++i) table.push_back(take_block(owner));
    return true;
}

int32_t block_manager::take_block(uint64_t owner) {
    if (free_.empty()) {
        RL_CHECK(lru_head_ >= 0, "KV pool exhausted");
        evict(lru_head_);
    }
    const int32_t id = free_.back();
    free_.pop_back();
    block& b = blocks_[size_t(id)];
    b.ref_count = 1;
    b.owner = owner;
    b.last_used = ++tick_;
    b.touched_s = now_s_;
    return id;
}

void block_manager::evict(int32_t id) {
    lru_unlink(id);
    block& b = blocks_[size_t(id)];
    by_hash_.erase(b.hash);
    b.hash = 0;
    b.owner = 0;
    free_.push_back(id);
    ++evictions_;
}

void block_manager::commit_full_blocks(const std::vector<int32_t>& table, const std::vector<int32_t>& tokens,
                                       int n_computed, commit_cursor* cursor) {
    if (!prefix_caching_) return;
    const int full = std::min<int>(n_computed / block_size_, int(table.size()));
    commit_cursor c;
    if (cursor && cursor->blocks <= full) c = *cursor;  // else (a table rebuilt shorter) walk it all
    uint64_t parent = c.parent;
    bool chained = c.chained;   // parent is the hash of the blocks before i
    int i = c.blocks;
    for (; i < full; ++i) {
        const int32_t* t = tokens.data() + size_t(i) * size_t(block_size_);
        if (table[size_t(i)] < 0) {   // released behind a sliding window
            chained = false;
            continue;
        }
        block& b = blocks_[size_t(table[size_t(i)])];
        if (!b.hash && !chained) break;   // its content address cannot be computed any more
        chained = true;
        const uint64_t h = b.hash ? b.hash : hash_block(parent, t, block_size_);
        if (!b.hash && !by_hash_.count(h)) {  // a twin computed by another sequence stays unshared
            b.hash = h;
            std::copy(t, t + block_size_, tokens_.begin() + ptrdiff_t(table[size_t(i)]) * block_size_);
            by_hash_[h] = table[size_t(i)];
        }
        parent = h;
    }
    if (cursor) *cursor = commit_cursor{i, parent, chained};
}

void block_manager::drop_ref(int32_t id) {
    block& b = blocks_[size_t(id)];
    if (--b.ref_count > 0) return;
    b.last_used = ++tick_;
    b.touched_s = now_s_;
    if (b.hash && prefix_caching_) {
        lru_push_back(id);
    } else {
        if (b.hash) by_hash_.erase(b.hash);
        b.hash = 0;
        b.owner = 0;
        free_.push_back(id);
    }
}

void block_manager::release(std::vector<int32_t>& table) {
    // Release tail first so that, among one sequence's blocks, the prefix stays cached longest.
    for (auto it = table.rbegin(); it != table.rend(); ++it)
        if (*it >= 0) drop_ref(*it);
    table.clear();
}

int block_manager::release_front(std::vector<int32_t>& table, int n_blocks) {
    int released = 0;
    for (int i = 0; i < std::min<int>(n_blocks, int(table.size())); ++i) {
        if (table[size_t(i)] < 0) continue;
        drop_ref(table[size_t(i)]);
        table[size_t(i)] = -1;
        ++released;
    }
    return released;
}

void block_manager::export_view(std::vector<block_view>& out) const {
    out.resize(blocks_.size());
    for (size_t i = 0; i < blocks_.size(); ++i) {
        const block& b = blocks_[i];
        const block_state st = b.ref_count > 0 ? block_state::used
                               : b.in_lru     ? block_state::cached
                                              : block_state::free;
        out[i] = {st, st == block_state::free ? 0 : b.owner, b.last_used, b.touched_s};
    }
}

block_counts block_manager::counts() const {
    block_counts c;
    c.free = free_count();
    c.cached = lru_size_;
    c.used = num_blocks() - c.free - c.cached;
    return c;
}

std::string block_manager::check_invariants() const {
    std::vector<int> seen(blocks_.size(), 0);
    for (int32_t f : free_) {
        if (f < 0 || f >= num_blocks()) return "free list holds an invalid block id";
        if (seen[size_t(f)]++) return "block " + std::to_string(f) + " is twice in the free list";
        if (blocks_[size_t(f)].ref_count != 0) return "free block " + std::to_string(f) + " has references";
        if (blocks_[size_t(f)].in_lru) return "free block " + std::to_string(f) + " is also cached";
    }
    int in_lru = 0;
    for (int32_t c = lru_head_, prev = -1; c >= 0; prev = c, c = blocks_[size_t(c)].lru_next) {
        if (c >= num_blocks()) return "LRU list holds an invalid block id";
        if (blocks_[size_t(c)].lru_prev != prev) return "LRU list is broken at block " + std::to_string(c);
        if (!blocks_[size_t(c)].in_lru) return "block " + std::to_string(c) + " is in the LRU list unmarked";
        if (++in_lru > num_blocks()) return "LRU list has a cycle";
        if (seen[size_t(c)]++) return "block " + std::to_string(c) + " is both free and cached (or cached twice)";
        if (blocks_[size_t(c)].ref_count != 0) return "cached block " + std::to_string(c) + " has references";
        if (!blocks_[size_t(c)].hash) return "cached block " + std::to_string(c) + " has no hash";
    }
    int used = 0;
    for (size_t i = 0; i < blocks_.size(); ++i) {
        if (blocks_[i].ref_count < 0) return "block " + std::to_string(i) + " has a negative ref count";
        if (!seen[i] && blocks_[i].ref_count == 0) return "block " + std::to_string(i) + " is leaked";
        used += blocks_[i].ref_count > 0;
    }
    if (in_lru != lru_size_) return "LRU size is stale";
    if (used + int(free_.size()) + lru_size_ != num_blocks()) return "used + cached + free != total";
    for (auto& [h, id] : by_hash_)
        if (blocks_[size_t(id)].hash != h) return "hash index is stale for block " + std::to_string(id);
    return "";
}

} // namespace rl
