// block_manager.cpp: see block_manager.h. All operations are O(blocks touched); eviction is
// O(1) through the LRU list.
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
    while (!lru_.empty()) evict(lru_.front());
    for (auto& b : blocks_)  // blocks in use keep their data but stop being shareable
        if (b.hash) {
            by_hash_.erase(b.hash);
            b.hash = 0;
            b.tokens.clear();
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
        if (!std::equal(b.tokens.begin(), b.tokens.end(), t)) break;  // hash collision: stop sharing
        if (b.in_lru) {
            lru_.erase(b.lru_pos);
            b.in_lru = false;
        }
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
        RL_CHECK(!lru_.empty(), "KV pool exhausted");
        evict(lru_.front());
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
    block& b = blocks_[size_t(id)];
    lru_.erase(b.lru_pos);
    b.in_lru = false;
    by_hash_.erase(b.hash);
    b.hash = 0;
    b.tokens.clear();
    b.owner = 0;
    free_.push_back(id);
    ++evictions_;
}

void block_manager::commit_full_blocks(const std::vector<int32_t>& table, const std::vector<int32_t>& tokens,
                                       int n_computed) {
    if (!prefix_caching_) return;
    const int full = std::min<int>(n_computed / block_size_, int(table.size()));
    uint64_t parent = 0;
    for (int i = 0; i < full; ++i) {
        const int32_t* t = tokens.data() + size_t(i) * size_t(block_size_);
        block& b = blocks_[size_t(table[size_t(i)])];
        const uint64_t h = b.hash ? b.hash : hash_block(parent, t, block_size_);
        if (!b.hash && !by_hash_.count(h)) {  // a twin computed by another sequence stays unshared
            b.hash = h;
            b.tokens.assign(t, t + block_size_);
            by_hash_[h] = table[size_t(i)];
        }
        parent = h;
    }
}

void block_manager::release(std::vector<int32_t>& table) {
    // Release tail first so that, among one sequence's blocks, the prefix stays cached longest.
    for (auto it = table.rbegin(); it != table.rend(); ++it) {
        block& b = blocks_[size_t(*it)];
        if (--b.ref_count > 0) continue;
        b.last_used = ++tick_;
        b.touched_s = now_s_;
        if (b.hash && prefix_caching_) {
            b.lru_pos = lru_.insert(lru_.end(), *it);
            b.in_lru = true;
        } else {
            if (b.hash) by_hash_.erase(b.hash);
            b.hash = 0;
            b.tokens.clear();
            b.owner = 0;
            free_.push_back(*it);
        }
    }
    table.clear();
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
    c.cached = int(lru_.size());
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
    for (int32_t c : lru_) {
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
    if (used + int(free_.size()) + int(lru_.size()) != num_blocks()) return "used + cached + free != total";
    for (auto& [h, id] : by_hash_)
        if (blocks_[size_t(id)].hash != h) return "hash index is stale for block " + std::to_string(id);
    return "";
}

} // namespace rl
