// jinja_helpers: what jinja_builtins.cpp and jinja_filters.cpp share (Python's semantics for
// stripping, splitting, lengths, ordering and membership, and the size bounds for values built
// from untrusted templates). Internal to the interpreter.
#pragma once
#include "tokenizer/jinja_builtins.h"

#include <string>

namespace rl::jinja {

constexpr size_t kMaxString = size_t(16) << 20;   // bytes a string value may reach
constexpr size_t kMaxList = 1'000'000;            // items a list value may reach

/// The argument at `pos`, or the one named `name`; null when neither was given.
const value* arg(const call_args& a, size_t pos, const char* name);
std::string strip_chars(const std::string& s, const value* chars, bool left, bool right);
value split_str(const std::string& s, const value* sep, const value* maxsplit);
std::string replace_all(std::string s, const std::string& from, const std::string& to);
std::string upper(std::string s);
std::string lower(std::string s);
int64_t length(const value& v, int line);
array items_of(const value& v);
array as_list(const value& v, int line);
bool less(const value& a, const value& b, int line);
bool contains(const value& hay, const value& needle, int line);
int64_t index_of(int64_t i, int64_t n);
void check_size(size_t bytes, int line);
/// A string's characters (code points, each as its UTF-8 bytes; a stray byte stands alone):
/// Python indexes, slices, counts and iterates strings by character, not by byte.
std::vector<std::string> utf8_chars(const std::string& s);
/// A number as an int64, or an error naming the operation when it does not fit.
int64_t to_int(const value& v, int line, const char* what);

} // namespace rl::jinja
