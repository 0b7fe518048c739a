// test_sampler: greedy, seeding, each filter (top-k, top-p, min-p, repetition penalty), OpenAI's
// presence and frequency penalties and logit bias, log-probabilities against a hand calculation,
// a constraint's mask, the temperature-scaled distribution over many draws, validate()'s messages.
#include "rl_test.h"

#include "common/engine_error.h"
#include "serving/sampler.h"

#include <cmath>
#include <random>
#include <vector>

using namespace rl;

namespace {

std::vector<float> random_logits(int n, uint64_t seed) {
    std::mt19937_64 g(seed);
    std::normal_distribution<float> d(0.f, 3.f);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = d(g);
    return v;
}

int argmax(const std::vector<float>& v) {
    int b = 0;
    for (int i = 1; i < int(v.size()); ++i)
        if (v[size_t(i)] > v[size_t(b)]) b = i;
    return b;
}

std::vector<int32_t> draw(sampling_params p, const std::vector<float>& logits, int n) {
    sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) out.push_back(s.sample(logits.data(), int(logits.size()), {}));
    return out;
}

} // namespace

class TestSampler : public QObject {
    Q_OBJECT
private slots:
    void greedyIsArgmax();
    void seedIsDeterministic();
    void topKOneIsGreedy();
    void tinyTopPIsGreedy();
    void minPFilters();
    void repetitionPenaltyChangesChoice();
    void temperatureMatchesSoftmax();
    void validateMessages();
    void presenceAndFrequencyPenalties();
    void logitBias();
    void logprobsByHand();
    void logprobsNeverChangeTheDraw();
    void constraintMasks();
};

void TestSampler::greedyIsArgmax() {
    const auto l = random_logits(151936, 1);
    sampler s(sampling_params{});
    QCOMPARE(int(s.sample(l.data(), int(l.size()), {})), argmax(l));
    const std::vector<float> tie = {1.f, 5.f, 2.f, 5.f};
    QCOMPARE(int(s.sample(tie.data(), 4, {})), 1);  // ties go to the lowest id
}

void TestSampler::seedIsDeterministic() {
    const auto l = random_logits(50000, 2);
    sampling_params p;
    p.temperature = 1.5f;
    p.seed = 42;
    const auto a = draw(p, l, 64), b = draw(p, l, 64);
    QVERIFY(a == b);
    p.seed = 43;
    QVERIFY(draw(p, l, 64) != a);
}

void TestSampler::topKOneIsGreedy() {
    const auto l = random_logits(49152, 3);
    sampling_params p;
    p.temperature = 5.f;
    p.top_k = 1;
    for (int32_t t : draw(p, l, 32)) QCOMPARE(int(t), argmax(l));
}

void TestSampler::tinyTopPIsGreedy() {
    const auto l = random_logits(151936, 4);
    sampling_params p;
    p.temperature = 2.f;
    p.top_p = 1e-6f;
    for (int32_t t : draw(p, l, 32)) QCOMPARE(int(t), argmax(l));
    // top_p that needs more than the first sorted prefix still only returns tokens inside it
    p.top_p = 0.999f;
    p.temperature = 1.f;
    QVERIFY(!draw(p, l, 8).empty());
}

void TestSampler::minPFilters() {
    // Probabilities ~ {0.5, 0.25, 0.125, ...}: min_p 0.3 keeps ids 0 and 1 only.
    std::vector<float> l;
    for (int i = 0; i < 12; ++i) l.push_back(-float(i) * std::log(2.f));
    sampling_params p;
    p.temperature = 1.f;
    p.min_p = 0.3f;
    bool saw0 = false, saw1 = false;
    for (int32_t t : draw(p, l, 400)) {
        QVERIFY2(t == 0 || t == 1, std::string("min_p let through id " + std::to_string(t)).c_str());
        saw0 |= t == 0;
        saw1 |= t == 1;
    }
    QVERIFY(saw0 && saw1);
}

void TestSampler::repetitionPenaltyChangesChoice() {
    const std::vector<float> l = {0.1f, 2.0f, 1.8f, -1.f};
    sampling_params p;
    sampler plain(p);
    QCOMPARE(int(plain.sample(l.data(), 4, {1})), 1);
    p.repetition_penalty = 1.3f;  // 2.0 / 1.3 = 1.54 < 1.8
    sampler pen(p);
    QCOMPARE(int(pen.sample(l.data(), 4, {1})), 2);
    QCOMPARE(int(pen.sample(l.data(), 4, {3, 0})), 1);  // other tokens penalised: choice stays
    p.repetition_window = 1;  // token 1 falls outside the window
    sampler win(p);
    QCOMPARE(int(win.sample(l.data(), 4, {1, 3})), 1);
    // Negative logits get multiplied: with everything repeated the order can flip towards 0.1.
    p.repetition_window = 64;
    p.temperature = 1e-3f;  // near-greedy through the sampling path
    p.repetition_penalty = 25.f;
    sampler hard(p);
    QCOMPARE(int(hard.sample(l.data(), 4, {1, 2})), 0);
}

