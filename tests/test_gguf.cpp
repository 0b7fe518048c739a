// test_gguf: the GGUF reader (engine/gguf/gguf_file.cpp). A tiny in-memory writer builds
// v2/v3 files with every value type, nested arrays, custom alignment and tensors; then each
// malformation must give one engine_error naming it, and no truncation or byte mutation may
// crash (run under ASan too). Finally the real model at RL_MODEL_PATH is opened via mmap.
#include "rl_test.h"

#include "common/engine_error.h"
#include "gguf/dequant.h"
#include "gguf/gguf_file.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

using rl::gguf_file;
using rl::gguf_value_type;
using bytes = std::vector<uint8_t>;

namespace {

enum : uint32_t { t_u8 = 0, t_i8, t_u16, t_i16, t_u32, t_i32, t_f32, t_bool, t_str, t_arr, t_u64, t_i64, t_f64 };
enum : uint32_t { g_f32 = 0, g_f16 = 1, g_q4_0 = 2, g_q8_0 = 8 };

void append(bytes& b, const void* p, size_t n) {
    if (n == 0) return;
    const size_t at = b.size();
    b.resize(at + n);
    std::memcpy(b.data() + at, p, n);
}
void append(bytes& b, const bytes& more) { append(b, more.data(), more.size()); }
template <typename T>
void put(bytes& b, T v) {
    append(b, &v, sizeof(T));  // not insert(): GCC 12 warns falsely (-Wstringop-overflow) on it
}
void put_str(bytes& b, const std::string& s) {
    put<uint64_t>(b, s.size());
    append(b, s.data(), s.size());
}
template <typename T>
bytes enc(T v) { bytes b; put(b, v); return b; }
bytes enc_str(const std::string& s) { bytes b; put_str(b, s); return b; }
// An array value: element type, count, then the already-encoded elements.
bytes enc_arr(uint32_t elem, uint64_t count, const bytes& payload) {
    bytes b;
    put(b, elem);
    put(b, count);
    append(b, payload);
    return b;
}

struct kv_entry { std::string key; uint32_t type; bytes value; };
struct tensor_entry {
    std::string name;
    std::vector<int64_t> dims;
    uint32_t type;
    uint64_t offset;
    std::optional<uint32_t> n_dims;  // overrides dims.size() in the header
};

// A GGUF file described field by field, so tests can break exactly one thing.
struct gguf_spec {
    uint32_t magic = 0x46554747, version = 3;
    std::optional<uint64_t> n_tensors, n_kv;  // override the true counts
    std::vector<kv_entry> kvs;
    std::vector<tensor_entry> tensors;
    size_t alignment = 32;                     // used for padding only; set the key yourself
    bytes data;

