// byte_tokenizer: the stand-in tokenizer of synthetic models (which have no vocabulary file).
// Text encodes to one id per byte; every id decodes to one printable ASCII character, so the
// (random) output of a synthetic model streams as harmless noise. The last id is end-of-text.
#pragma once
#include "tokenizer/tokenizer.h"

namespace rl {

std::unique_ptr<tokenizer> make_byte_tokenizer(int vocab_size);

} // namespace rl
