// fuzz_chat_template: chat_template::detect on an arbitrary Jinja source, then render() of
// arbitrary messages; then the same source through the interpreter (from_source, jinja.h), where
// a parse or render error must arrive as an engine_error and nothing else (no crash, no hang: the
// interpreter bounds its work, memory and nesting). Input layout: byte 0 bit 0 = add_generation_prompt; the rest split on
// '\x01' into the template source, then role, content, role, content, ...
// Checked beyond "no crash": ChatML and Llama 3 renders end with the opened assistant turn when
// one was asked for, and every message content of a ChatML render appears in the output.
#include "fuzz_targets.h"

#include "common/engine_error.h"
#include "tokenizer/chat_template.h"

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace rl_fuzz {

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_chat_template: %s\n", what);
    std::abort();
}

bool ends_with(const std::string& s, std::string_view tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

} // namespace

void chat_template_init() {}

int chat_template_one(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const bool gen = data[0] & 1;
    std::vector<std::string> parts(1);
    for (size_t i = 1; i < size; ++i) {
        if (data[i] == 0x01) parts.emplace_back();
        else parts.back() += static_cast<char>(data[i]);
    }
    std::vector<rl::chat_message> msgs;
    for (size_t i = 1; i + 1 < parts.size(); i += 2) msgs.push_back({parts[i], parts[i + 1]});

    const rl::chat_template t = rl::chat_template::detect(parts[0]);
    (void)t.name();
    const std::string out = t.render(msgs, gen);
    switch (t.kind()) {
    case rl::chat_template_kind::chatml:
        if (gen && !ends_with(out, "<|im_start|>assistant\n")) fail("chatml: generation prompt missing");
        for (const rl::chat_message& m : msgs)
            if (out.find(m.content) == std::string::npos) fail("chatml: a message content is missing");
        break;
    case rl::chat_template_kind::llama3:
        if (gen && !ends_with(out, "<|start_header_id|>assistant<|end_header_id|>\n\n")) fail("llama3: generation prompt missing");
        break;
    case rl::chat_template_kind::llama2: break;
    default: break;
    }

    const rl::chat_template run = rl::chat_template::from_source(parts[0]);
    try {
        (void)run.render(msgs, gen);
    } catch (const rl::engine_error&) {
        // a refusal with its reason: the expected way for a template to fail
    }
    return 0;
}

} // namespace rl_fuzz
