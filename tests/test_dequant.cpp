// test_dequant: the ggml block formats and fp16/bf16 conversions (engine/gguf/dequant.cpp).
// Each format is checked on a hand-packed block whose expected values come from the format's
// definition (packed here, independently of the decoder), then against gguf-py golden rows
// (tests/golden/gen_dequant_golden.py -> dequant_rows.json), bit for bit.
#include "rl_test.h"

#include "common/engine_error.h"
#include "gguf/dequant.h"
#include "gguf/ggml_types.h"

#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

using rl::ggml_type;

namespace {

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const rl::engine_error& e) {
        return e.what();
    } catch (...) {
        return "<non-engine exception>";
    }
    return "<no error>";
}

uint32_t bits(float f) { return std::bit_cast<uint32_t>(f); }

void put16(std::vector<uint8_t>& b, size_t off, uint16_t v) { std::memcpy(b.data() + off, &v, 2); }

// Exact half constants (sign|exp|mant written out), so no conversion code is trusted here.
constexpr uint16_t h_0_125 = 0x3000, h_0_25 = 0x3400, h_0_5 = 0x3800, h_m1 = 0xbc00, h_2 = 0x4000;

std::vector<float> run(ggml_type t, const std::vector<uint8_t>& block, int64_t n) {
    std::vector<float> y(static_cast<size_t>(n), -12345.0f);
    rl::dequantize_row(t, block.data(), y.data(), n);
    return y;
}

// Compares element by element; names the first mismatch.
std::string mismatch(const std::vector<float>& got, const std::vector<float>& want) {
    for (size_t i = 0; i < want.size(); ++i)
        if (bits(got[i]) != bits(want[i]))
            return "element " + std::to_string(i) + ": got " + std::to_string(got[i]) + ", want " + std::to_string(want[i]);
    return {};
}

// Packs 8 six-bit scales and mins the way q4_k/q5_k store them (the inverse of ggml's
// get_scale_min_k4): bytes 0-3 scales 0-3 (+2 high bits of scale 4-7), 4-7 mins 0-3 (+2 high
// bits of min 4-7), 8-11 the low nibbles of scale 4-7 and min 4-7.
void pack_k4_scales(uint8_t* out, const int sc[8], const int m[8]) {
    for (int s = 0; s < 4; ++s) {
        out[s] = static_cast<uint8_t>((sc[s] & 63) | ((sc[s + 4] >> 4) << 6));
        out[s + 4] = static_cast<uint8_t>((m[s] & 63) | ((m[s + 4] >> 4) << 6));
        out[s + 8] = static_cast<uint8_t>((sc[s + 4] & 0x0f) | ((m[s + 4] & 0x0f) << 4));
    }
}

} // namespace

class TestDequant : public QObject {
    Q_OBJECT
private slots:
    void traits_table();
    void row_bytes();
    void fp16_to_fp32_all_values();
    void fp32_to_fp16_rounding();
    void fp32_to_fp16_random_nearest();
    void bf16_conversions();
    void plain_float_rows();
    void q8_0_block();
    void q4_0_block();
    void q4_1_block();
    void q5_0_block();
    void q5_1_block();
    void q4_k_block();
    void q5_k_block();
    void q6_k_block();
    void rejects_bad_requests();
    void golden_rows_match_gguf_py();
};