void TestSampler::temperatureMatchesSoftmax() {
    const std::vector<float> l = {1.f, 0.f, 2.f, -1.f, 0.5f};
    sampling_params p;
    p.temperature = 0.7f;
    p.seed = 7;
    const int n = 40000;
    std::vector<int> count(l.size(), 0);
    for (int32_t t : draw(p, l, n)) ++count[size_t(t)];
    double z = 0;
    for (float x : l) z += std::exp(x / 0.7);
    for (size_t i = 0; i < l.size(); ++i) {
        const double want = std::exp(l[i] / 0.7) / z, got = double(count[i]) / n;
        const double sigma = std::sqrt(want * (1 - want) / n);
        QVERIFY2(std::fabs(got - want) < 6 * sigma + 1e-3, std::string("id " + std::to_string(i) + ": " + std::to_string(got) + " vs " + std::to_string(want)).c_str());
    }
}

void TestSampler::validateMessages() {
    QVERIFY(validate(sampling_params{}).empty());
    auto msg = [](auto mut) {
        sampling_params p;
        mut(p);
        return validate(p);
    };
    QVERIFY(msg([](sampling_params& p) { p.temperature = -1.f; }).find("temperature") != std::string::npos);
    QVERIFY(msg([](sampling_params& p) { p.top_p = 0.f; }).find("top_p") != std::string::npos);
    QVERIFY(msg([](sampling_params& p) { p.top_p = 1.5f; }).find("top_p") != std::string::npos);
    QVERIFY(msg([](sampling_params& p) { p.min_p = 1.f; }).find("min_p") != std::string::npos);
    QVERIFY(msg([](sampling_params& p) { p.top_k = -2; }).find("top_k") != std::string::npos);
    QVERIFY(msg([](sampling_params& p) { p.repetition_penalty = 0.f; }).find("repetition_penalty") != std::string::npos);
    QVERIFY(msg([](sampling_params& p) { p.temperature = NAN; }).find("temperature") != std::string::npos);
    bool threw = false;
    sampling_params bad;
    bad.top_k = -1;
    try { sampler s(bad); } catch (const engine_error&) { threw = true; }
    QVERIFY(threw);
}

void TestSampler::presenceAndFrequencyPenalties() {
    // Logits {3, 2.5, 2, 0}; prompt [1], generated [0, 0, 2].
    // OpenAI: l[j] -= count[j] * frequency + (count[j] > 0) * presence, over generated tokens only.
    const std::vector<float> l = {3.f, 2.5f, 2.f, 0.f};
    const std::vector<int32_t> hist = {1, 0, 0, 2};
    sample_context ctx;
    ctx.n_prompt = 1;
    token_logprobs lp;
    ctx.logprobs = &lp;
    ctx.top_logprobs = 4;
    sampling_params p;
    p.presence_penalty = 0.4f;   // token 0: 3 - 0.4 - 2*0.3 = 2.0; token 2: 2 - 0.4 - 0.3 = 1.3
    p.frequency_penalty = 0.3f;  // token 1 is only in the prompt: stays 2.5 and wins
    sampler s(p);
    QCOMPARE(int(s.sample(l.data(), 4, hist, ctx)), 1);
    // Greedy log-probabilities are at temperature 1 over the penalised logits {2.0, 2.5, 1.3, 0}.
    const double z = std::exp(2.0) + std::exp(2.5) + std::exp(1.3) + std::exp(0.0);
    QCOMPARE(int(lp.top.size()), 4);
    QCOMPARE(int(lp.top[1].first), 0);
    QVERIFY(std::fabs(lp.top[1].second - float(2.0 - std::log(z))) < 1e-5f);
    QCOMPARE(int(lp.top[2].first), 2);
    QVERIFY(std::fabs(lp.top[2].second - float(1.3 - std::log(z))) < 1e-5f);
    // The same history with every token counted as prompt: no penalty, token 0 wins.
    ctx.n_prompt = hist.size();
    QCOMPARE(int(s.sample(l.data(), 4, hist, ctx)), 0);
    // A negative penalty encourages repeats: token 2 becomes 2 + 1.0 + 0.5 = 3.5 > 3.
    p.presence_penalty = -1.f;
    p.frequency_penalty = -0.5f;
    sampler enc(p);
    QCOMPARE(int(enc.sample(l.data(), 4, {2})), 2);
    QCOMPARE(int(enc.sample(l.data(), 4, {2}, sample_context{1})), 0);  // token 2 in the prompt
}

