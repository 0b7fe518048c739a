// conversation_memory: what KV each finished conversation had computed, so that when its user
// returns the scheduler can count the tokens it must compute again (recomputed_tokens: the cost
// of having evicted an idle conversation). A bounded LRU. It keeps a chained hash per whole chunk
// of kChunk tokens plus the last partial chunk's tokens, not every token id: a long multi-turn
// conversation costs ~kChunk times less, so the memory is small and fills fast, and a long run's
// resident memory stays flat. Pure C++; exercise: tests/test_conversation_memory.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

namespace rl {

class conversation_memory {
public:
    static constexpr int kChunk = 16;

    explicit conversation_memory(size_t max_conversations = 4096) : max_(max_conversations ? max_conversations : 1) {}

    /// Replaces what is remembered for `id` with tokens[0, n); the least recently remembered
    /// conversation is forgotten past the bound.
    void remember(uint64_t id, const int32_t* tokens, size_t n);
    /// How many leading tokens of `tokens` the conversation had computed: whole chunks while their
    /// hashes match, then token by token through the remembered tail. Where the two differ inside
    /// a whole chunk, that chunk counts as not computed (at most kChunk - 1 tokens short). 0 for a
    /// conversation not remembered.
    int known_prefix(uint64_t id, const std::vector<int32_t>& tokens) const;

    size_t size() const { return entries_.size(); }
    /// Bytes held by the remembered hashes and tails (their capacity), for tests and the soak.
    size_t payload_bytes() const;

private:
    struct entry {
        std::vector<uint64_t> chunk_hashes;   // chained: hash i covers tokens [0, (i+1) * kChunk)
        std::vector<int32_t> tail;            // tokens after the last whole chunk
        std::list<uint64_t>::iterator lru;
    };
    size_t max_;
    std::unordered_map<uint64_t, entry> entries_;
    std::list<uint64_t> lru_;                 // front: least recently remembered
};

} // namespace rl