    bytes serialize() const {
        bytes b;
        put(b, magic);
        put(b, version);
        put<uint64_t>(b, n_tensors.value_or(tensors.size()));
        put<uint64_t>(b, n_kv.value_or(kvs.size()));
        for (const kv_entry& kv : kvs) {
            put_str(b, kv.key);
            put(b, kv.type);
            append(b, kv.value);
        }
        for (const tensor_entry& t : tensors) {
            put_str(b, t.name);
            put<uint32_t>(b, t.n_dims.value_or(static_cast<uint32_t>(t.dims.size())));
            for (int64_t d : t.dims) put(b, d);
            put(b, t.type);
            put(b, t.offset);
        }
        if (!data.empty()) b.resize((b.size() + alignment - 1) / alignment * alignment, 0);
        append(b, data);
        return b;
    }
};

// A valid file with every value type, nested arrays and three tensors whose data ends the file.
gguf_spec valid_spec(uint32_t version = 3, size_t alignment = 32) {
    gguf_spec s;
    s.version = version;
    s.alignment = alignment;
    s.kvs = {
        {"general.architecture", t_str, enc_str("llama")},
        {"t.u8", t_u8, enc<uint8_t>(200)},
        {"t.i8", t_i8, enc<int8_t>(-100)},
        {"t.u16", t_u16, enc<uint16_t>(60000)},
        {"t.i16", t_i16, enc<int16_t>(-30000)},
        {"t.u32", t_u32, enc<uint32_t>(4000000000u)},
        {"t.i32", t_i32, enc<int32_t>(-2000000000)},
        {"t.f32", t_f32, enc<float>(1.5f)},
        {"t.bool", t_bool, enc<uint8_t>(1)},
        {"t.str", t_str, enc_str("h\xc3\xa9llo")},
        {"t.u64", t_u64, enc<uint64_t>((uint64_t{1} << 63) + 5)},
        {"t.i64", t_i64, enc<int64_t>(-(int64_t{1} << 40))},
        {"t.f64", t_f64, enc<double>(2.25)},
    };
    bytes ints, strs, inner1, inner2, nested;
    for (int32_t v : {1, -2, 3}) put(ints, v);
    for (const char* v : {"a", "bc", ""}) put_str(strs, v);
    put<uint16_t>(inner1, 1); put<uint16_t>(inner1, 2);
    put<uint16_t>(inner2, 3);
    bytes n1 = enc_arr(t_u16, 2, inner1), n2 = enc_arr(t_u16, 1, inner2);
    append(nested, n1);
    append(nested, n2);
    s.kvs.push_back({"t.arr_i32", t_arr, enc_arr(t_i32, 3, ints)});
    s.kvs.push_back({"t.arr_str", t_arr, enc_arr(t_str, 3, strs)});
    s.kvs.push_back({"t.nested", t_arr, enc_arr(t_arr, 2, nested)});
    s.kvs.push_back({"t.empty", t_arr, enc_arr(t_u8, 0, {})});
    if (alignment != 32) s.kvs.push_back({"general.alignment", t_u32, enc<uint32_t>(static_cast<uint32_t>(alignment))});
    // a: f32 [4, 2] = 32 bytes; b: q8_0 [32] = 34 bytes; c: f16 [3] = 6 bytes (ends the file).
    const size_t off_b = (32 + alignment - 1) / alignment * alignment;
    const size_t off_c = (off_b + 34 + alignment - 1) / alignment * alignment;
    s.tensors = {{"a", {4, 2}, g_f32, 0, {}}, {"b", {32}, g_q8_0, off_b, {}}, {"c", {3}, g_f16, off_c, {}}};
    s.data.assign(off_c + 6, 0);
    for (size_t i = 0; i < s.data.size(); ++i) s.data[i] = static_cast<uint8_t>(i * 7 + 1);
    return s;
}

std::unique_ptr<gguf_file> parse(const bytes& b) { return gguf_file::from_bytes(b.data(), b.size()); }

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const rl::engine_error& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("<non-engine exception: ") + e.what() + ">";
    }
    return "<no error>";
}
std::string parse_error(const gguf_spec& s) { return error_of([&] { parse(s.serialize()); }); }
bool has(const std::string& s, const char* frag) { return s.find(frag) != std::string::npos; }
#define EXPECT_ERROR(spec, frag)                                                  \
    do {                                                                          \
        const std::string e_ = parse_error(spec);                                 \
        QVERIFY2(has(e_, frag), (std::string("expected '") + frag + "', got: " + e_).c_str()); \
        QVERIFY2(e_.find('\n') == std::string::npos, e_.c_str());                 \
    } while (0)

std::string temp_path(const char* tag) {
    return (std::filesystem::temp_directory_path() / ("rl_test_gguf_" + std::to_string(::getpid()) + "_" + tag + ".gguf")).string();
}

} // namespace

class TestGguf : public QObject {
    Q_OBJECT
private slots:
    void every_value_type();
    void nested_arrays();
    void version2_reads_like_version3();
    void alignment_sets_data_start();
    void typed_getters();
    void bad_magic_and_versions();
    void absurd_counts();
    void metadata_malformations();
    void nesting_depth_limit();
    void alignment_validation();
    void tensor_malformations();
    void truncation_at_every_offset();
    void byte_mutations_never_crash();
    void open_maps_a_file();
    void open_errors_name_the_path();
    void real_model();
};

