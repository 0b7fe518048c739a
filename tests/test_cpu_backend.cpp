// test_cpu_backend: every cpu_backend op against a naive double-precision reference on random
// inputs, the paged KV pool against dense causal attention (shuffled block tables, mixed
// prefill/decode batches, GQA, chunked prefill), rope scaling, and the error paths.
#include "rl_test.h"

#include "backend/cpu_backend.h"
#include "common/engine_error.h"
#include "model/model_config.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

using namespace rl;

namespace {

std::vector<float> randv(size_t n, uint64_t seed, float scale = 1.f) {
    std::mt19937_64 g(seed);
    std::normal_distribution<float> d(0.f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

tensor make(backend& be, int64_t rows, int64_t cols, const std::vector<float>& host) {
    tensor t = be.alloc(rows, cols, dtype::f32);
    be.upload(t, host.data());
    return t;
}

std::vector<float> get(backend& be, const tensor& t) {
    std::vector<float> v(size_t(t.numel()));
    be.download(t, v.data());
    return v;
}

double max_rel_err(const std::vector<float>& got, const std::vector<double>& want) {
    double m = 0;
    for (size_t i = 0; i < got.size(); ++i) m = std::max(m, std::fabs(got[i] - want[i]) / std::max(1.0, std::fabs(want[i])));
    return m;
}

// A batch of contiguous sequences: seq s has n_tokens[s] rows starting at position start[s].
step_input make_step(const std::vector<int>& n_tokens, const std::vector<int>& start,
                     const std::vector<std::vector<int32_t>>& tables) {
    step_input in;
    for (size_t s = 0; s < n_tokens.size(); ++s) {
        seq_slice q;
        q.token_begin = in.n_tokens();
        q.n_tokens = n_tokens[s];
        q.start_pos = start[s];
        q.block_table = tables[s];
        for (int i = 0; i < n_tokens[s]; ++i) {
            in.tokens.push_back(0);
            in.positions.push_back(start[s] + i);
        }
        in.seqs.push_back(q);
    }
    return in;
}

// Dense causal attention, double precision: q [ctx, H*hd] rows at positions 0..ctx-1.
std::vector<double> dense_attention(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                                    int first, int count, int H, int G, int hd) {
    std::vector<double> out(size_t(count) * H * hd, 0.0);
    const double scale = 1.0 / std::sqrt(double(hd));
    for (int t = 0; t < count; ++t) {
        const int p = first + t;
        for (int h = 0; h < H; ++h) {
            const int g = h / (H / G);
            std::vector<double> s(size_t(p + 1));
            double mx = -1e300, z = 0;
            for (int j = 0; j <= p; ++j) {
                double d = 0;
                for (int i = 0; i < hd; ++i) d += double(q[size_t(p) * H * hd + h * hd + i]) * k[size_t(j) * G * hd + g * hd + i];
                s[size_t(j)] = d * scale;
                mx = std::max(mx, s[size_t(j)]);
            }
            for (auto& x : s) z += (x = std::exp(x - mx));
            for (int j = 0; j <= p; ++j)
                for (int i = 0; i < hd; ++i)
                    out[size_t(t) * H * hd + h * hd + i] += s[size_t(j)] / z * v[size_t(j) * G * hd + g * hd + i];
        }
    }
    return out;
}

// Copies rows [first, first+count) of a [*, cols] matrix.
std::vector<float> rows_of(const std::vector<float>& m, int cols, int first, int count) {
    return {m.begin() + ptrdiff_t(first) * cols, m.begin() + ptrdiff_t(first + count) * cols};
}

} // namespace

class TestCpuBackend : public QObject {
    Q_OBJECT
private slots:
    void matmulOddShapes();
    void rmsNormMatchesReference();
    void ropeBothModes();
    void llama3RopeScaling();
    void siluMulAndElementwise();
    void pagedAttentionMatchesDense();
    void chunkedPrefillEqualsOneShot();
    void kvPoolTooLargeThrows();
    void shapeMismatchThrows();
    void windowedAttentionIgnoresFreedBlocks();
};

void TestCpuBackend::matmulOddShapes() {
    cpu_backend be(2);
    const int shapes[][3] = {{1, 1, 1}, {1, 576, 49}, {3, 7, 5}, {5, 33, 13}, {17, 100, 130}, {50, 64, 9}, {2, 1536, 7}};
    uint64_t seed = 1;
    for (const auto& s : shapes) {
        const int n = s[0], k = s[1], m = s[2];
        const auto xh = randv(size_t(n) * k, seed++), wh = randv(size_t(m) * k, seed++);
        tensor x = make(be, n, k, xh), w = make(be, m, k, wh), o = be.alloc(n, m, dtype::f32);
        be.matmul(x, w, o);
        std::vector<double> ref(size_t(n) * m);
        for (int i = 0; i < n; ++i)
            for (int j = 0; j < m; ++j) {
                double a = 0;
                for (int t = 0; t < k; ++t) a += double(xh[size_t(i) * k + t]) * wh[size_t(j) * k + t];
                ref[size_t(i) * m + j] = a;
            }
        const double err = max_rel_err(get(be, o), ref) / std::sqrt(double(k));
        QVERIFY2(err < 1e-6, std::string("matmul " + std::to_string(n) + "x" + std::to_string(k) + "x" + std::to_string(m) +
                                 " error " + std::to_string(err)).c_str());
        be.release(x), be.release(w), be.release(o);
    }
}

void TestCpuBackend::rmsNormMatchesReference() {
    cpu_backend be(2);
    const int n = 7, d = 99;
    const auto xh = randv(size_t(n) * d, 11, 3.f), wh = randv(d, 12);
    tensor x = make(be, n, d, xh), w = make(be, 1, d, wh), o = be.alloc(n, d, dtype::f32);
    be.rms_norm(x, w, 1e-5f, o);
    std::vector<double> ref(size_t(n) * d);
    for (int i = 0; i < n; ++i) {
        double ss = 0;
        for (int j = 0; j < d; ++j) ss += double(xh[size_t(i) * d + j]) * xh[size_t(i) * d + j];
        const double s = 1.0 / std::sqrt(ss / d + 1e-5);
        for (int j = 0; j < d; ++j) ref[size_t(i) * d + j] = xh[size_t(i) * d + j] * s * wh[size_t(j)];
    }
    QVERIFY(max_rel_err(get(be, o), ref) < 1e-5);
    for (tensor* t : {&x, &w, &o}) be.release(*t);  // the owner frees (LeakSanitizer, scripts/asan-check)
}

void TestCpuBackend::ropeBothModes() {
    cpu_backend be(2);
    const int H = 3, hd = 16, rd = 12, n = 5;  // partial rotary: the last 4 dims stay put
    std::vector<float> inv(rd / 2);
    for (int i = 0; i < rd / 2; ++i) inv[size_t(i)] = float(std::pow(10000.0, -2.0 * i / rd));
    for (bool neox : {false, true}) {
        step_input in = make_step({n}, {37}, {{0, 1, 2, 3}});
        be.set_step(in);
        const auto xh = randv(size_t(n) * H * hd, neox ? 21 : 22);
        tensor x = make(be, n, H * hd, xh);
        be.rope(x, rope_params{H, hd, rd, neox, &inv});
        std::vector<double> ref(xh.begin(), xh.end());
        for (int r = 0; r < n; ++r)
            for (int h = 0; h < H; ++h)
                for (int i = 0; i < rd / 2; ++i) {
                    const double th = (37 + r) * double(inv[size_t(i)]);
                    const size_t base = size_t(r) * H * hd + size_t(h) * hd;
                    const size_t a = base + size_t(neox ? i : 2 * i), b = base + size_t(neox ? i + rd / 2 : 2 * i + 1);
                    ref[a] = xh[a] * std::cos(th) - xh[b] * std::sin(th);
                    ref[b] = xh[a] * std::sin(th) + xh[b] * std::cos(th);
                }
        QVERIFY2(max_rel_err(get(be, x), ref) < 1e-5, std::string(neox ? "neox" : "normal").c_str());
        be.release(x);
    }
}

void TestCpuBackend::llama3RopeScaling() {
    model_config c;
    c.rope_dim = 128;
    c.rope_theta = 500000.f;
    c.rope_scaling = rope_scaling_type::llama3;
    c.rope_factor = 8.f;
    c.rope_low_freq_factor = 1.f;
    c.rope_high_freq_factor = 4.f;
    c.rope_original_context = 8192;
    const auto inv = c.rope_inv_freq();
    QCOMPARE(int(inv.size()), 64);
    const double pi = 3.14159265358979323846;
    int kept = 0, divided = 0, blended = 0;
    for (int i = 0; i < 64; ++i) {
        const double f = std::pow(500000.0, -2.0 * i / 128), wl = 2 * pi / f;
        double want;
        if (wl < 8192 / 4.0) want = f, ++kept;
        else if (wl > 8192 / 1.0) want = f / 8, ++divided;
        else {
            const double sm = (8192 / wl - 1) / (4 - 1);
            want = (1 - sm) * f / 8 + sm * f, ++blended;
        }
        QVERIFY2(std::fabs(inv[size_t(i)] - want) <= 1e-6 * want, std::string("pair " + std::to_string(i)).c_str());
    }
    QVERIFY(kept > 0 && divided > 0 && blended > 0);  // all three regimes exercised
    QCOMPARE(inv[0], 1.f);
    c.rope_scaling = rope_scaling_type::linear;
    c.rope_factor = 4.f;
    QVERIFY(std::fabs(c.rope_inv_freq()[10] - float(std::pow(500000.0, -20.0 / 128) / 4)) < 1e-9);
    c.rope_scaling = rope_scaling_type::none;
    c.rope_freq_factors.assign(64, 2.f);  // a rope_freqs tensor divides each frequency
    QVERIFY(std::fabs(c.rope_inv_freq()[10] - float(std::pow(500000.0, -20.0 / 128) / 2)) < 1e-9);
}

void TestCpuBackend::siluMulAndElementwise() {
    cpu_backend be(2);
    const int n = 4, d = 4099;
    const auto gh = randv(size_t(n) * d, 31, 4.f), uh = randv(size_t(n) * d, 32), bh = randv(d, 33);
    tensor g = make(be, n, d, gh), u = make(be, n, d, uh), o = be.alloc(n, d, dtype::f32), b = make(be, 1, d, bh);
    be.silu_mul(g, u, o);
    std::vector<double> ref(gh.size());
    for (size_t i = 0; i < gh.size(); ++i) ref[i] = gh[i] / (1.0 + std::exp(-double(gh[i]))) * uh[i];
    QVERIFY(max_rel_err(get(be, o), ref) < 1e-6);
    be.add(o, u);
    be.add_bias(o, b);
    for (size_t i = 0; i < ref.size(); ++i) ref[i] += double(uh[i]) + bh[i % size_t(d)];
    QVERIFY(max_rel_err(get(be, o), ref) < 1e-6);
    // embed + gather through a step
    step_input in = make_step({3}, {0}, {{0}});
    in.tokens = {2, 0, 3};
    in.logit_rows = {2, 0};
    be.set_step(in);
    const auto th = randv(size_t(4) * 8, 34);
    tensor table = make(be, 4, 8, th), e = be.alloc(3, 8, dtype::f32), gat = be.alloc(2, 8, dtype::f32);
    be.embed(table, e);
    be.gather_logit_rows(e, gat);
    const auto gv = get(be, gat);
    for (int j = 0; j < 8; ++j) {
        QCOMPARE(gv[size_t(j)], th[size_t(3 * 8 + j)]);
        QCOMPARE(gv[size_t(8 + j)], th[size_t(2 * 8 + j)]);
    }
    for (tensor* t : {&g, &u, &o, &b, &table, &e, &gat}) be.release(*t);
}

void TestCpuBackend::pagedAttentionMatchesDense() {
    // 6 q heads over 2 kv heads (GQA), block size 4, 3 sequences with their own shuffled blocks:
    // A prefills 7 tokens from 0; B decodes position 10; C prefills a chunk at positions 3..7.
    const int H = 6, G = 2, hd = 32, bs = 4;
    cpu_backend be(2);
    be.alloc_kv(kv_cache_layout{2, 16, bs, G, hd});
    std::vector<int32_t> ids(16);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), std::mt19937_64(5));
    const std::vector<std::vector<int32_t>> tables = {{ids[0], ids[1]}, {ids[2], ids[3], ids[4]}, {ids[5], ids[6]}};
    const std::vector<int> len = {7, 11, 8};  // full context of each sequence
    std::vector<std::vector<float>> Q, K, V;
    for (int s = 0; s < 3; ++s) {
        Q.push_back(randv(size_t(len[s]) * H * hd, 100 + s));
        K.push_back(randv(size_t(len[s]) * G * hd, 200 + s));
        V.push_back(randv(size_t(len[s]) * G * hd, 300 + s));
    }
    const int layer = 1;
    auto store = [&](const std::vector<int>& n, const std::vector<int>& start, const std::vector<int>& which) {
        step_input in = make_step(n, start, [&] {
            std::vector<std::vector<int32_t>> t;
            for (int w : which) t.push_back(tables[size_t(w)]);
            return t;
        }());
        be.set_step(in);
        std::vector<float> kh, vh;
        for (size_t i = 0; i < which.size(); ++i) {
            const auto kr = rows_of(K[size_t(which[i])], G * hd, start[i], n[i]), vr = rows_of(V[size_t(which[i])], G * hd, start[i], n[i]);
            kh.insert(kh.end(), kr.begin(), kr.end());
            vh.insert(vh.end(), vr.begin(), vr.end());
        }
        tensor k = make(be, in.n_tokens(), G * hd, kh), v = make(be, in.n_tokens(), G * hd, vh);
        be.kv_store(layer, k, v);
        be.release(k), be.release(v);
    };
    store({10, 3}, {0, 0}, {1, 2});  // history: B's first 10 positions, C's first 3
    store({7, 1, 5}, {0, 10, 3}, {0, 1, 2});  // this step's K/V (set_step stays in force)
    std::vector<float> qh;
    const int first[] = {0, 10, 3}, count[] = {7, 1, 5};
    for (int s = 0; s < 3; ++s) {
        const auto r = rows_of(Q[size_t(s)], H * hd, first[s], count[s]);
        qh.insert(qh.end(), r.begin(), r.end());
    }
    tensor q = make(be, 13, H * hd, qh), o = be.alloc(13, H * hd, dtype::f32);
    be.attention(layer, q, o, H, G, hd, 1.f / std::sqrt(float(hd)));
    const auto got = get(be, o);
    size_t row = 0;
    for (int s = 0; s < 3; ++s) {
        const auto ref = dense_attention(Q[size_t(s)], K[size_t(s)], V[size_t(s)], first[s], count[s], H, G, hd);
        const std::vector<float> mine(got.begin() + ptrdiff_t(row * H * hd), got.begin() + ptrdiff_t((row + size_t(count[s])) * H * hd));
        QVERIFY2(max_rel_err(mine, ref) < 1e-5, std::string("sequence " + std::to_string(s)).c_str());
        row += size_t(count[s]);
    }
    be.release(q), be.release(o);
}

