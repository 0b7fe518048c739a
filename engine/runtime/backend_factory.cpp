// backend_factory.cpp: see backend_factory.h.
#include "runtime/backend_factory.h"

#include "backend/cpu_backend.h"
#include "common/engine_error.h"

#ifdef RL_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#include "kernels.h"
#endif

namespace rl {

std::vector<std::string> available_backends() {
#ifdef RL_HAVE_CUDA
    return {"cpu", "cuda"};
#else
    return {"cpu"};
#endif
}

std::string resolve_backend(const std::string& name) {
    if (name != "auto") return name;
#ifdef RL_HAVE_CUDA
    std::string why;
    if (kernels::cuda_available(&why)) return "cuda";
#endif
    return "cpu";
}

std::unique_ptr<backend> create_backend(const std::string& requested, int threads) {
    const std::string name = resolve_backend(requested);
    if (name == "cpu") return std::make_unique<cpu_backend>(threads);
#ifdef RL_HAVE_CUDA
    if (name == "cuda") return make_cuda_backend(0);
#endif
    std::string have;
    for (auto& b : available_backends()) have += (have.empty() ? "" : ", ") + b;
    RL_THROW("backend '" + name + "' is not available in this build (available: " + have + ")");
}

} // namespace rl
