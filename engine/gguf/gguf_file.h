// gguf_file: a validated, memory-mapped GGUF (v2 and v3) file: metadata key/values and tensor infos.
// Every structural problem is reported as one engine_error line naming the problem; nothing
// in a malformed file can make the reader crash or read out of bounds.
#pragma once
#include "gguf/ggml_types.h"
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace rl {

/// The value types of GGUF metadata, numbered as the file stores them (GGUF_TYPE_* in gguf.h).
enum class gguf_value_type : uint32_t {
    uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6,
    boolean = 7, string = 8, array = 9,
    uint64 = 10, int64 = 11, float64 = 12,
};

struct gguf_value;
using gguf_array = std::vector<gguf_value>;

/// One metadata value. Integers are widened to (u)int64, floats to double; `type` keeps the
/// on-disk type and `elem_type` the element type of arrays (arrays may nest).
struct gguf_value {
    gguf_value_type type{};
    gguf_value_type elem_type{};  // arrays only
    std::variant<uint64_t, int64_t, double, bool, std::string, gguf_array> v;

    bool is_int() const;                     // any integer type
    bool is_float() const;
    int64_t as_int() const;                  // throws engine_error if not an integer (or out of range)
    double as_float() const;                 // integers convert too
    bool as_bool() const;
    const std::string& as_string() const;
    const gguf_array& as_array() const;
};

struct gguf_tensor_info {
    std::string name;
    ggml_type type{};
    std::vector<int64_t> dims;   // ggml order: dims[0] is the innermost (row length)
    uint64_t offset = 0;         // relative to the data section
    const uint8_t* data = nullptr;
    size_t nbytes = 0;

    int64_t n_elements() const;
    int64_t row_length() const { return dims.empty() ? 1 : dims[0]; }
    int64_t n_rows() const { return row_length() ? n_elements() / row_length() : 0; }
};

class gguf_file {
public:
    /// Opens and validates a file (mmap). Throws engine_error with one clear line.
    static std::unique_ptr<gguf_file> open(const std::string& path);
    /// Parses a buffer already in memory (tests, fuzzing). The buffer is copied.
    static std::unique_ptr<gguf_file> from_bytes(const uint8_t* data, size_t size);
    ~gguf_file();
    gguf_file(const gguf_file&) = delete;
    gguf_file& operator=(const gguf_file&) = delete;

    uint32_t version() const { return version_; }
    size_t alignment() const { return alignment_; }
    const std::string& path() const { return path_; }
    size_t file_size() const { return size_; }

    const std::map<std::string, gguf_value>& metadata() const { return kv_; }
    const gguf_value* find(std::string_view key) const;
    bool has(std::string_view key) const { return find(key) != nullptr; }

    // Typed getters: throw engine_error "missing required key 'X'" or "key 'X' has type T, expected U".
    int64_t get_int(std::string_view key) const;
    double get_float(std::string_view key) const;
    bool get_bool(std::string_view key) const;
    const std::string& get_string(std::string_view key) const;
    const gguf_array& get_array(std::string_view key) const;
    int64_t get_int_or(std::string_view key, int64_t fallback) const;
    double get_float_or(std::string_view key, double fallback) const;
    bool get_bool_or(std::string_view key, bool fallback) const;
    std::string get_string_or(std::string_view key, const std::string& fallback) const;

    const std::vector<gguf_tensor_info>& tensors() const { return tensors_; }
    const gguf_tensor_info* find_tensor(std::string_view name) const;
    const gguf_tensor_info& tensor(std::string_view name) const;  // throws "missing tensor 'X'"

private:
    gguf_file() = default;
    void parse();

    std::string path_;
    const uint8_t* base_ = nullptr;
    size_t size_ = 0;
    void* mapping_ = nullptr;            // mmap'd region, or nullptr
    std::vector<uint8_t> owned_;         // from_bytes copy
    uint32_t version_ = 0;
    size_t alignment_ = 32;
    std::map<std::string, gguf_value> kv_;
    std::vector<gguf_tensor_info> tensors_;
    std::map<std::string, size_t, std::less<>> tensor_index_;
};

} // namespace rl
