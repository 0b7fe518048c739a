// memory_fit: the one rule for "do these weights fit?", checked before any weight is allocated
// (a model too big for RAM must be refused with a reason, not die in the OOM killer halfway
// through a multi-GiB fill). Pure, so tests can feed it any available-memory figure.
// Exercise: tests/test_bad_models.cpp (resources).
#pragma once
#include <cstddef>
#include <string>

namespace rl {

/// "" when `need_bytes` of weights fit in `available_bytes` on a `kind` ("cpu", "cuda") backend,
/// else one line naming both figures. available_bytes == 0 means unknown: never refused.
/// `what` names the model ("synthetic:llama3-8b", a file name), `dtype` the stored type ("fp32").
inline std::string weights_fit(size_t need_bytes, size_t available_bytes, const std::string& kind,
                               const std::string& dtype, const std::string& what) {
    if (available_bytes == 0 || need_bytes <= available_bytes) return "";
    const auto mib = [](size_t b) { return std::to_string((b + (size_t(1) << 20) - 1) >> 20) + " MiB"; };
    const std::string where = kind == "cpu" ? "of RAM is available (MemAvailable)" : "is free on the " + kind + " device";
    return "the weights of " + what + " need " + mib(need_bytes) + " as " + dtype +
           " on the " + kind + " backend but only " + mib(available_bytes) + " " + where +
           ": choose a smaller or more quantized model";
}

} // namespace rl