void TestCpuBackend::chunkedPrefillEqualsOneShot() {
    const int H = 4, G = 4, hd = 16, bs = 8, n = 12;
    const auto qh = randv(size_t(n) * H * hd, 41), kh = randv(size_t(n) * G * hd, 42), vh = randv(size_t(n) * G * hd, 43);
    auto run = [&](const std::vector<std::pair<int, int>>& chunks) {
        cpu_backend be(2);
        be.alloc_kv(kv_cache_layout{1, 4, bs, G, hd});
        std::vector<float> out;
        for (auto [first, count] : chunks) {
            be.set_step(make_step({count}, {first}, {{3, 1}}));
            tensor q = make(be, count, H * hd, rows_of(qh, H * hd, first, count));
            tensor k = make(be, count, G * hd, rows_of(kh, G * hd, first, count));
            tensor v = make(be, count, G * hd, rows_of(vh, G * hd, first, count));
            tensor o = be.alloc(count, H * hd, dtype::f32);
            be.kv_store(0, k, v);
            be.attention(0, q, o, H, G, hd, 0.25f);
            const auto r = get(be, o);
            out.insert(out.end(), r.begin(), r.end());
            for (tensor* t : {&q, &k, &v, &o}) be.release(*t);
        }
        return out;
    };
    const auto one = run({{0, n}}), two = run({{0, 5}, {5, 7}});
    QCOMPARE(one.size(), two.size());
    for (size_t i = 0; i < one.size(); ++i) QVERIFY2(std::fabs(one[i] - two[i]) < 1e-6, std::string(std::to_string(i)).c_str());
}

