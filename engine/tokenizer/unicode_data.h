// unicode_data: per-codepoint flags (general category and whitespace) for the pre-tokenizer.
// The table behind flags_of() lives in unicode_data.cpp, which dev/tools/gen_unicode_data.py
// generates; the flag values mirror llama.cpp's so the splitting rules read the same.
#pragma once
#include <cstdint>

namespace rl::unicode {

enum flag : uint16_t {
    flag_undefined = 0x0001,    // Cn: unassigned
    flag_number = 0x0002,       // \p{N}
    flag_letter = 0x0004,       // \p{L}
    flag_separator = 0x0008,    // \p{Z}
    flag_accent_mark = 0x0010,  // \p{M}
    flag_punctuation = 0x0020,  // \p{P}
    flag_symbol = 0x0040,       // \p{S}
    flag_control = 0x0080,      // \p{C} other than Cn
    flag_whitespace = 0x0100,   // \s as llama.cpp defines it
};

/// Flags of a codepoint; 0 for values past U+10FFFF.
uint16_t flags_of(uint32_t cpt);
/// Which Unicode data the table was generated from, e.g. "unicodedata2 15.1.0".
const char* data_version();

} // namespace rl::unicode
