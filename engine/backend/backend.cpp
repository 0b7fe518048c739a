// backend.cpp: the few non-virtual helpers of the backend interface (dtype sizes).
#include "backend/backend.h"

namespace rl {

size_t dtype_size(dtype t) {
    switch (t) {
    case dtype::dtype_f32: return 4;
    case dtype::dtype_f16: return 2;
    case dtype::dtype_bf16: return 2;
    }
    return 4;
}

} // namespace rl
