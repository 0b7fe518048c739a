// token_text.h: token ids as one line of text ("12 7 99 "), for the messages of the golden tests
// (test_golden, test_families, test_sliding_window) when a continuation differs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

inline std::string show_ids(const std::vector<int32_t>& v) {
    std::string s;
    for (int32_t x : v) s += std::to_string(x) + " ";
    return s;
}
