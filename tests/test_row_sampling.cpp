// The device sampling rule's host reference (engine/backend/row_sampling.h): the draw is an
// inverse CDF over the kept set in token order, so over a fine grid of u each kept token's share
// must equal its tempered softmax weight; the kept set must agree with the host sampler's chain
// (every token sampler.cpp draws over many seeds is kept); greedy is the lowest-id argmax; NaN
// and -inf logits are never drawn. Also the engine's per-step choice of path (step_sampling.h).
#include "rl_test.h"

#include "backend/row_sampling.h"
#include "serving/sampler.h"
#include "serving/sequence.h"
#include "serving/step_sampling.h"

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

std::vector<float> random_logits(int n, std::mt19937& rng, float scale) {
    std::normal_distribution<float> d(0.f, scale);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = d(rng);
    return v;
}

} // namespace

class TestRowSampling : public QObject {
    Q_OBJECT
private slots:
    void greedyIsLowestArgmax() {
        const std::vector<float> x = {1.f, 3.f, -2.f, 3.f, std::numeric_limits<float>::quiet_NaN()};
        QCOMPARE(rl::sample_row_reference(x.data(), 5, rl::row_sampling{}), 1);
        const float ninf = -std::numeric_limits<float>::infinity();
        const std::vector<float> dead = {ninf, ninf};
        QCOMPARE(rl::sample_row_reference(dead.data(), 2, rl::row_sampling{1.f, 0, 1.f, 0.f, 0.5f}), 0);
    }

    void drawMatchesTemperedSoftmaxOverKeptSet() {
        std::mt19937 rng(5);
        const int V = 300;
        for (const rl::row_sampling base : {rl::row_sampling{0.7f, 0, 1.f, 0.f, 0}, rl::row_sampling{1.3f, 25, 1.f, 0.f, 0},
                                            rl::row_sampling{1.f, 0, 0.8f, 0.f, 0}, rl::row_sampling{0.9f, 40, 0.9f, 0.02f, 0}}) {
            std::vector<float> x = random_logits(V, rng, 2.f);
            x[7] = std::numeric_limits<float>::quiet_NaN();
            x[8] = -std::numeric_limits<float>::infinity();
            const uint32_t t = rl::sampling_threshold(x.data(), V, base);
            float mx = -1e30f;
            for (float v : x)
                if (v > mx) mx = v;
            std::vector<double> w(size_t(V), 0.0);
            double W = 0;
            int kept = 0;
            for (int i = 0; i < V; ++i)
                if (rl::sampling_key(x[size_t(i)]) >= t) {
                    w[size_t(i)] = std::exp((double(x[size_t(i)]) - mx) / base.temperature);
                    W += w[size_t(i)];
                    ++kept;
                }
            if (base.top_k > 0) QVERIFY2(kept == base.top_k || (base.top_p < 1.f && kept < base.top_k), std::to_string(kept).c_str());
            QVERIFY(kept >= 1 && rl::sampling_key(x[7]) < t && rl::sampling_key(x[8]) < t);
            const int grid = 50000;
            std::vector<int> count(size_t(V), 0);
            for (int j = 0; j < grid; ++j) {
                rl::row_sampling p = base;
                p.u = float((j + 0.5) / grid);
                const int id = rl::sample_row_reference(x.data(), V, p);
                QVERIFY(id >= 0 && id < V);
                ++count[size_t(id)];
            }
            double worst = 0;
            for (int i = 0; i < V; ++i) worst = std::max(worst, std::fabs(count[size_t(i)] / double(grid) - w[size_t(i)] / W));
            QVERIFY2(worst < 4e-5, ("share vs weight off by " + std::to_string(worst)).c_str());
        }
    }

    // Every token the host sampler (sorted draw, its own RNG) produces is in the kept set.
    void keptSetCoversHostSampler() {
        std::mt19937 rng(6);
        const int V = 400;
        for (const rl::sampling_params sp : {rl::sampling_params{1.f, 30, 1.f, 0.f, 1.f, 64, 1},
                                             rl::sampling_params{1.f, 0, 0.7f, 0.f, 1.f, 64, 2},
                                             rl::sampling_params{0.8f, 50, 0.95f, 0.05f, 1.f, 64, 3}}) {
            const std::vector<float> x = random_logits(V, rng, 1.5f);
            const rl::row_sampling rp{sp.temperature, sp.top_k, sp.top_p, sp.min_p, 0};
            const uint32_t t = rl::sampling_threshold(x.data(), V, rp);
            rl::sampler s(sp);
            std::map<int, int> seen;
            for (int j = 0; j < 20000; ++j) ++seen[s.sample(x.data(), V, {})];
            for (auto [id, n] : seen)
                QVERIFY2(rl::sampling_key(x[size_t(id)]) >= t, ("host drew " + std::to_string(id) + " outside the kept set").c_str());
            int kept = 0;
            for (int i = 0; i < V; ++i) kept += rl::sampling_key(x[size_t(i)]) >= t;
            // And the kept set is not larger than what the host draws from (all kept tokens with
            // any real weight show up in 20,000 draws).
            QVERIFY2(int(seen.size()) >= kept - 3, ("host drew " + std::to_string(seen.size()) + " distinct, kept " + std::to_string(kept)).c_str());
        }
    }