void TestCpuBackend::kvPoolTooLargeThrows() {
    cpu_backend be(1);
    bool threw = false;
    try {
        be.alloc_kv(kv_cache_layout{1000, 1 << 20, 256, 64, 128});  // ~16 PiB
    } catch (const engine_error& e) {
        threw = true;
        const std::string msg = e.what();
        QVERIFY2(msg.find("exceeds available memory") != std::string::npos && msg.find("MiB") != std::string::npos, std::string(msg).c_str());
    }
    QVERIFY(threw);
    QVERIFY(be.info().kind == "cpu");
    QCOMPARE(be.info().compute_units, 1);
    QVERIFY(!be.info().name.empty());
}

void TestCpuBackend::shapeMismatchThrows() {
    cpu_backend be(2);
    tensor x = be.alloc(2, 5, dtype::f32), w = be.alloc(3, 6, dtype::f32), o = be.alloc(2, 3, dtype::f32);
    bool threw = false;
    try { be.matmul(x, w, o); } catch (const engine_error&) { threw = true; }
    QVERIFY(threw);
    threw = false;
    be.set_step(make_step({2}, {0}, {{0}}));
    try { be.kv_store(0, x, x); } catch (const engine_error& e) { threw = std::string(e.what()).find("KV pool") != std::string::npos; }
    QVERIFY(threw);
    threw = false;
    step_input bad = make_step({2}, {0}, {{0}});
    bad.positions[1] = 5;  // disagrees with start_pos
    try { be.set_step(bad); } catch (const engine_error&) { threw = true; }
    QVERIFY(threw);
    for (tensor* t : {&x, &w, &o}) be.release(*t);
}