void TestGguf::every_value_type() {
    const auto f = parse(valid_spec().serialize());
    QCOMPARE(f->version(), 3u);
    QCOMPARE(f->alignment(), size_t(32));
    QCOMPARE(f->metadata().size(), size_t(17));
    QCOMPARE(f->find("t.u8")->type, gguf_value_type::uint8);
    QCOMPARE(f->get_int("t.u8"), int64_t(200));
    QCOMPARE(f->get_int("t.i8"), int64_t(-100));
    QCOMPARE(f->get_int("t.u16"), int64_t(60000));
    QCOMPARE(f->get_int("t.i16"), int64_t(-30000));
    QCOMPARE(f->get_int("t.u32"), int64_t(4000000000LL));
    QCOMPARE(f->get_int("t.i32"), int64_t(-2000000000));
    QCOMPARE(f->find("t.f32")->type, gguf_value_type::float32);
    QCOMPARE(f->get_float("t.f32"), 1.5);
    QCOMPARE(f->get_bool("t.bool"), true);
    QCOMPARE(f->get_string("t.str"), std::string("h\xc3\xa9llo"));
    QVERIFY(std::get<uint64_t>(f->find("t.u64")->v) == (uint64_t{1} << 63) + 5);
    QCOMPARE(f->find("t.u64")->type, gguf_value_type::uint64);
    QCOMPARE(f->get_int("t.i64"), -(int64_t{1} << 40));
    QCOMPARE(f->find("t.i64")->type, gguf_value_type::int64);
    QCOMPARE(f->get_float("t.f64"), 2.25);
    QCOMPARE(f->find("t.f64")->type, gguf_value_type::float64);
    const rl::gguf_array& ints = f->get_array("t.arr_i32");
    QCOMPARE(f->find("t.arr_i32")->elem_type, gguf_value_type::int32);
    QCOMPARE(ints.size(), size_t(3));
    QCOMPARE(ints[1].as_int(), int64_t(-2));
    QCOMPARE(ints[1].type, gguf_value_type::int32);
    const rl::gguf_array& strs = f->get_array("t.arr_str");
    QCOMPARE(strs.size(), size_t(3));
    QCOMPARE(strs[1].as_string(), std::string("bc"));
    QCOMPARE(strs[2].as_string(), std::string());
    QCOMPARE(f->get_array("t.empty").size(), size_t(0));
    QCOMPARE(f->find("t.empty")->elem_type, gguf_value_type::uint8);
    QCOMPARE(f->tensors().size(), size_t(3));
    const rl::gguf_tensor_info& a = f->tensor("a");
    QCOMPARE(a.type, rl::ggml_type::f32);
    QCOMPARE(a.n_elements(), int64_t(8));
    QCOMPARE(a.n_rows(), int64_t(2));
    QCOMPARE(a.nbytes, size_t(32));
    QCOMPARE(f->tensor("b").nbytes, size_t(34));
    QCOMPARE(f->tensor("c").nbytes, size_t(6));
}

void TestGguf::nested_arrays() {
    const auto f = parse(valid_spec().serialize());
    const rl::gguf_value* v = f->find("t.nested");
    QVERIFY(v != nullptr);
    QCOMPARE(v->elem_type, gguf_value_type::array);
    const rl::gguf_array& outer = v->as_array();
    QCOMPARE(outer.size(), size_t(2));
    QCOMPARE(outer[0].type, gguf_value_type::array);
    QCOMPARE(outer[0].elem_type, gguf_value_type::uint16);
    QCOMPARE(outer[0].as_array().size(), size_t(2));
    QCOMPARE(outer[0].as_array()[1].as_int(), int64_t(2));
    QCOMPARE(outer[1].as_array().size(), size_t(1));
    QCOMPARE(outer[1].as_array()[0].as_int(), int64_t(3));
}

void TestGguf::version2_reads_like_version3() {
    const auto v2 = parse(valid_spec(2).serialize());
    const auto v3 = parse(valid_spec(3).serialize());
    QCOMPARE(v2->version(), 2u);
    QCOMPARE(v2->metadata().size(), v3->metadata().size());
    QCOMPARE(v2->get_string("t.str"), v3->get_string("t.str"));
    QCOMPARE(v2->tensors().size(), v3->tensors().size());
    for (size_t i = 0; i < v2->tensors().size(); ++i) {
        QCOMPARE(v2->tensors()[i].name, v3->tensors()[i].name);
        QCOMPARE(v2->tensors()[i].nbytes, v3->tensors()[i].nbytes);
        QVERIFY(std::memcmp(v2->tensors()[i].data, v3->tensors()[i].data, v2->tensors()[i].nbytes) == 0);
    }
}

