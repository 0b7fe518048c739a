// passages: built-in English text that virtual users quote, summarise and ask about.
#pragma once
#include <string>
#include <vector>

namespace rl {
const std::vector<std::string>& builtin_passages();
const std::vector<std::string>& builtin_questions();
const std::vector<std::string>& builtin_writing_tasks();
} // namespace rl
