// fuzz_main: the libFuzzer glue, compiled once per target with RL_FUZZ_INIT / RL_FUZZ_ONE naming
// that target's functions from fuzz_targets.h (tests/fuzz/CMakeLists.txt sets them), so the
// binaries and the regression test share one implementation of each target.
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    RL_FUZZ_INIT();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return RL_FUZZ_ONE(data, size); }