void TestGguf::alignment_sets_data_start() {
    for (size_t al : {size_t(32), size_t(64), size_t(1), size_t(256)}) {
        const gguf_spec s = valid_spec(3, al);
        const bytes b = s.serialize();
        const auto f = parse(b);
        QCOMPARE(f->alignment(), al);
        const size_t data_start = b.size() - s.data.size();
        QCOMPARE(data_start % al, size_t(0));
        for (const tensor_entry& t : s.tensors) {
            const rl::gguf_tensor_info& ti = f->tensor(t.name);
            QCOMPARE(ti.offset, t.offset);
            // The pointer lands on the bytes the writer put at data_start + offset.
            QVERIFY(std::memcmp(ti.data, s.data.data() + t.offset, ti.nbytes) == 0);
        }
        std::vector<float> y(32);
        rl::dequantize_row(f->tensor("b").type, f->tensor("b").data, y.data(), 32);
    }
}

void TestGguf::typed_getters() {
    const auto f = parse(valid_spec().serialize());
    QCOMPARE(f->get_float("t.i32"), -2000000000.0);  // integers convert to float
    QCOMPARE(f->get_int_or("nope", 7), int64_t(7));
    QCOMPARE(f->get_float_or("nope", 0.5), 0.5);
    QCOMPARE(f->get_bool_or("nope", true), true);
    QCOMPARE(f->get_string_or("nope", "x"), std::string("x"));
    QCOMPARE(f->get_string_or("general.architecture", "x"), std::string("llama"));
    QVERIFY(f->has("t.bool") && !f->has("nope"));
    QVERIFY(f->find_tensor("zzz") == nullptr);
    std::string e = error_of([&] { f->get_int("nope"); });
    QVERIFY2(has(e, "missing required key 'nope'"), e.c_str());
    e = error_of([&] { f->get_int("t.str"); });
    QVERIFY2(has(e, "key 't.str' has type string, expected an integer"), e.c_str());
    e = error_of([&] { f->get_string("t.u8"); });
    QVERIFY2(has(e, "key 't.u8' has type uint8, expected string"), e.c_str());
    e = error_of([&] { f->get_bool("t.u8"); });
    QVERIFY2(has(e, "expected bool"), e.c_str());
    e = error_of([&] { f->get_array("t.f32"); });
    QVERIFY2(has(e, "has type float32, expected array"), e.c_str());
    e = error_of([&] { f->get_float("t.arr_i32"); });
    QVERIFY2(has(e, "has type array"), e.c_str());
    e = error_of([&] { f->get_int("t.u64"); });
    QVERIFY2(has(e, "out of the int64 range"), e.c_str());
    e = error_of([&] { f->get_int_or("t.str", 1); });  // present but wrong type still throws
    QVERIFY2(has(e, "has type string"), e.c_str());
    e = error_of([&] { f->tensor("zzz"); });
    QVERIFY2(has(e, "missing tensor 'zzz'"), e.c_str());
}

void TestGguf::bad_magic_and_versions() {
    gguf_spec s = valid_spec();
    s.magic = 0x58554747;  // "GGUX"
    EXPECT_ERROR(s, "not a GGUF file (bad magic)");
    s = valid_spec(1);
    EXPECT_ERROR(s, "unsupported GGUF version 1");
    s = valid_spec(4);
    EXPECT_ERROR(s, "unsupported GGUF version 4");
    s = valid_spec(0x03000000);
    EXPECT_ERROR(s, "big-endian");
    std::string e = error_of([] { gguf_file::from_bytes(nullptr, 0); });
    QVERIFY2(has(e, "not a GGUF file"), e.c_str());
}

void TestGguf::absurd_counts() {
    gguf_spec s = valid_spec();
    s.n_kv = uint64_t{1} << 60;
    EXPECT_ERROR(s, "metadata count 1152921504606846976 is too large");
    s = valid_spec();
    s.n_kv = 1000;
    EXPECT_ERROR(s, "metadata count 1000 is too large");
    s = valid_spec();
    s.n_tensors = ~uint64_t{0};
    EXPECT_ERROR(s, "tensor count 18446744073709551615 is too large");
    s = valid_spec();
    s.kvs.push_back({"big", t_arr, enc_arr(t_u32, uint64_t{1} << 40, {})});
    EXPECT_ERROR(s, "array length 1099511627776");
    s = valid_spec();  // a count that fits bytes-wise for u8 but not for u64 elements
    s.kvs.push_back({"big", t_arr, enc_arr(t_u64, 200, bytes(300, 0))});
    EXPECT_ERROR(s, "is too large");
}

