// gguf_file: parsing and validation of GGUF v2/v3 (header, metadata, tensor infos, data
// section), mmap of files on disk, and the typed metadata getters.
// All reads go through a bounds-checked cursor; counts are checked against the bytes left
// before anything is allocated, so a malformed or hostile file yields one engine_error line.
// Exercised by tests/test_gguf.cpp (in-memory builder, malformations, every truncation).
#include "gguf/gguf_file.h"
#include "common/engine_error.h"
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rl {

namespace {

constexpr uint32_t gguf_magic = 0x46554747;  // "GGUF" read little-endian
constexpr uint32_t max_dims = 4;             // GGML_MAX_DIMS
constexpr int max_array_depth = 8;           // nesting beyond this is not a real file

using vt = gguf_value_type;

const char* value_type_name(vt t) {
    static const char* const names[] = {"uint8", "int8",  "uint16", "int16", "uint32", "int32",  "float32",
                                        "bool",  "string", "array", "uint64", "int64", "float64"};
    const auto i = static_cast<uint32_t>(t);
    return i < 13 ? names[i] : "unknown";
}

// Fixed on-disk size of scalar types; 0 for string/array (variable) and unknown ids.
size_t scalar_size(uint32_t t) {
    switch (static_cast<vt>(t)) {
    case vt::uint8: case vt::int8: case vt::boolean: return 1;
    case vt::uint16: case vt::int16: return 2;
    case vt::uint32: case vt::int32: case vt::float32: return 4;
    case vt::uint64: case vt::int64: case vt::float64: return 8;
    default: return 0;
    }
}

// The fewest bytes one value of type t can take: used to reject counts the file cannot hold.
size_t min_value_size(uint32_t t) {
    if (t == static_cast<uint32_t>(vt::string)) return 8;   // length only
    if (t == static_cast<uint32_t>(vt::array)) return 12;   // elem type + count
    return scalar_size(t);
}

class cursor {
public:
    cursor(const uint8_t* p, size_t n) : p_(p), n_(n) {}
    size_t pos() const { return pos_; }
    size_t left() const { return n_ - pos_; }

    void need(size_t k, const char* what) const {
        if (k > left())
            RL_THROW("truncated file: need " + std::to_string(k) + " bytes for " + what + " at offset " +
                     std::to_string(pos_) + ", " + std::to_string(left()) + " left");
    }
    template <typename T>
    T read(const char* what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, p_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    std::string read_string(const char* what) {
        const size_t at = pos_;
        const uint64_t len = read<uint64_t>(what);
        if (len > left())
            RL_THROW("truncated file: " + std::string(what) + " length " + std::to_string(len) + " at offset " +
                     std::to_string(at) + " runs past the end of the file (" + std::to_string(left()) + " bytes left)");
        std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
        pos_ += static_cast<size_t>(len);
        return s;
    }

private:
    const uint8_t* p_;
    size_t n_;
    size_t pos_ = 0;
};

gguf_value read_value(cursor& c, uint32_t type, const std::string& key, int depth);

gguf_value read_array(cursor& c, const std::string& key, int depth) {
    RL_CHECK(depth < max_array_depth,
             "key '" + key + "': nested array depth exceeds " + std::to_string(max_array_depth));
    const uint32_t elem = c.read<uint32_t>("array element type");
    const size_t min_size = min_value_size(elem);
    RL_CHECK(min_size != 0, "key '" + key + "': unknown array element type " + std::to_string(elem));
    const size_t at = c.pos();
    const uint64_t count = c.read<uint64_t>("array length");
    if (count > c.left() / min_size)
        RL_THROW("key '" + key + "': array length " + std::to_string(count) + " at offset " + std::to_string(at) +
                 " is too large for the " + std::to_string(c.left()) + " bytes left");
    gguf_value out;
    out.type = vt::array;
    out.elem_type = static_cast<vt>(elem);
    gguf_array arr;
    arr.reserve(static_cast<size_t>(count));
    for (uint64_t i = 0; i < count; ++i) arr.push_back(read_value(c, elem, key, depth + 1));
    out.v = std::move(arr);
    return out;
}

gguf_value read_value(cursor& c, uint32_t type, const std::string& key, int depth) {
    gguf_value out;
    out.type = static_cast<vt>(type);
    switch (out.type) {
    case vt::uint8: out.v = uint64_t{c.read<uint8_t>("uint8 value")}; break;
    case vt::uint16: out.v = uint64_t{c.read<uint16_t>("uint16 value")}; break;
    case vt::uint32: out.v = uint64_t{c.read<uint32_t>("uint32 value")}; break;
    case vt::uint64: out.v = c.read<uint64_t>("uint64 value"); break;
    case vt::int8: out.v = int64_t{c.read<int8_t>("int8 value")}; break;
    case vt::int16: out.v = int64_t{c.read<int16_t>("int16 value")}; break;
    case vt::int32: out.v = int64_t{c.read<int32_t>("int32 value")}; break;
    case vt::int64: out.v = c.read<int64_t>("int64 value"); break;
    case vt::float32: out.v = double{c.read<float>("float32 value")}; break;
    case vt::float64: out.v = c.read<double>("float64 value"); break;
    case vt::boolean: {
        const size_t at = c.pos();
        const uint8_t b = c.read<uint8_t>("bool value");
        RL_CHECK(b <= 1, "key '" + key + "': invalid bool value " + std::to_string(b) + " at offset " + std::to_string(at));
        out.v = b == 1;
        break;
    }
    case vt::string: out.v = c.read_string("string value"); break;
    case vt::array: return read_array(c, key, depth);
    default: RL_THROW("key '" + key + "': unknown metadata value type " + std::to_string(type));
    }
    return out;
}

std::string type_mismatch(std::string_view key, const gguf_value& v, const char* expected) {
    return "key '" + std::string(key) + "' has type " + value_type_name(v.type) + ", expected " + expected;
}

} // namespace

// ---- gguf_value ----------------------------------------------------------------------------

bool gguf_value::is_int() const {
    return std::holds_alternative<uint64_t>(v) || std::holds_alternative<int64_t>(v);
}
bool gguf_value::is_float() const { return std::holds_alternative<double>(v); }

int64_t gguf_value::as_int() const {
    if (const auto* u = std::get_if<uint64_t>(&v)) {
        RL_CHECK(*u <= static_cast<uint64_t>(INT64_MAX), "value " + std::to_string(*u) + " is out of the int64 range");
        return static_cast<int64_t>(*u);
    }
    if (const auto* i = std::get_if<int64_t>(&v)) return *i;
    RL_THROW(std::string("value has type ") + value_type_name(type) + ", expected an integer");
}
double gguf_value::as_float() const {
    if (const auto* d = std::get_if<double>(&v)) return *d;
    if (const auto* u = std::get_if<uint64_t>(&v)) return static_cast<double>(*u);
    if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
    RL_THROW(std::string("value has type ") + value_type_name(type) + ", expected a number");
}
bool gguf_value::as_bool() const {
    if (const auto* b = std::get_if<bool>(&v)) return *b;
    RL_THROW(std::string("value has type ") + value_type_name(type) + ", expected bool");
}
const std::string& gguf_value::as_string() const {
    if (const auto* s = std::get_if<std::string>(&v)) return *s;
    RL_THROW(std::string("value has type ") + value_type_name(type) + ", expected string");
}
const gguf_array& gguf_value::as_array() const {
    if (const auto* a = std::get_if<gguf_array>(&v)) return *a;
    RL_THROW(std::string("value has type ") + value_type_name(type) + ", expected array");
}

int64_t gguf_tensor_info::n_elements() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;  // validated against overflow when parsed
    return n;
}

// ---- opening -------------------------------------------------------------------------------

std::unique_ptr<gguf_file> gguf_file::open(const std::string& path) {
    std::unique_ptr<gguf_file> f(new gguf_file());
    f->path_ = path;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) RL_THROW("cannot open '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        RL_THROW("cannot stat '" + path + "': " + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        RL_THROW("cannot open '" + path + "': not a regular file");
    }
    f->size_ = static_cast<size_t>(st.st_size);
    if (f->size_ > 0) {
        void* m = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            RL_THROW("cannot mmap '" + path + "': " + std::strerror(err));
        }
        f->mapping_ = m;
        f->base_ = static_cast<const uint8_t*>(m);
    }
    ::close(fd);  // the mapping keeps the file alive
    try {
        f->parse();
    } catch (const engine_error& e) {
        throw engine_error("'" + path + "': " + e.what(), e.file(), e.line());
    }
    return f;
}