void TestDequant::traits_table() {
    struct row { ggml_type t; const char* name; int64_t elems; size_t bytes; bool deq; };
    const row want[] = {
        {ggml_type::f32, "f32", 1, 4, true},       {ggml_type::f16, "f16", 1, 2, true},
        {ggml_type::bf16, "bf16", 1, 2, true},     {ggml_type::q4_0, "q4_0", 32, 18, true},
        {ggml_type::q4_1, "q4_1", 32, 20, true},   {ggml_type::q5_0, "q5_0", 32, 22, true},
        {ggml_type::q5_1, "q5_1", 32, 24, true},   {ggml_type::q8_0, "q8_0", 32, 34, true},
        {ggml_type::q8_1, "q8_1", 32, 36, false},  {ggml_type::q2_k, "q2_k", 256, 84, false},
        {ggml_type::q3_k, "q3_k", 256, 110, false}, {ggml_type::q4_k, "q4_k", 256, 144, true},
        {ggml_type::q5_k, "q5_k", 256, 176, true}, {ggml_type::q6_k, "q6_k", 256, 210, true},
        {ggml_type::q8_k, "q8_k", 256, 292, false},
    };
    for (const row& r : want) {
        const rl::ggml_type_traits tr = rl::ggml_traits(r.t);
        QVERIFY2(tr.name != nullptr, r.name);
        QCOMPARE(std::string(tr.name), std::string(r.name));
        QCOMPARE(tr.block_elems, r.elems);
        QCOMPARE(tr.block_bytes, r.bytes);
        QCOMPARE(tr.dequantizable, r.deq);
        QCOMPARE(rl::ggml_type_name(r.t), std::string(r.name));
    }
    // Ids ggml retired (4, 5: q4_2/q4_3) or never had are unknown.
    for (uint32_t id : {4u, 5u, 16u, 29u, 31u, 99u, 0xffffffffu}) QVERIFY(rl::ggml_traits(id).name == nullptr);
    QCOMPARE(rl::ggml_type_name(static_cast<ggml_type>(99)), std::string("type(99)"));
}

void TestDequant::row_bytes() {
    QCOMPARE(rl::ggml_row_bytes(ggml_type::q4_0, 4096), size_t(4096 / 32 * 18));
    QCOMPARE(rl::ggml_row_bytes(ggml_type::q6_k, 512), size_t(420));
    QCOMPARE(rl::ggml_row_bytes(ggml_type::f16, 7), size_t(14));
    QCOMPARE(rl::ggml_row_bytes(ggml_type::q8_0, 0), size_t(0));
    std::string e = error_of([] { rl::ggml_row_bytes(ggml_type::q4_0, 33); });
    QVERIFY2(e.find("not a multiple") != std::string::npos, e.c_str());
    e = error_of([] { rl::ggml_row_bytes(ggml_type::q4_k, 128); });
    QVERIFY2(e.find("block size 256") != std::string::npos, e.c_str());
    e = error_of([] { rl::ggml_row_bytes(ggml_type::f32, int64_t{1} << 62); });
    QVERIFY2(e.find("too large") != std::string::npos, e.c_str());
    e = error_of([] { rl::ggml_row_bytes(ggml_type::f32, -4); });
    QVERIFY2(e.find("negative") != std::string::npos, e.c_str());
}

void TestDequant::fp16_to_fp32_all_values() {
    // Every half against the definition: (-1)^s * 2^(e-15) * 1.m, subnormals 2^-14 * 0.m.
    for (uint32_t h = 0; h < 65536; ++h) {
        const uint32_t e = (h >> 10) & 31, m = h & 1023;
        const float got = rl::fp16_to_fp32(static_cast<uint16_t>(h));
        if (e == 31 && m != 0) {
            QVERIFY2(std::isnan(got), std::to_string(h).c_str());
            QCOMPARE(bits(got) & 0x7fffff, m << 13);  // payload kept
            continue;
        }
        double want = e == 31 ? INFINITY : e == 0 ? std::ldexp(double(m), -24) : std::ldexp(double(1024 + m), int(e) - 25);
        if (h & 0x8000) want = -want;
        QVERIFY2(bits(got) == bits(static_cast<float>(want)), ("half " + std::to_string(h)).c_str());
        // Every non-NaN half survives the round trip.
        QCOMPARE(rl::fp32_to_fp16(got), static_cast<uint16_t>(h));
    }
}