void TestGguf::metadata_malformations() {
    gguf_spec s = valid_spec();
    s.kvs.push_back({"t.u8", t_u8, enc<uint8_t>(1)});
    EXPECT_ERROR(s, "duplicate metadata key 't.u8'");
    s = valid_spec();
    s.kvs.push_back({"weird", 13, enc<uint8_t>(1)});
    EXPECT_ERROR(s, "unknown metadata value type 13");
    s = valid_spec();
    s.kvs.push_back({"weird", t_arr, enc_arr(42, 1, bytes(8, 0))});
    EXPECT_ERROR(s, "unknown array element type 42");
    s = valid_spec();
    s.kvs.push_back({"flag", t_bool, enc<uint8_t>(2)});
    EXPECT_ERROR(s, "invalid bool value 2");
    s = valid_spec();
    s.kvs.push_back({"s", t_str, enc<uint64_t>(1000000)});
    EXPECT_ERROR(s, "string value length 1000000");
    EXPECT_ERROR(s, "runs past the end of the file");
    // The first key's length (just after the 24-byte header) patched to something huge.
    bytes b = valid_spec().serialize();
    const uint64_t huge = ~uint64_t{0} - 3;
    std::memcpy(b.data() + 24, &huge, 8);
    const std::string e = error_of([&] { parse(b); });
    QVERIFY2(has(e, "metadata key length") && has(e, "runs past the end"), e.c_str());
}

void TestGguf::nesting_depth_limit() {
    // depth levels of array-of-array, innermost one uint8.
    const auto nest = [](int depth) {
        bytes v = enc_arr(t_u8, 1, bytes{9});
        for (int d = 1; d < depth; ++d) v = enc_arr(t_arr, 1, v);
        return v;
    };
    gguf_spec s = valid_spec();
    s.kvs.push_back({"deep", t_arr, nest(8)});
    const auto f = parse(s.serialize());
    const rl::gguf_value* v = f->find("deep");
    for (int d = 1; d < 8; ++d) v = &v->as_array()[0];
    QCOMPARE(v->as_array()[0].as_int(), int64_t(9));
    s.kvs.back().value = nest(9);
    EXPECT_ERROR(s, "nested array depth exceeds 8");
    s.kvs.back().value = nest(5000);  // must not recurse 5000 deep
    EXPECT_ERROR(s, "nested array depth exceeds 8");
}

void TestGguf::alignment_validation() {
    for (uint32_t bad : {0u, 3u, 48u}) {
        gguf_spec s = valid_spec();
        s.kvs.push_back({"general.alignment", t_u32, enc<uint32_t>(bad)});
        EXPECT_ERROR(s, "general.alignment must be a nonzero power of two");
    }
    gguf_spec s = valid_spec();
    s.kvs.push_back({"general.alignment", t_str, enc_str("64")});
    EXPECT_ERROR(s, "key 'general.alignment' has type string");
    s = valid_spec();
    s.kvs.push_back({"general.alignment", t_i32, enc<int32_t>(-32)});
    EXPECT_ERROR(s, "must be a nonzero power of two");
    s = valid_spec();
    s.kvs.push_back({"general.alignment", t_u64, enc<uint64_t>(uint64_t{1} << 63)});
    EXPECT_ERROR(s, "must be a nonzero power of two");
}

