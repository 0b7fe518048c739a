// conversation_memory.cpp: chained chunk hashes (splitmix64 over the previous hash and each token).
#include "serving/conversation_memory.h"

#include <algorithm>

namespace rl {

namespace {
uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    h += 0x9E3779B97F4A7C15ull;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    return h ^ (h >> 31);
}
uint64_t chunk_hash(uint64_t prev, const int32_t* t) {
    uint64_t h = prev;
    for (int i = 0; i < conversation_memory::kChunk; ++i) h = mix(h, uint64_t(uint32_t(t[i])));
    return h;
}
} // namespace

void conversation_memory::remember(uint64_t id, const int32_t* tokens, size_t n) {
    auto [it, fresh] = entries_.try_emplace(id);
    entry& e = it->second;
    const size_t chunks = n / kChunk;
    // Exact sizes: assign() into a reused vector keeps its old capacity, which would let a
    // conversation that once was long hold that memory for as long as it is remembered.
    std::vector<uint64_t> hashes(chunks);
    uint64_t h = 0;
    for (size_t c = 0; c < chunks; ++c) hashes[c] = h = chunk_hash(h, tokens + c * kChunk);
    e.chunk_hashes = std::move(hashes);
    e.tail = std::vector<int32_t>(tokens + chunks * kChunk, tokens + n);
    if (!fresh) lru_.erase(e.lru);
    e.lru = lru_.insert(lru_.end(), id);
    while (entries_.size() > max_) {
        entries_.erase(lru_.front());
        lru_.pop_front();
    }
}

int conversation_memory::known_prefix(uint64_t id, const std::vector<int32_t>& tokens) const {
    auto it = entries_.find(id);
    if (it == entries_.end()) return 0;
    const entry& e = it->second;
    size_t c = 0;
    uint64_t h = 0;
    for (; c < e.chunk_hashes.size() && (c + 1) * kChunk <= tokens.size(); ++c) {
        h = chunk_hash(h, tokens.data() + c * kChunk);
        if (h != e.chunk_hashes[c]) return int(c * kChunk);
    }
    size_t n = c * kChunk;
    if (c < e.chunk_hashes.size()) return int(n);  // the new tokens end inside a remembered chunk
    for (size_t i = 0; i < e.tail.size() && n < tokens.size() && tokens[n] == e.tail[i]; ++i) ++n;
    return int(n);
}

size_t conversation_memory::payload_bytes() const {
    size_t b = 0;
    for (const auto& [id, e] : entries_)
        b += e.chunk_hashes.capacity() * sizeof(uint64_t) + e.tail.capacity() * sizeof(int32_t);
    return b;
}

} // namespace rl
