// conversation_memory: the known prefix of a returning conversation (whole chunks by hash, the
// tail token by token), the LRU bound, and that the memory held is the compact form.
#include "rl_test.h"

#include "serving/conversation_memory.h"

#include <numeric>

namespace {
std::vector<int32_t> seq(int n, int start = 100) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    std::iota(v.begin(), v.end(), start);
    return v;
}
} // namespace

class TestConversationMemory : public QObject {
    Q_OBJECT
private slots:
    void knownPrefixOfAReturningConversation() {
        rl::conversation_memory m;
        const auto turn1 = seq(53);  // 3 whole chunks and a tail of 5
        m.remember(7, turn1.data(), turn1.size());
        QCOMPARE(m.known_prefix(8, turn1), 0);  // never seen
        auto turn2 = turn1;
        for (int i = 0; i < 40; ++i) turn2.push_back(9000 + i);
        QCOMPARE(m.known_prefix(7, turn2), 53);  // extends it: everything remembered is known
        QCOMPARE(m.known_prefix(7, turn1), 53);
        // Divergence in the tail is exact to the token.
        auto tailDiff = turn2;
        tailDiff[50] = -1;
        QCOMPARE(m.known_prefix(7, tailDiff), 50);
        // Divergence inside a whole chunk loses that chunk (at most kChunk - 1 tokens short).
        auto chunkDiff = turn2;
        chunkDiff[37] = -1;
        QCOMPARE(m.known_prefix(7, chunkDiff), 32);
        chunkDiff[3] = -1;
        QCOMPARE(m.known_prefix(7, chunkDiff), 0);
        // New tokens that end inside a remembered chunk: the whole chunks before it.
        QCOMPARE(m.known_prefix(7, seq(40)), 32);
        // Remembering again replaces: a shorter conversation now.
        m.remember(7, turn1.data(), 10);
        QCOMPARE(m.known_prefix(7, turn2), 10);
    }

    void boundedLeastRecentlyRemembered() {
        rl::conversation_memory m(3);
        const auto t = seq(20);
        for (uint64_t id = 1; id <= 3; ++id) m.remember(id, t.data(), t.size());
        m.remember(1, t.data(), t.size());  // 1 is now the most recent: 2 goes first
        m.remember(4, t.data(), t.size());
        QCOMPARE(m.size(), size_t(3));
        QCOMPARE(m.known_prefix(2, t), 0);
        QCOMPARE(m.known_prefix(1, t), 20);
        QCOMPARE(m.known_prefix(3, t), 20);
        QCOMPARE(m.known_prefix(4, t), 20);
    }

    void holdsHashesNotTokens() {
        rl::conversation_memory m;
        const auto longConv = seq(8000);
        m.remember(1, longConv.data(), longConv.size());
        // 500 hashes of 8 bytes; the token ids would be 32,000 bytes.
        QCOMPARE(m.payload_bytes(), size_t(8000 / 16 * 8));
        m.remember(1, longConv.data(), 17);  // shrinking releases the long form
        QCOMPARE(m.payload_bytes(), size_t(8 + 4));
    }
};

RL_TEST_MAIN(TestConversationMemory, knownPrefixOfAReturningConversation, boundedLeastRecentlyRemembered,
             holdsHashesNotTokens)
#include "test_conversation_memory.moc"