void TestDequant::fp32_to_fp16_rounding() {
    const auto f2h = [](float f) { return rl::fp32_to_fp16(f); };
    QCOMPARE(f2h(1.0f), uint16_t(0x3c00));
    QCOMPARE(f2h(-0.0f), uint16_t(0x8000));
    QCOMPARE(f2h(1.0f + 0x1p-11f), uint16_t(0x3c00));       // tie -> even (1.0)
    QCOMPARE(f2h(1.0f + 3 * 0x1p-11f), uint16_t(0x3c02));   // tie -> even (1 + 2^-9)
    QCOMPARE(f2h(1.0f + 0x1p-11f + 0x1p-20f), uint16_t(0x3c01));  // just above the tie
    QCOMPARE(f2h(65504.0f), uint16_t(0x7bff));
    QCOMPARE(f2h(65519.99f), uint16_t(0x7bff));   // below the midpoint to 2^16
    QCOMPARE(f2h(65520.0f), uint16_t(0x7c00));    // the midpoint rounds (to even) up to inf
    QCOMPARE(f2h(1e10f), uint16_t(0x7c00));
    QCOMPARE(f2h(-INFINITY), uint16_t(0xfc00));
    QCOMPARE(f2h(0x1p-24f), uint16_t(0x0001));    // smallest subnormal
    QCOMPARE(f2h(0x1p-25f), uint16_t(0x0000));    // half of it: tie -> even (0)
    QCOMPARE(f2h(0x1.0002p-25f), uint16_t(0x0001));
    QCOMPARE(f2h(1.5f * 0x1p-24f), uint16_t(0x0002));  // tie between 1 and 2 -> 2
    QCOMPARE(f2h(2.5f * 0x1p-24f), uint16_t(0x0002));  // tie between 2 and 3 -> 2
    QCOMPARE(f2h(1023.5f * 0x1p-24f), uint16_t(0x0400));  // largest subnormal rounds up to min normal
    QCOMPARE(f2h(0x1p-14f), uint16_t(0x0400));
    QCOMPARE(f2h(1e-30f), uint16_t(0x0000));
    QCOMPARE(f2h(-1e-45f), uint16_t(0x8000));     // float subnormal
    const uint16_t n = f2h(std::numeric_limits<float>::quiet_NaN());
    QVERIFY((n & 0x7c00) == 0x7c00 && (n & 0x3ff) != 0);
    const uint16_t sn = f2h(std::bit_cast<float>(0xff800001u));  // signalling NaN, payload in low bits only
    QVERIFY2((sn & 0x7e00) == 0x7e00 && (sn & 0x8000), std::to_string(sn).c_str());
}

void TestDequant::fp32_to_fp16_random_nearest() {
    // For random floats across the half range, the result must be a nearest half (ties to even).
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> expo(-27.0, 16.5);
    for (int i = 0; i < 200000; ++i) {
        const float f = static_cast<float>(std::exp2(expo(rng)));
        const uint16_t h = rl::fp32_to_fp16(f);
        const double got = rl::fp16_to_fp32(h);
        if (h == 0x7c00) { QVERIFY2(f >= 65520.0f, std::to_string(f).c_str()); continue; }
        const double err = std::fabs(got - f);
        for (int d : {-1, 1}) {
            const int nb = int(h) + d;
            if (nb < 0 || nb >= 0x7c00) continue;
            const double other = std::fabs(double(rl::fp16_to_fp32(static_cast<uint16_t>(nb))) - f);
            QVERIFY2(err < other || (err == other && (h & 1) == 0), std::to_string(f).c_str());
        }
    }
}

void TestDequant::bf16_conversions() {
    QCOMPARE(rl::fp32_to_bf16(1.0f), uint16_t(0x3f80));
    QCOMPARE(rl::fp32_to_bf16(std::bit_cast<float>(0x3f808000u)), uint16_t(0x3f80));  // tie -> even
    QCOMPARE(rl::fp32_to_bf16(std::bit_cast<float>(0x3f818000u)), uint16_t(0x3f82));  // tie -> even
    QCOMPARE(rl::fp32_to_bf16(std::bit_cast<float>(0x3f808001u)), uint16_t(0x3f81));
    QCOMPARE(rl::fp32_to_bf16(std::bit_cast<float>(0x7f7fffffu)), uint16_t(0x7f80));  // max float -> inf
    QCOMPARE(rl::fp32_to_bf16(-INFINITY), uint16_t(0xff80));
    QCOMPARE(rl::fp32_to_bf16(std::bit_cast<float>(0x00010000u)), uint16_t(0x0001));  // subnormal kept
    QCOMPARE(rl::fp32_to_bf16(std::bit_cast<float>(0x7f800001u)), uint16_t(0x7fc0));   // sNaN -> quiet NaN
    QCOMPARE(bits(rl::bf16_to_fp32(0x3f80)), bits(1.0f));
    QCOMPARE(bits(rl::bf16_to_fp32(0x0001)), 0x00010000u);
    QCOMPARE(bits(rl::bf16_to_fp32(0x8000)), 0x80000000u);
    QVERIFY(std::isinf(rl::bf16_to_fp32(0xff80)));
    QVERIFY(std::isnan(rl::bf16_to_fp32(0x7fc1)));
}