    // One path per step: all greedy -> device argmax; any sampled row -> device draws when the
    // backend can (one uniform per drawing row, greedy rows get u = 0); a row needing host logits -> host.
    void planPicksOnePathPerStep() {
        auto seq = [](uint64_t id, rl::sampling_params p) {
            rl::request r;
            r.prompt = {1, 2};
            r.sampling = p;
            return std::make_unique<rl::sequence>(id, r, rl::clock_type::now());
        };
        auto greedy = seq(1, {}), warm = seq(2, rl::sampling_params{0.8f, 0, 0.9f, 0.f, 1.f, 64, 5}),
             penal = seq(3, rl::sampling_params{0.8f, 0, 1.f, 0.f, 1.3f, 64, 6}), chunk = seq(4, rl::sampling_params{0.8f});
        auto step = [](std::vector<rl::sequence*> s, std::vector<bool> wants) {
            rl::scheduled_step st;
            st.seqs = s;
            st.wants_logits = wants;
            return st;
        };
        QVERIFY(rl::plan_sampling(step({greedy.get()}, {true}), true).path == rl::sample_path::device_greedy);
        // A mid-prefill chunk gets no token, so its settings do not matter.
        QVERIFY(rl::plan_sampling(step({greedy.get(), chunk.get()}, {true, false}), false).path == rl::sample_path::device_greedy);
        const rl::step_sampling d = rl::plan_sampling(step({greedy.get(), warm.get()}, {true, true}), true);
        QVERIFY(d.path == rl::sample_path::device_draw);
        QCOMPARE(int(d.draws.size()), 2);
        QCOMPARE(d.draws[0].temperature, 0.f);
        QCOMPARE(d.draws[0].u, 0.f);
        QCOMPARE(d.draws[1].top_p, 0.9f);
        QVERIFY(d.draws[1].u >= 0.f && d.draws[1].u < 1.f);
        QVERIFY(rl::plan_sampling(step({greedy.get(), warm.get()}, {true, true}), false).path == rl::sample_path::host);
        QVERIFY(rl::plan_sampling(step({warm.get(), penal.get()}, {true, true}), true).path == rl::sample_path::host);
        // Log-probabilities, OpenAI's penalties and a logit bias need the whole row on the host,
        // even for a greedy row.
        auto greedy_lp = seq(5, {});
        greedy_lp->req.logprobs = 0;
        QVERIFY(rl::plan_sampling(step({greedy_lp.get()}, {true}), true).path == rl::sample_path::host);
        rl::sampling_params pp;
        pp.presence_penalty = 0.5f;
        auto presence = seq(6, pp);
        QVERIFY(rl::plan_sampling(step({warm.get(), presence.get()}, {true, true}), true).path == rl::sample_path::host);
        rl::sampling_params bp;
        bp.temperature = 0.8f;
        bp.logit_bias = {{1, 2.f}};
        auto biased = seq(7, bp);
        QVERIFY(rl::plan_sampling(step({biased.get()}, {true}), true).path == rl::sample_path::host);
    }

    void uniformStaysBelowOne() {
        rl::sampler s(rl::sampling_params{1.f, 0, 1.f, 0.f, 1.f, 64, 42});
        rl::sampler s2(rl::sampling_params{1.f, 0, 1.f, 0.f, 1.f, 64, 42});
        double sum = 0;
        for (int i = 0; i < 10000; ++i) {
            const float u = s.uniform();
            QVERIFY(u >= 0.f && u < 1.f);
            QCOMPARE(u, s2.uniform());  // seeded: the same stream
            sum += u;
        }
        QVERIFY(std::fabs(sum / 10000 - 0.5) < 0.02);
    }
};

RL_TEST_MAIN(TestRowSampling, greedyIsLowestArgmax, drawMatchesTemperedSoftmaxOverKeptSet, keptSetCoversHostSampler,
             planPicksOnePathPerStep, uniformStaysBelowOne)
#include "test_row_sampling.moc"