// A step whose table has -1 for blocks behind the window (the scheduler freed them) gives the
// same windowed attention as the whole table; a layer that would look behind the window, or a -1
// the window still sees, is refused.
void TestCpuBackend::windowedAttentionIgnoresFreedBlocks() {
    const int H = 2, G = 1, hd = 16, bs = 4, n = 30, window = 9;
    const auto qh = randv(size_t(n) * H * hd, 51), kh = randv(size_t(n) * G * hd, 52), vh = randv(size_t(n) * G * hd, 53);
    const std::vector<int32_t> table = {7, 2, 5, 0, 3, 6, 1, 4};   // 8 blocks: 32 positions
    struct Owned {   // releases the tensors also when an op throws (LeakSanitizer)
        cpu_backend& be;
        std::vector<tensor*> ts;
        ~Owned() { for (tensor* t : ts) be.release(*t); }
    };
    auto run = [&](bool freed, int attnWindow) {
        cpu_backend be(2);
        be.alloc_kv(kv_cache_layout{1, 8, bs, G, hd});
        tensor k = make(be, 26, G * hd, rows_of(kh, G * hd, 0, 26)), v = make(be, 26, G * hd, rows_of(vh, G * hd, 0, 26));
        tensor q = make(be, 4, H * hd, rows_of(qh, H * hd, 26, 4));
        tensor k2 = make(be, 4, G * hd, rows_of(kh, G * hd, 26, 4)), v2 = make(be, 4, G * hd, rows_of(vh, G * hd, 26, 4));
        tensor o = be.alloc(4, H * hd, dtype::f32);
        Owned own{be, {&k, &v, &q, &k2, &v2, &o}};
        // Positions 0..25 first, with the whole table; then the last 4 as a decode-like step.
        be.set_step(make_step({26}, {0}, {table}));
        be.kv_store(0, k, v);
        step_input second = make_step({4}, {26}, {table});
        if (freed) {   // the next query sees positions > 26 - 9 = 17: blocks 0..3 (0..15) may go
            second.kv_window = window;
            for (int b = 0; b < 4; ++b) second.seqs[0].block_table[size_t(b)] = -1;
        }
        be.set_step(second);
        be.kv_store(0, k2, v2);
        be.attention(0, q, o, H, G, hd, 0.25f, attnWindow);
        return get(be, o);
    };
    const auto whole = run(false, window), freed = run(true, window);
    QCOMPARE(whole.size(), freed.size());
    for (size_t i = 0; i < whole.size(); ++i) QCOMPARE(freed[i], whole[i]);
    bool refused = false;
    try { run(true, 0); } catch (const engine_error& e) { refused = std::string(e.what()).find("window") != std::string::npos; }
    QVERIFY(refused);   // a global layer would read the freed blocks
    refused = false;
    try {   // a -1 inside the window
        cpu_backend be(2);
        be.alloc_kv(kv_cache_layout{1, 8, bs, G, hd});
        step_input st = make_step({1}, {26}, {table});
        st.kv_window = window;
        st.seqs[0].block_table[4] = -1;   // positions 16..19: 17..19 are still seen
        be.set_step(st);
        tensor k = make(be, 1, G * hd, rows_of(kh, G * hd, 26, 1));
        Owned own{be, {&k}};
        be.kv_store(0, k, k);   // the KV ops check the step's tables
    } catch (const engine_error& e) { refused = std::string(e.what()).find("outside the KV pool") != std::string::npos; }
    QVERIFY(refused);
}

RL_TEST_MAIN(TestCpuBackend, matmulOddShapes, rmsNormMatchesReference, ropeBothModes, llama3RopeScaling,
             siluMulAndElementwise, pagedAttentionMatchesDense, chunkedPrefillEqualsOneShot, kvPoolTooLargeThrows,
             shapeMismatchThrows, windowedAttentionIgnoresFreedBlocks)
#include "test_cpu_backend.moc"