void TestDequant::plain_float_rows() {
    const float f32[3] = {1.5f, -0.0f, 3e-40f};
    std::vector<uint8_t> b(12);
    std::memcpy(b.data(), f32, 12);
    std::vector<float> y = run(ggml_type::f32, b, 3);
    QVERIFY(mismatch(y, {1.5f, -0.0f, 3e-40f}).empty());
    b.assign(8, 0);
    put16(b, 0, 0x3c00); put16(b, 2, 0x0001); put16(b, 4, 0xfc00); put16(b, 6, 0xc000);
    y = run(ggml_type::f16, b, 4);
    QVERIFY2(mismatch(y, {1.0f, 0x1p-24f, -INFINITY, -2.0f}).empty(), mismatch(y, {1.0f, 0x1p-24f, -INFINITY, -2.0f}).c_str());
    put16(b, 0, 0x3f80); put16(b, 2, 0xc040); put16(b, 4, 0x0000); put16(b, 6, 0x4049);
    y = run(ggml_type::bf16, b, 4);
    QVERIFY(mismatch(y, {1.0f, -3.0f, 0.0f, std::bit_cast<float>(0x40490000u)}).empty());
}

void TestDequant::q8_0_block() {
    std::vector<uint8_t> b(34);
    put16(b, 0, h_0_5);
    std::vector<float> want(32);
    for (int j = 0; j < 32; ++j) {
        const int q = j * 8 - 128;  // covers -128 .. 120
        b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q));
        want[j] = 0.5f * q;
    }
    const std::string m = mismatch(run(ggml_type::q8_0, b, 32), want);
    QVERIFY2(m.empty(), m.c_str());
}

