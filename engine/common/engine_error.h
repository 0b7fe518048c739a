// engine_error: the one exception type the engine throws, carrying where it came from.
// RL_CHECK(cond, msg) is for conditions a user can cause (bad files, bad settings);
// assert() stays for internal invariants only.
#pragma once
#include <stdexcept>
#include <string>

namespace rl {

class engine_error : public std::runtime_error {
public:
    engine_error(const std::string& what, const char* file = "", int line = 0)
        : std::runtime_error(what), file_(file), line_(line) {}
    const char* file() const { return file_; }
    int line() const { return line_; }

private:
    const char* file_;
    int line_;
};

} // namespace rl

#define RL_THROW(msg) throw ::rl::engine_error((msg), __FILE__, __LINE__)
#define RL_CHECK(cond, msg)                                                  \
    do {                                                                     \
        if (!(cond)) throw ::rl::engine_error((msg), __FILE__, __LINE__);    \
    } while (0)
