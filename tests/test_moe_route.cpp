// moe_route: the routing both backends share (backend/moe_route.h), against a direct per-row
// reference on random logits: the chosen experts are the top n_used by softmax probability (the
// lower index on ties), the weights renormalise to 1, the rows are grouped by expert in ascending
// order, and slot_of points each (row, choice) at its entry.
#include "rl_test.h"

#include "backend/moe_route.h"
#include "common/engine_error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <utility>

namespace {

// Row r's choices by a direct reading of the rule: experts sorted by logit (softmax is monotonic),
// the lower index first on equal logits.
std::vector<int> reference_top(const float* l, int E, int k) {
    std::vector<int> o(static_cast<size_t>(E));
    std::iota(o.begin(), o.end(), 0);
    std::stable_sort(o.begin(), o.end(), [&](int a, int b) { return l[a] > l[b]; });
    o.resize(size_t(k));
    return o;
}

} // namespace

class TestMoeRoute : public QObject {
    Q_OBJECT
private slots:
    void matchesTheRuleOnRandomLogits() {
        std::mt19937 rng(5);
        for (int trial = 0; trial < 200; ++trial) {
            const int E = 1 + int(rng() % 64), k = 1 + int(rng() % E), n = int(rng() % 40);
            std::vector<float> logits(size_t(n * E));
            std::normal_distribution<float> d(0.f, 3.f);
            // Coarse values so equal logits (ties) happen often.
            for (auto& v : logits) v = std::round(d(rng) * 2.f) / 2.f;
            rl::moe_routes r;
            rl::moe_route(logits.data(), n, E, k, true, r);
            QCOMPARE(int(r.rows.size()), n * k);
            QCOMPARE(r.offsets.back(), int64_t(n * k));
            for (int e = 0; e < E; ++e) {
                QVERIFY(r.count(e) >= 0);
                for (int64_t i = r.offsets[size_t(e)] + 1; i < r.offsets[size_t(e) + 1]; ++i)
                    QVERIFY(r.rows[size_t(i - 1)] < r.rows[size_t(i)]);  // ascending, no row twice
            }
            for (int row = 0; row < n; ++row) {
                const std::vector<int> want = reference_top(logits.data() + row * E, E, k);
                double wsum = 0;
                std::set<int> got_experts;
                for (int j = 0; j < k; ++j) {
                    const int32_t at = r.slot_of[size_t(row * k + j)];
                    QCOMPARE(r.rows[size_t(at)], row);
                    const int expert = int(std::upper_bound(r.offsets.begin(), r.offsets.end(), int64_t(at)) -
                                           r.offsets.begin()) - 1;
                    QCOMPARE(expert, want[size_t(j)]);  // slot j is the j-th likeliest expert
                    got_experts.insert(expert);
                    wsum += r.weights[size_t(at)];
                    if (j > 0) QVERIFY(r.weights[size_t(at)] <= r.weights[size_t(r.slot_of[size_t(row * k + j - 1)])]);
                }
                QCOMPARE(int(got_experts.size()), k);
                QVERIFY2(std::fabs(wsum - 1.0) < 1e-5, ("weights sum to " + std::to_string(wsum)).c_str());
            }
        }
    }

    void unnormalisedWeightsAreTheProbabilities() {
        const float l[4] = {0.f, 1.f, 2.f, 3.f};
        rl::moe_routes r;
        rl::moe_route(l, 1, 4, 2, false, r);
        double z = 0;
        for (float v : l) z += std::exp(double(v));
        QVERIFY(std::fabs(r.weights[size_t(r.slot_of[0])] - std::exp(3.0) / z) < 1e-6);
        QVERIFY(std::fabs(r.weights[size_t(r.slot_of[1])] - std::exp(2.0) / z) < 1e-6);
        QCOMPARE(r.count(0), int64_t(0));
        QCOMPARE(r.count(3), int64_t(1));
    }

    void badCountsThrow() {
        const float l[2] = {0.f, 0.f};
        rl::moe_routes r;
        for (auto [E, k] : {std::pair{2, 3}, std::pair{0, 1}}) {
            bool threw = false;
            try {
                rl::moe_route(l, 1, E, k, true, r);
            } catch (const rl::engine_error&) {
                threw = true;
            }
            QVERIFY2(threw, ("no error for " + std::to_string(k) + " of " + std::to_string(E) + " experts").c_str());
        }
    }
};

RL_TEST_MAIN(TestMoeRoute, matchesTheRuleOnRandomLogits, unnormalisedWeightsAreTheProbabilities, badCountsThrow)
#include "test_moe_route.moc"
