// jinja: a Jinja subset interpreter for chat templates, so that a model family's template is data
// (the GGUF's tokenizer.chat_template) rather than code. It renders as Hugging Face's
// apply_chat_template does: Jinja with trim_blocks and lstrip_blocks, tojson as json.dumps, and
// raise_exception, strftime_now and namespace() available. What chat templates use is here:
// text, {{ }}, {% if/elif/else %}, {% for %} (with a filter, two targets, loop.*, else),
// {% set %} (also ns.attr and block sets), {% macro %} and calls, comments, whitespace control;
// expressions with Python's literals, operators, slices, the string and dict methods templates
// call, and the common filters and tests. No inheritance, includes or autoescape.
// Not a library from Debian or PyPI: no C++ Jinja engine is packaged there (minja, llama.cpp's,
// is vendored code), and the subset is small. Checked against Python's jinja2 on real templates:
// tests/test_jinja.cpp with tests/golden/jinja_renders.json (tests/golden/make_jinja_goldens.py).
#pragma once
#include "tokenizer/jinja_value.h"

#include <memory>
#include <string>

namespace rl::jinja {

struct node;

class program {
public:
    /// Parses a template. Throws engine_error naming the line and what was expected.
    static program parse(const std::string& source);
    /// Renders with the given variables (a dict). Throws engine_error for errors the template
    /// raises or makes (raise_exception("..."), an unknown filter, adding a string to a list).
    std::string render(const value& variables) const;

    program();
    ~program();
    program(program&&) noexcept;
    program& operator=(program&&) noexcept;

private:
    std::shared_ptr<const node> root_;
};

} // namespace rl::jinja