void TestDequant::q4_0_block() {
    // Byte j holds element j (low nibble) and element j+16 (high nibble); value = (q - 8) * d.
    std::vector<uint8_t> b(18);
    put16(b, 0, h_0_25);
    std::vector<float> want(32);
    for (int j = 0; j < 16; ++j) {
        b[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
        want[j] = (j - 8) * 0.25f;
        want[j + 16] = (15 - j - 8) * 0.25f;
    }
    const std::string m = mismatch(run(ggml_type::q4_0, b, 32), want);
    QVERIFY2(m.empty(), m.c_str());
}

void TestDequant::q4_1_block() {
    std::vector<uint8_t> b(20);
    put16(b, 0, h_0_5);
    put16(b, 2, h_m1);
    std::vector<float> want(32);
    for (int j = 0; j < 16; ++j) {
        const int lo = (j * 3) % 16, hi = (j * 5 + 1) % 16;
        b[4 + j] = static_cast<uint8_t>(lo | (hi << 4));
        want[j] = lo * 0.5f - 1.0f;
        want[j + 16] = hi * 0.5f - 1.0f;
    }
    const std::string m = mismatch(run(ggml_type::q4_1, b, 32), want);
    QVERIFY2(m.empty(), m.c_str());
}

// q5_0/q5_1: 5-bit values; bit i of the little-endian u32 qh is the high bit of element i.
static void pack_q5(std::vector<uint8_t>& b, size_t qh_off, const int q[32]) {
    uint32_t qh = 0;
    for (int i = 0; i < 32; ++i) qh |= static_cast<uint32_t>((q[i] >> 4) & 1) << i;
    std::memcpy(b.data() + qh_off, &qh, 4);
    for (int j = 0; j < 16; ++j) b[qh_off + 4 + j] = static_cast<uint8_t>((q[j] & 15) | ((q[j + 16] & 15) << 4));
}

void TestDequant::q5_0_block() {
    std::vector<uint8_t> b(22);
    put16(b, 0, h_0_5);
    int q[32];
    std::vector<float> want(32);
    for (int i = 0; i < 32; ++i) { q[i] = (i * 7) % 32; want[i] = (q[i] - 16) * 0.5f; }
    pack_q5(b, 2, q);
    const std::string m = mismatch(run(ggml_type::q5_0, b, 32), want);
    QVERIFY2(m.empty(), m.c_str());
}

void TestDequant::q5_1_block() {
    std::vector<uint8_t> b(24);
    put16(b, 0, h_0_25);
    put16(b, 2, h_2);
    int q[32];
    std::vector<float> want(32);
    for (int i = 0; i < 32; ++i) { q[i] = (i * 11 + 3) % 32; want[i] = q[i] * 0.25f + 2.0f; }
    pack_q5(b, 4, q);
    const std::string m = mismatch(run(ggml_type::q5_1, b, 32), want);
    QVERIFY2(m.empty(), m.c_str());
}

// q4_k/q5_k element i: sub-block s = i/32 (scale sc[s], min m[s]); its nibble is in byte
// 32*(s/2) + i%32 of qs, low nibble for even s, high for odd. q5_k's fifth bit is bit s of qh[i%32].
static std::vector<float> build_k(std::vector<uint8_t>& b, bool five_bit) {
    const int sc[8] = {1, 8, 15, 22, 29, 36, 50, 63};
    const int mn[8] = {63, 58, 53, 48, 17, 9, 2, 0};
    put16(b, 0, h_0_5);   // d
    put16(b, 2, h_0_25);  // dmin
    pack_k4_scales(b.data() + 4, sc, mn);
    const size_t qs_off = five_bit ? 48 : 16;
    std::vector<float> want(256);
    for (int i = 0; i < 256; ++i) {
        const int s = i / 32;
        const int q = five_bit ? (i * 11 + 5) % 32 : (i * 5 + 3) % 16;
        uint8_t& byte = b[qs_off + 32 * (s / 2) + i % 32];
        byte = static_cast<uint8_t>(s % 2 ? (byte & 0x0f) | ((q & 15) << 4) : (byte & 0xf0) | (q & 15));
        if (five_bit && (q & 16)) b[16 + i % 32] = static_cast<uint8_t>(b[16 + i % 32] | (1 << s));
        want[i] = 0.5f * sc[s] * q - 0.25f * mn[s];  // all exact: small integers times powers of two
    }
    return want;
}

void TestDequant::q4_k_block() {
    std::vector<uint8_t> b(144, 0);
    const std::vector<float> want = build_k(b, false);
    const std::string m = mismatch(run(ggml_type::q4_k, b, 256), want);
    QVERIFY2(m.empty(), m.c_str());
}

void TestDequant::q5_k_block() {
    std::vector<uint8_t> b(176, 0);
    const std::vector<float> want = build_k(b, true);
    const std::string m = mismatch(run(ggml_type::q5_k, b, 256), want);
    QVERIFY2(m.empty(), m.c_str());
}

void TestDequant::q6_k_block() {
    // Element i: half n = i/128, quarter k = (i%128)/32, l = i%32. Low 4 bits in ql[64n + l + 32*(k&1)]
    // (low nibble for k < 2), high 2 bits at bit 2k of qh[32n + l], scale sc[8n + l/16 + 2k];
    // value = d * sc * (q - 32). Layout: ql[128] qh[64] scales[16] d.
    std::vector<uint8_t> b(210, 0);
    put16(b, 208, h_0_125);
    int8_t sc[16];
    for (int s = 0; s < 16; ++s) { sc[s] = static_cast<int8_t>((s * 5) % 17 - 8); b[192 + s] = static_cast<uint8_t>(sc[s]); }
    std::vector<float> want(256);
    for (int i = 0; i < 256; ++i) {
        const int n = i / 128, k = (i % 128) / 32, l = i % 32;
        const int q = (i * 13 + 7) % 64;
        uint8_t& lo = b[64 * n + l + 32 * (k & 1)];
        lo = static_cast<uint8_t>(k < 2 ? (lo & 0xf0) | (q & 15) : (lo & 0x0f) | ((q & 15) << 4));
        b[128 + 32 * n + l] = static_cast<uint8_t>(b[128 + 32 * n + l] | ((q >> 4) << (2 * k)));
        want[i] = 0.125f * sc[8 * n + l / 16 + 2 * k] * (q - 32);
    }
    const std::string m = mismatch(run(ggml_type::q6_k, b, 256), want);
    QVERIFY2(m.empty(), m.c_str());
}

void TestDequant::rejects_bad_requests() {
    std::vector<uint8_t> b(512, 0);
    std::vector<float> y(512);
    std::string e = error_of([&] { rl::dequantize_row(ggml_type::q2_k, b.data(), y.data(), 256); });
    QVERIFY2(e.find("q2_k is not supported") != std::string::npos, e.c_str());
    e = error_of([&] { rl::dequantize_row(ggml_type::q8_1, b.data(), y.data(), 32); });
    QVERIFY2(e.find("not supported") != std::string::npos, e.c_str());
    e = error_of([&] { rl::dequantize_row(static_cast<ggml_type>(99), b.data(), y.data(), 32); });
    QVERIFY2(e.find("unknown type 99") != std::string::npos, e.c_str());
    e = error_of([&] { rl::dequantize_row(ggml_type::q4_0, b.data(), y.data(), 33); });
    QVERIFY2(e.find("not a multiple") != std::string::npos, e.c_str());
    e = error_of([&] { rl::dequantize_row(ggml_type::q4_0, b.data(), y.data(), -32); });
    QVERIFY2(e.find("not a multiple") != std::string::npos, e.c_str());
    rl::dequantize_row(ggml_type::q6_k, b.data(), y.data(), 0);  // empty row is fine
}

void TestDequant::golden_rows_match_gguf_py() {
    const std::string path = std::string(RL_TEST_DATA) + "/golden/dequant_rows.json";
    std::ifstream in(path);
    QVERIFY2(in.good(), ("missing " + path + " (run tests/golden/gen_dequant_golden.py)").c_str());
    const nlohmann::json doc = nlohmann::json::parse(in);
    int types = 0;
    for (const auto& row : doc.at("rows")) {
        const auto t = static_cast<ggml_type>(row.at("type_id").get<uint32_t>());
        const std::string name = row.at("type").get<std::string>();
        const int64_t n = row.at("n").get<int64_t>();
        const std::string hex = row.at("bytes_hex").get<std::string>();
        std::vector<uint8_t> raw(hex.size() / 2);
        for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
        QCOMPARE(raw.size(), rl::ggml_row_bytes(t, n));
        const auto want = row.at("expected_bits").get<std::vector<uint32_t>>();
        QCOMPARE(static_cast<int64_t>(want.size()), n);
        std::vector<float> y(static_cast<size_t>(n));
        rl::dequantize_row(t, raw.data(), y.data(), n);
        for (int64_t i = 0; i < n; ++i) {
            const float w = std::bit_cast<float>(want[i]);
            const bool same = bits(y[i]) == want[i] || (std::isnan(w) && std::isnan(y[i]));
            QVERIFY2(same, (name + " element " + std::to_string(i) + ": got " + std::to_string(y[i]) + ", gguf-py " +
                            std::to_string(w)).c_str());
        }
        ++types;
    }
    QCOMPARE(types, 11);
}

RL_TEST_MAIN(TestDequant, traits_table, row_bytes, fp16_to_fp32_all_values, fp32_to_fp16_rounding,
             fp32_to_fp16_random_nearest, bf16_conversions, plain_float_rows, q8_0_block, q4_0_block, q4_1_block,
             q5_0_block, q5_1_block, q4_k_block, q5_k_block, q6_k_block, rejects_bad_requests,
             golden_rows_match_gguf_py)
#include "test_dequant.moc"