std::unique_ptr<gguf_file> gguf_file::from_bytes(const uint8_t* data, size_t size) {
    std::unique_ptr<gguf_file> f(new gguf_file());
    f->owned_.assign(data, data + size);
    f->base_ = f->owned_.data();
    f->size_ = size;
    f->parse();
    return f;
}

gguf_file::~gguf_file() {
    if (mapping_) ::munmap(mapping_, size_);
}

// ---- parsing -------------------------------------------------------------------------------

void gguf_file::parse() {
    cursor c(base_, size_);
    RL_CHECK(size_ >= 4, "not a GGUF file (only " + std::to_string(size_) + " bytes)");
    RL_CHECK(c.read<uint32_t>("magic") == gguf_magic, "not a GGUF file (bad magic)");
    version_ = c.read<uint32_t>("version");
    if (version_ != 2 && version_ != 3) {
        // A byte-swapped small number is a big-endian file, which we do not read.
        const bool swapped = (version_ & 0xffff) == 0 && version_ != 0;
        RL_THROW("unsupported GGUF version " + std::to_string(version_) +
                 (swapped ? " (big-endian files are not supported)" : " (only versions 2 and 3 are)"));
    }
    const uint64_t n_tensors = c.read<uint64_t>("tensor count");
    const uint64_t n_kv = c.read<uint64_t>("metadata count");
    // Smallest tensor info: name length, n_dims, type, offset. Smallest key/value: key length,
    // type, a one-byte value. Reject counts the file cannot hold before reserving anything.
    constexpr size_t min_kv = 8 + 4 + 1, min_tensor = 8 + 4 + 4 + 8;
    RL_CHECK(n_kv <= c.left() / min_kv, "metadata count " + std::to_string(n_kv) + " is too large for the " +
                                            std::to_string(size_) + "-byte file (corrupt or truncated)");
    RL_CHECK(n_tensors <= c.left() / min_tensor, "tensor count " + std::to_string(n_tensors) + " is too large for the " +
                                                     std::to_string(size_) + "-byte file (corrupt or truncated)");

    for (uint64_t i = 0; i < n_kv; ++i) {
        std::string key = c.read_string("metadata key");
        const uint32_t type = c.read<uint32_t>("metadata value type");
        gguf_value val = read_value(c, type, key, 0);
        RL_CHECK(!kv_.count(key), "duplicate metadata key '" + key + "'");
        kv_.emplace(std::move(key), std::move(val));
    }

    alignment_ = 32;
    if (const gguf_value* a = find("general.alignment")) {
        RL_CHECK(a->is_int(), type_mismatch("general.alignment", *a, "an integer"));
        const auto* u = std::get_if<uint64_t>(&a->v);
        const auto* s = std::get_if<int64_t>(&a->v);
        const uint64_t al = u ? *u : (*s < 0 ? 0 : static_cast<uint64_t>(*s));
        RL_CHECK(al != 0 && (al & (al - 1)) == 0 && al <= (uint64_t{1} << 30),
                 "general.alignment must be a nonzero power of two (at most 2^30), got " +
                     (u ? std::to_string(*u) : std::to_string(*s)));
        alignment_ = static_cast<size_t>(al);
    }

    tensors_.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
        gguf_tensor_info t;
        t.name = c.read_string("tensor name");
        const std::string q = "tensor '" + t.name + "'";
        const uint32_t n_dims = c.read<uint32_t>("tensor dimension count");
        RL_CHECK(n_dims <= max_dims, q + ": dimension count " + std::to_string(n_dims) + " exceeds " + std::to_string(max_dims));
        int64_t n_el = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const int64_t dim = c.read<int64_t>("tensor dimension");
            RL_CHECK(dim >= 0, q + ": negative dimension " + std::to_string(dim));
            RL_CHECK(!__builtin_mul_overflow(n_el, dim, &n_el), q + ": element count overflows");
            t.dims.push_back(dim);
        }
        const uint32_t raw_type = c.read<uint32_t>("tensor type");
        const ggml_type_traits tr = ggml_traits(raw_type);
        RL_CHECK(tr.name, q + " has unknown type " + std::to_string(raw_type));
        t.type = static_cast<ggml_type>(raw_type);
        t.offset = c.read<uint64_t>("tensor offset");
        RL_CHECK(t.offset % alignment_ == 0, q + ": offset " + std::to_string(t.offset) +
                                                 " is not a multiple of the alignment " + std::to_string(alignment_));
        const int64_t row = t.row_length();
        RL_CHECK(row % tr.block_elems == 0, q + ": row length " + std::to_string(row) + " is not a multiple of the " +
                                                tr.name + " block size " + std::to_string(tr.block_elems));
        const size_t row_bytes = ggml_row_bytes(t.type, row);
        const uint64_t rows = row ? static_cast<uint64_t>(n_el / row) : 0;
        RL_CHECK(!__builtin_mul_overflow(row_bytes, rows, &t.nbytes), q + ": data size overflows");
        RL_CHECK(!tensor_index_.count(t.name), "duplicate tensor name '" + t.name + "'");
        tensor_index_.emplace(t.name, tensors_.size());
        tensors_.push_back(std::move(t));
    }

    // The data section starts at the next multiple of the alignment (alignment <= 2^30, so
    // this cannot wrap). Each tensor must lie wholly inside the file.
    const uint64_t data_start = (static_cast<uint64_t>(c.pos()) + alignment_ - 1) / alignment_ * alignment_;
    for (gguf_tensor_info& t : tensors_) {
        uint64_t begin = 0, end = 0;
        const bool ok = !__builtin_add_overflow(data_start, t.offset, &begin) &&
                        !__builtin_add_overflow(begin, static_cast<uint64_t>(t.nbytes), &end) && end <= size_;
        RL_CHECK(ok, "tensor '" + t.name + "' data out of bounds (offset " + std::to_string(t.offset) + ", " +
                         std::to_string(t.nbytes) + " bytes, data section at " + std::to_string(data_start) +
                         ", file " + std::to_string(size_) + " bytes): the file is truncated or corrupt");
        t.data = base_ + begin;
    }
}