void TestGguf::tensor_malformations() {
    gguf_spec s = valid_spec();
    s.tensors[0].n_dims = 9;
    EXPECT_ERROR(s, "tensor 'a': dimension count 9 exceeds 4");
    s = valid_spec();
    s.tensors[0].dims = {int64_t{1} << 32, int64_t{1} << 32};
    EXPECT_ERROR(s, "tensor 'a': element count overflows");
    s = valid_spec();
    s.tensors[0].dims = {4, -1};
    EXPECT_ERROR(s, "tensor 'a': negative dimension -1");
    s = valid_spec();
    s.tensors[1].type = 99;
    EXPECT_ERROR(s, "tensor 'b' has unknown type 99");
    s = valid_spec();
    s.tensors[1].type = 4;  // a retired ggml id
    EXPECT_ERROR(s, "tensor 'b' has unknown type 4");
    s = valid_spec();
    s.tensors[1].type = g_q4_0;
    s.tensors[1].dims = {33};
    EXPECT_ERROR(s, "tensor 'b': row length 33 is not a multiple of the q4_0 block size 32");
    s = valid_spec();
    s.tensors[1].offset += 4;
    EXPECT_ERROR(s, "tensor 'b': offset");
    EXPECT_ERROR(s, "is not a multiple of the alignment 32");
    s = valid_spec();
    s.tensors[2].dims = {4};  // 8 bytes, but only 6 are in the file
    EXPECT_ERROR(s, "tensor 'c' data out of bounds");
    s = valid_spec();
    s.tensors[2].offset = ~uint64_t{31};  // aligned, but data_start + offset wraps
    EXPECT_ERROR(s, "tensor 'c' data out of bounds");
    s = valid_spec();
    s.tensors[0].dims = {int64_t{1} << 40, int64_t{1} << 22};  // 2^62 floats: 2^64 bytes overflow size_t
    EXPECT_ERROR(s, "tensor 'a': data size overflows");
    s = valid_spec();
    s.tensors[0].dims = {int64_t{1} << 40};
    EXPECT_ERROR(s, "tensor 'a' data out of bounds");
    s = valid_spec();
    s.tensors[2].name = "a";
    EXPECT_ERROR(s, "duplicate tensor name 'a'");
    s = valid_spec();
    s.tensors[0].name.assign(1, 'a');
    bytes b = s.serialize();
    b.resize(b.size() - s.data.size());  // header only: every tensor points past the end
    std::string e = error_of([&] { parse(b); });
    QVERIFY2(has(e, "data out of bounds"), e.c_str());
}

void TestGguf::truncation_at_every_offset() {
    for (uint32_t version : {2u, 3u}) {
        const bytes b = valid_spec(version, 64).serialize();
        parse(b);  // the whole file is fine
        for (size_t n = 0; n < b.size(); ++n) {
            // A fresh allocation of exactly n bytes, so ASan sees any read past the end.
            bytes cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
            const std::string e = error_of([&] { gguf_file::from_bytes(cut.data(), cut.size()); });
            QVERIFY2(e != "<no error>" && !has(e, "non-engine"), (std::to_string(n) + ": " + e).c_str());
            QVERIFY2(has(e, "truncated file") || has(e, "data out of bounds") || has(e, "not a GGUF file") || has(e, "is too large"),
                     (std::to_string(n) + ": " + e).c_str());
        }
    }
    // One u32 key "k": header 24 bytes, key 8 + 1, type 4, so its value starts at offset 37.
    gguf_spec one;
    one.kvs = {{"k", t_u32, enc<uint32_t>(5)}};
    const bytes b = one.serialize();
    QCOMPARE(b.size(), size_t(41));
    const std::string e = error_of([&] { gguf_file::from_bytes(b.data(), 39); });
    QVERIFY2(has(e, "truncated file: need 4 bytes for uint32 value at offset 37, 2 left"), e.c_str());
}

void TestGguf::byte_mutations_never_crash() {
    // Every byte overwritten with a few values, then random multi-byte damage: each parse must
    // succeed or throw engine_error; anything else (a crash, bad_alloc) fails the test.
    const bytes good = valid_spec().serialize();
    int ok = 0, rejected = 0;
    const auto attempt = [&](const bytes& b) {
        const std::string e = error_of([&] { parse(b); });
        if (e == "<no error>") ++ok; else ++rejected;
        return !has(e, "non-engine");
    };
    for (size_t i = 0; i < good.size(); ++i) {
        for (int v : {0x00, 0xff, 0x80, good[i] ^ 0x01, good[i] + 9}) {
            bytes b = good;
            b[i] = static_cast<uint8_t>(v);
            QVERIFY2(attempt(b), ("byte " + std::to_string(i)).c_str());
        }
    }
    std::mt19937 rng(1234);
    for (int it = 0; it < 3000; ++it) {
        bytes b = good;
        const int hits = 1 + static_cast<int>(rng() % 4);
        for (int h = 0; h < hits; ++h) b[rng() % b.size()] = static_cast<uint8_t>(rng());
        if (rng() % 4 == 0) b.resize(rng() % b.size());
        QVERIFY2(attempt(b), ("iteration " + std::to_string(it)).c_str());
    }
    QVERIFY(ok > 0 && rejected > 0);
}