void TestSampler::logitBias() {
    const std::vector<float> l = {1.f, 0.f, 2.f, -1.f};
    sampling_params p;
    p.logit_bias = {{2, -100.f}, {3, 2.5f}};  // 2 -> -98, 3 -> 1.5: the argmax moves to 3
    sampler s(p);
    QCOMPARE(int(s.sample(l.data(), 4, {})), 3);
    p.logit_bias = {{0, 1.5f}};
    sampler t(p);
    QCOMPARE(int(t.sample(l.data(), 4, {})), 0);
}

void TestSampler::logprobsByHand() {
    const std::vector<float> l = {1.f, 0.f, 2.f, -1.f, 0.5f};
    // Temperature 0.5, top-k 3 keeps {2, 0, 4}: lp(i) = (l_i - 2) / 0.5 - log(sum over kept).
    sampling_params p;
    p.temperature = 0.5f;
    p.top_k = 3;
    p.seed = 11;
    sampler s(p);
    token_logprobs lp;
    sample_context ctx;
    ctx.top_logprobs = 5;
    ctx.logprobs = &lp;
    const int32_t t = s.sample(l.data(), 5, {}, ctx);
    const double z = std::exp(0.0) + std::exp(-2.0) + std::exp(-3.0);
    auto want = [&](int id) { return float((l[size_t(id)] - 2.0) / 0.5 - std::log(z)); };
    QVERIFY(t == 2 || t == 0 || t == 4);
    QVERIFY(std::fabs(lp.logprob - want(t)) < 1e-5f);
    QCOMPARE(int(lp.top.size()), 3);  // only what top-k kept is listed
    const int order[] = {2, 0, 4};
    for (int i = 0; i < 3; ++i) {
        QCOMPARE(int(lp.top[size_t(i)].first), order[i]);
        QVERIFY(std::fabs(lp.top[size_t(i)].second - want(order[i])) < 1e-5f);
    }
    double mass = 0;
    for (auto& [id, v] : lp.top) mass += std::exp(double(v));
    QVERIFY(std::fabs(mass - 1.0) < 1e-5);
    // top_logprobs 0: the chosen token's log-probability and no alternatives.
    ctx.top_logprobs = 0;
    s.sample(l.data(), 5, {}, ctx);
    QVERIFY(lp.top.empty());
    QVERIFY(lp.logprob <= 0.f);
}

void TestSampler::logprobsNeverChangeTheDraw() {
    const auto l = random_logits(49152, 9);
    sampling_params p;
    p.temperature = 1.f;
    p.top_p = 0.9f;
    p.seed = 5;
    sampler a(p), b(p);
    token_logprobs lp;
    sample_context ctx;
    ctx.top_logprobs = 20;
    ctx.logprobs = &lp;
    for (int i = 0; i < 64; ++i) {
        const int32_t x = a.sample(l.data(), int(l.size()), {});
        QCOMPARE(int(b.sample(l.data(), int(l.size()), {}, ctx)), int(x));
        QCOMPARE(int(lp.top.size()), 20);
        QVERIFY(lp.top[0].second >= lp.top[19].second);
    }
}

namespace {
struct only_odd : token_constraint {
    std::vector<int32_t> seen;
    void mask(float* logits, int n) override {
        for (int i = 0; i < n; i += 2) logits[i] = -INFINITY;
    }
    void accept(int32_t t) override { seen.push_back(t); }
};
} // namespace

void TestSampler::constraintMasks() {
    const auto l = random_logits(1000, 10);
    only_odd c;
    sample_context ctx;
    ctx.constraint = &c;
    token_logprobs lp;
    ctx.top_logprobs = 8;
    ctx.logprobs = &lp;
    sampling_params p;
    p.temperature = 1.f;
    sampler s(p);
    for (int i = 0; i < 50; ++i) {
        QVERIFY(s.sample(l.data(), 1000, {}, ctx) % 2 == 1);
        for (auto& [id, v] : lp.top) QVERIFY(id % 2 == 1 && std::isfinite(v));
    }
}

RL_TEST_MAIN(TestSampler, greedyIsArgmax, seedIsDeterministic, topKOneIsGreedy, tinyTopPIsGreedy, minPFilters,
             repetitionPenaltyChangesChoice, temperatureMatchesSoftmax, validateMessages,
             presenceAndFrequencyPenalties, logitBias, logprobsByHand, logprobsNeverChangeTheDraw, constraintMasks)
#include "test_sampler.moc"