// ---- lookups -------------------------------------------------------------------------------

const gguf_value* gguf_file::find(std::string_view key) const {
    const auto it = kv_.find(std::string(key));
    return it == kv_.end() ? nullptr : &it->second;
}

static const gguf_value& require(const gguf_file& f, std::string_view key) {
    const gguf_value* v = f.find(key);
    RL_CHECK(v, "missing required key '" + std::string(key) + "'");
    return *v;
}

int64_t gguf_file::get_int(std::string_view key) const {
    const gguf_value& v = require(*this, key);
    RL_CHECK(v.is_int(), type_mismatch(key, v, "an integer"));
    try {
        return v.as_int();
    } catch (const engine_error& e) {
        RL_THROW("key '" + std::string(key) + "': " + e.what());
    }
}
double gguf_file::get_float(std::string_view key) const {
    const gguf_value& v = require(*this, key);
    RL_CHECK(v.is_float() || v.is_int(), type_mismatch(key, v, "a number"));
    return v.as_float();
}
bool gguf_file::get_bool(std::string_view key) const {
    const gguf_value& v = require(*this, key);
    RL_CHECK(v.type == vt::boolean, type_mismatch(key, v, "bool"));
    return v.as_bool();
}
const std::string& gguf_file::get_string(std::string_view key) const {
    const gguf_value& v = require(*this, key);
    RL_CHECK(v.type == vt::string, type_mismatch(key, v, "string"));
    return v.as_string();
}
const gguf_array& gguf_file::get_array(std::string_view key) const {
    const gguf_value& v = require(*this, key);
    RL_CHECK(v.type == vt::array, type_mismatch(key, v, "array"));
    return v.as_array();
}
// The *_or getters fall back only when the key is absent; a key of the wrong type still throws.
int64_t gguf_file::get_int_or(std::string_view key, int64_t fallback) const { return has(key) ? get_int(key) : fallback; }
double gguf_file::get_float_or(std::string_view key, double fallback) const { return has(key) ? get_float(key) : fallback; }
bool gguf_file::get_bool_or(std::string_view key, bool fallback) const { return has(key) ? get_bool(key) : fallback; }
std::string gguf_file::get_string_or(std::string_view key, const std::string& fallback) const {
    return has(key) ? get_string(key) : fallback;
}

const gguf_tensor_info* gguf_file::find_tensor(std::string_view name) const {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}
const gguf_tensor_info& gguf_file::tensor(std::string_view name) const {
    const gguf_tensor_info* t = find_tensor(name);
    RL_CHECK(t, "missing tensor '" + std::string(name) + "'");
    return *t;
}

} // namespace rl