void TestGguf::open_maps_a_file() {
    const gguf_spec s = valid_spec(3, 64);
    const bytes b = s.serialize();
    const std::string path = temp_path("ok");
    {
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    }
    {
        const auto f = gguf_file::open(path);
        QCOMPARE(f->path(), path);
        QCOMPARE(f->file_size(), b.size());
        QCOMPARE(f->alignment(), size_t(64));
        QCOMPARE(f->get_string("t.str"), std::string("h\xc3\xa9llo"));
        const rl::gguf_tensor_info& c = f->tensor("c");
        QVERIFY(std::memcmp(c.data, s.data.data() + c.offset, c.nbytes) == 0);
    }
    std::remove(path.c_str());
}

void TestGguf::open_errors_name_the_path() {
    std::string e = error_of([] { gguf_file::open("/nonexistent/dir/model.gguf"); });
    QVERIFY2(has(e, "cannot open '/nonexistent/dir/model.gguf': No such file or directory"), e.c_str());
    const std::string dir = std::filesystem::temp_directory_path().string();
    e = error_of([&] { gguf_file::open(dir); });
    QVERIFY2(has(e, ("cannot open '" + dir + "'").c_str()) && has(e, "not a regular file"), e.c_str());
    const std::string path = temp_path("bad");
    {
        std::ofstream out(path, std::ios::binary);
        out << "this is not a gguf file at all";
    }
    e = error_of([&] { gguf_file::open(path); });
    std::remove(path.c_str());
    QVERIFY2(has(e, ("'" + path + "'").c_str()) && has(e, "not a GGUF file (bad magic)"), e.c_str());
    const std::string empty = temp_path("empty");
    { std::ofstream out(empty, std::ios::binary); }
    e = error_of([&] { gguf_file::open(empty); });
    std::remove(empty.c_str());
    QVERIFY2(has(e, "not a GGUF file"), e.c_str());
}

void TestGguf::real_model() {
    const std::string path = RL_MODEL_PATH;
    if (!std::filesystem::exists(path)) QFAIL(("model file " + path + " is missing: run scripts/fetch-model").c_str());
    const auto f = gguf_file::open(path);
    QCOMPARE(f->version(), 3u);
    QCOMPARE(f->tensors().size(), size_t(272));
    QCOMPARE(f->get_string("general.architecture"), std::string("llama"));
    QCOMPARE(f->get_int("llama.block_count"), int64_t(30));
    const rl::gguf_tensor_info& emb = f->tensor("token_embd.weight");
    QCOMPARE(emb.type, rl::ggml_type::q8_0);
    QCOMPARE(emb.dims.size(), size_t(2));
    QCOMPARE(emb.dims[0], int64_t(576));
    QCOMPARE(emb.dims[1], int64_t(49152));
    QCOMPARE(emb.nbytes, size_t(576) / 32 * 34 * 49152);
    const rl::gguf_array& tokens = f->get_array("tokenizer.ggml.tokens");
    QCOMPARE(tokens.size(), size_t(49152));
    QCOMPARE(f->find("tokenizer.ggml.tokens")->elem_type, gguf_value_type::string);
    for (const rl::gguf_value& t : tokens) QVERIFY(t.type == gguf_value_type::string);
    // Every tensor lies inside the mapping, and a row of the embedding dequantizes to finite values.
    for (const rl::gguf_tensor_info& t : f->tensors()) QVERIFY(t.data && t.nbytes > 0);
    std::vector<float> row(576);
    rl::dequantize_row(emb.type, emb.data + emb.nbytes - ggml_row_bytes(emb.type, 576), row.data(), 576);
    for (float x : row) QVERIFY(std::isfinite(x));
}

RL_TEST_MAIN(TestGguf, every_value_type, nested_arrays, version2_reads_like_version3, alignment_sets_data_start,
             typed_getters, bad_magic_and_versions, absurd_counts, metadata_malformations, nesting_depth_limit,
             alignment_validation, tensor_malformations, truncation_at_every_offset, byte_mutations_never_crash,
             open_maps_a_file, open_errors_name_the_path, real_model)
#include "test_gguf.moc"
