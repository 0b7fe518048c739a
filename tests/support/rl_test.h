// rl_test.h: every test is a Qt Test class. With Qt present (the normal build) this is QtTest
// itself. In -DRIDGELINE_GUI=OFF builds on machines without Qt (the GPU machine), the same
// sources compile against a small stand-in that implements the QtTest macros the engine tests
// use (QVERIFY, QVERIFY2, QCOMPARE, QSKIP, QFAIL, QWARN) and runs the slots named in RL_TEST_MAIN.
//
//   class TestFoo : public QObject { Q_OBJECT private slots: void bar(); };
//   RL_TEST_MAIN(TestFoo, bar)      // list every test slot; Qt ignores the list (moc finds them)
//   #include "test_foo.moc"         // required by AUTOMOC; guarded away without Qt
#pragma once

#if defined(RL_HAVE_QTTEST)
#include <QtTest/QtTest>
#define RL_TEST_MAIN(Class, ...) QTEST_GUILESS_MAIN(Class)
#define RL_TEST_WITH_QT 1
#else
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <type_traits>

class QObject {
public:
    virtual ~QObject() = default;
};
namespace rl_qtest { struct access; }
// Test slots are private; the generated runner is a friend so it can take their addresses.
#define Q_OBJECT friend struct ::rl_qtest::access;
#define slots

namespace rl_qtest {
enum class outcome { pass, fail, skip };
inline outcome& current() { static outcome o = outcome::pass; return o; }
template <typename T>
std::string show(const T& v) {
    if constexpr (std::is_enum_v<T>) {
        return std::to_string(static_cast<long long>(v));
    } else if constexpr (requires(std::ostream& os, const T& x) { os << x; }) {
        std::ostringstream os;
        os << v;
        return os.str();
    } else {
        return "<value>";
    }
}
inline bool fuzzy_equal(double a, double b) { return std::fabs(a - b) * 1e12 <= std::min(std::fabs(a), std::fabs(b)); }
template <typename A, typename B>
bool compare(const A& a, const B& b, const char* sa, const char* sb, const char* file, int line) {
    bool eq;
    if constexpr (std::is_floating_point_v<A> && std::is_floating_point_v<B>) eq = (a == b) || fuzzy_equal(a, b);
    else eq = (a == b);
    if (!eq) {
        std::printf("FAIL!  : Compared values are not the same\n   Actual   (%s): %s\n   Expected (%s): %s\n   Loc: [%s(%d)]\n",
                    sa, show(a).c_str(), sb, show(b).c_str(), file, line);
        current() = outcome::fail;
    }
    return eq;
}
template <typename T>
int run(const char* class_name, std::initializer_list<std::pair<const char*, void (T::*)()>> fns) {
    int failed = 0, passed = 0, skipped = 0;
    std::printf("********* Start testing of %s (qtest stand-in) *********\n", class_name);
    for (auto& [name, fn] : fns) {
        T obj;
        current() = outcome::pass;
        (obj.*fn)();
        if (current() == outcome::pass) { ++passed; std::printf("PASS   : %s::%s()\n", class_name, name); }
        else if (current() == outcome::skip) { ++skipped; }
        else { ++failed; std::printf("FAIL   : %s::%s()\n", class_name, name); }
    }
    std::printf("Totals: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
} // namespace rl_qtest

#define QVERIFY(c) do { if (!(c)) { std::printf("FAIL!  : '%s' returned FALSE. Loc: [%s(%d)]\n", #c, __FILE__, __LINE__); rl_qtest::current() = rl_qtest::outcome::fail; return; } } while (0)
#define QVERIFY2(c, msg) do { if (!(c)) { std::printf("FAIL!  : '%s' returned FALSE. (%s) Loc: [%s(%d)]\n", #c, static_cast<const char*>(msg), __FILE__, __LINE__); rl_qtest::current() = rl_qtest::outcome::fail; return; } } while (0)
#define QCOMPARE(a, b) do { if (!rl_qtest::compare((a), (b), #a, #b, __FILE__, __LINE__)) return; } while (0)
#define QFAIL(msg) do { std::printf("FAIL!  : %s Loc: [%s(%d)]\n", std::string(msg).c_str(), __FILE__, __LINE__); rl_qtest::current() = rl_qtest::outcome::fail; return; } while (0)
#define QSKIP(msg) do { std::printf("SKIP   : %s\n", std::string(msg).c_str()); rl_qtest::current() = rl_qtest::outcome::skip; return; } while (0)
#define QWARN(msg) std::printf("WARNING: %s\n", std::string(msg).c_str())
#define RL_TEST_ENTRY_(C, f) std::pair<const char*, void (C::*)()>{#f, &C::f}
#define RL_TE_1(C, a) RL_TEST_ENTRY_(C, a)
#define RL_TE_2(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_1(C, __VA_ARGS__)
#define RL_TE_3(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_2(C, __VA_ARGS__)
#define RL_TE_4(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_3(C, __VA_ARGS__)
#define RL_TE_5(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_4(C, __VA_ARGS__)
#define RL_TE_6(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_5(C, __VA_ARGS__)
#define RL_TE_7(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_6(C, __VA_ARGS__)
#define RL_TE_8(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_7(C, __VA_ARGS__)
#define RL_TE_9(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_8(C, __VA_ARGS__)
#define RL_TE_10(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_9(C, __VA_ARGS__)
#define RL_TE_11(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_10(C, __VA_ARGS__)
#define RL_TE_12(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_11(C, __VA_ARGS__)
#define RL_TE_13(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_12(C, __VA_ARGS__)
#define RL_TE_14(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_13(C, __VA_ARGS__)
#define RL_TE_15(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_14(C, __VA_ARGS__)
#define RL_TE_16(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_15(C, __VA_ARGS__)
#define RL_TE_17(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_16(C, __VA_ARGS__)
#define RL_TE_18(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_17(C, __VA_ARGS__)
#define RL_TE_19(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_18(C, __VA_ARGS__)
#define RL_TE_20(C, a, ...) RL_TEST_ENTRY_(C, a), RL_TE_19(C, __VA_ARGS__)
#define RL_TE_PICK_(_1,_2,_3,_4,_5,_6,_7,_8,_9,_10,_11,_12,_13,_14,_15,_16,_17,_18,_19,_20,N,...) RL_TE_##N
#define RL_TEST_ENTRIES_(C, ...) RL_TE_PICK_(__VA_ARGS__,20,19,18,17,16,15,14,13,12,11,10,9,8,7,6,5,4,3,2,1,0)(C, __VA_ARGS__)
#define RL_TEST_MAIN(Class, ...)                                                                   \
    struct rl_qtest::access {                                                                      \
        static int main_() { return rl_qtest::run<Class>(#Class, {RL_TEST_ENTRIES_(Class, __VA_ARGS__)}); } \
    };                                                                                             \
    int main() { return rl_qtest::access::main_(); }
#endif
