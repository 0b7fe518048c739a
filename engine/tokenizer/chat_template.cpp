// chat_template: renders conversations for the template families we recognise, producing the
// same text as the model's Jinja template would (HF transformers semantics; checked against
// jinja2 on the real templates by test_chat_template, tests/golden/family_chat.json):
//  - ChatML ("<|im_start|>"): <|im_start|>{role}\n{content}<|im_end|>\n per message; if the
//    template hard-codes a default system message (SmolLM2, Qwen2) it is inserted when the first
//    message isn't a system one. Generation prompt: <|im_start|>assistant\n.
//  - Qwen3 (ChatML with "<think>"): ChatML, but an assistant turn after the last user message
//    shows its reasoning as <think>\n...\n</think>\n\n and earlier ones have it stripped.
//  - Llama 3 ("<|start_header_id|>"): <|begin_of_text|> then
//    <|start_header_id|>{role}<|end_header_id|>\n\n{content | trim}<|eot_id|> per message.
//    Llama 3.1's tool and "Cutting Knowledge Date" preamble are not reproduced.
//  - Llama 2 ("[INST] " with spaces): <s>[INST] {user | trim} [/INST] {assistant | trim} </s>...,
//    a leading system message folded into the first user turn as <<SYS>>\n...\n<</SYS>>\n\n.
//  - Mistral ("[INST]" without spaces, v3/Nemo): <s>[INST]{user}[/INST]{assistant}</s>..., a
//    system message prepended to the last user turn as "{system}\n\n".
//  - Gemma ("<start_of_turn>"): <bos><start_of_turn>{user|model}\n{content | trim}<end_of_turn>\n;
//    a system message (which Gemma 2's template refuses) is folded into the first user turn, as
//    Gemma 3's does. Generation prompt: <start_of_turn>model\n.
//  - Phi-3 ("<|user|>" and "<|end|>"): <|{role}|>\n{content}<|end|>\n (empty system skipped);
//    generation prompt <|assistant|>\n, otherwise the EOS text.
// Those are the fallbacks: a template that parses renders through the interpreter (jinja.h).
// Anything else, or no template at all, renders as ChatML and sets warning().
#include "tokenizer/chat_template.h"

#include "common/engine_error.h"
#include "gguf/gguf_file.h"
#include "tokenizer/jinja.h"

namespace rl {

namespace {

std::string trim(const std::string& s) {
    const char* ws = " \t\n\r\v\f";
    const size_t b = s.find_first_not_of(ws);
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// The text from `at` to `end` as the body of one Jinja string literal, unescaped; false if an
// unescaped quote shows it spans more than one literal.
bool literal_text(const std::string& src, size_t at, size_t end, std::string& out) {
    out.clear();
    for (size_t i = at; i < end; ++i) {
        const char c = src[i];
        if (c == '\'' || c == '"') return false;
        if (c == '\\' && i + 1 < end) {
            const char e = src[++i];
            out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
            continue;
        }
        out += c;
    }
    return true;
}

// SmolLM2-style default system message: the literal following "<|im_start|>system\n" (a real
// newline or a "\n" escape) up to "<|im_end|>", when both sit inside one string literal.
std::string default_system_message(const std::string& src) {
    for (const std::string_view marker : {std::string_view("<|im_start|>system\n"), std::string_view("<|im_start|>system\\n")}) {
        for (size_t pos = src.find(marker); pos != std::string::npos; pos = src.find(marker, pos + 1)) {
            const size_t start = pos + marker.size();
            const size_t end = src.find("<|im_end|>", start);
            if (end == std::string::npos) break;
            std::string text;
            if (end > start && literal_text(src, start, end, text)) return text;
        }
    }
    return {};
}

std::string strip_chars(const std::string& s, const char* chars, bool left, bool right) {
    size_t b = 0, e = s.size();
    if (left) b = s.find_first_not_of(chars);
    if (b == std::string::npos) return {};
    if (right) e = s.find_last_not_of(chars) + 1;
    return s.substr(b, e - b);
}

// Qwen3's template without tools: assistant turns after the last user message keep their
// reasoning in <think> tags, earlier ones lose it (content after the last </think>).
void render_qwen3(const std::vector<chat_message>& messages, bool add_generation_prompt, std::string& out) {
    if (!messages.empty() && messages[0].role == "system")
        out += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
    size_t last_query = messages.empty() ? 0 : messages.size() - 1;
    for (size_t i = messages.size(); i-- > 0;)
        if (messages[i].role == "user") {
            last_query = i;
            break;
        }
    for (size_t i = 0; i < messages.size(); ++i) {
        const chat_message& m = messages[i];
        if (m.role == "user" || (m.role == "system" && i > 0)) {
            out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
        } else if (m.role == "assistant") {
            std::string content = m.content, reasoning;
            if (const size_t close = content.find("</think>"); close != std::string::npos) {
                std::string before = strip_chars(content.substr(0, close), "\n", false, true);
                if (const size_t open = before.rfind("<think>"); open != std::string::npos) before = before.substr(open + 7);
                reasoning = strip_chars(before, "\n", true, false);
                content = strip_chars(content.substr(content.rfind("</think>") + 8), "\n", true, false);
            }
            if (i > last_query && (i + 1 == messages.size() || !reasoning.empty()))
                out += "<|im_start|>assistant\n<think>\n" + strip_chars(reasoning, "\n", true, true) + "\n</think>\n\n" +
                       strip_chars(content, "\n", true, false);
            else
                out += "<|im_start|>assistant\n" + content;
            out += "<|im_end|>\n";
        }
    }
    if (add_generation_prompt) out += "<|im_start|>assistant\n";
}

} // namespace

chat_template chat_template::from_gguf(const gguf_file& f) {
    const gguf_value* v = f.find("tokenizer.chat_template");
    const bool has_source = v && v->type == gguf_value_type::string;
    chat_template t = from_source(has_source ? v->as_string() : std::string());

    // Prefer the vocabulary's own BOS/EOS spelling for the families that write them, and give
    // an interpreted template the bos_token and eos_token it may print.
    if (t.kind_ != chat_template_kind::chatml || t.program_) {
        if (const gguf_value* toks = f.find("tokenizer.ggml.tokens"); toks && toks->type == gguf_value_type::array) {
            const gguf_array& arr = toks->as_array();
            const auto text_of = [&](const char* key, std::string& dst) {
                const int64_t id = f.get_int_or(key, -1);
                if (id >= 0 && static_cast<size_t>(id) < arr.size() &&
                    arr[static_cast<size_t>(id)].type == gguf_value_type::string)
                    dst = arr[static_cast<size_t>(id)].as_string();
            };
            text_of("tokenizer.ggml.bos_token_id", t.bos_text_);
            text_of("tokenizer.ggml.eos_token_id", t.eos_text_);
        }
    }
    return t;
}

chat_template chat_template::detect(const std::string& src) {
    chat_template t;
    if (src.empty()) {
        t.kind_ = chat_template_kind::chatml;
        t.warning_ = "the model has no chat template; using ChatML";
    } else if (src.find("<|start_header_id|>") != std::string::npos) {
        t.kind_ = chat_template_kind::llama3;
        t.bos_text_ = "<|begin_of_text|>";
        t.eos_text_ = "<|eot_id|>";
    } else if (src.find("<|im_start|>") != std::string::npos) {
        t.kind_ = src.find("<think>") != std::string::npos ? chat_template_kind::qwen3 : chat_template_kind::chatml;
        if (t.kind_ == chat_template_kind::chatml) t.default_system_ = default_system_message(src);
    } else if (src.find("[INST]") != std::string::npos) {
        t.kind_ = src.find("[INST] ") != std::string::npos ? chat_template_kind::llama2 : chat_template_kind::mistral;
        t.bos_text_ = "<s>";
        t.eos_text_ = "</s>";
    } else if (src.find("<start_of_turn>") != std::string::npos) {
        t.kind_ = chat_template_kind::gemma;
        t.bos_text_ = "<bos>";
        t.eos_text_ = "<eos>";
    } else if (src.find("<|user|>") != std::string::npos && src.find("<|end|>") != std::string::npos) {
        t.kind_ = chat_template_kind::phi3;
        t.eos_text_ = "<|endoftext|>";
    } else {
        t.kind_ = chat_template_kind::chatml;
        t.recognised_ = false;
        t.warning_ = "unrecognised chat template; rendering as ChatML";
    }
    return t;
}

chat_template chat_template::from_source(const std::string& src) {
    chat_template t = detect(src);
    if (src.empty()) return t;
    try {
        t.program_ = std::make_shared<const jinja::program>(jinja::program::parse(src));
        if (!t.recognised_) t.warning_.clear();
    } catch (const engine_error& e) {
        t.warning_ = std::string(e.what()) + "; " +
                     (t.recognised_ ? std::string("using the built-in ") + t.name() + " renderer" : "rendering as ChatML");
    }
    return t;
}

const char* chat_template::name() const {
    if (!recognised_ && program_) return "gguf template";
    switch (kind_) {
    case chat_template_kind::chatml: return "chatml";
    case chat_template_kind::llama3: return "llama3";
    case chat_template_kind::llama2: return "llama2";
    case chat_template_kind::qwen3: return "qwen3";
    case chat_template_kind::mistral: return "mistral";
    case chat_template_kind::gemma: return "gemma";
    case chat_template_kind::phi3: return "phi3";
    }
    return "chatml";
}

std::string chat_template::render(const std::vector<chat_message>& messages, bool add_generation_prompt) const {
    if (program_) {
        jinja::array turns;
        for (const chat_message& m : messages) turns.emplace_back(jinja::object{{"role", m.role}, {"content", m.content}});
        jinja::value vars(jinja::object{{"messages", jinja::value(std::move(turns))},
                                        {"add_generation_prompt", add_generation_prompt},
                                        {"bos_token", bos_text_},
                                        {"eos_token", eos_text_}});
        try {
            return program_->render(vars);
        } catch (const engine_error&) {
            if (!recognised_) throw;   // no forgiving renderer to fall back to: the template's reason
        }
    }
    return render_family(messages, add_generation_prompt);
}

std::string chat_template::render_family(const std::vector<chat_message>& messages, bool add_generation_prompt) const {
    std::string out;
    switch (kind_) {
    case chat_template_kind::chatml:
        if (!messages.empty() && !default_system_.empty() && messages[0].role != "system")
            out += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
        for (const chat_message& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
        if (add_generation_prompt) out += "<|im_start|>assistant\n";
        break;
    case chat_template_kind::qwen3: render_qwen3(messages, add_generation_prompt, out); break;
    case chat_template_kind::mistral: {
        size_t first = 0;
        const bool has_system = !messages.empty() && messages[0].role == "system";
        if (has_system) first = 1;
        out += bos_text_;
        for (size_t i = first; i < messages.size(); ++i) {
            const chat_message& m = messages[i];
            if (m.role == "user" && has_system && i + 1 == messages.size())
                out += "[INST]" + messages[0].content + "\n\n" + m.content + "[/INST]";
            else if (m.role == "user") out += "[INST]" + m.content + "[/INST]";
            else if (m.role == "assistant") out += m.content + eos_text_;
        }
        break;
    }
    case chat_template_kind::gemma: {
        out += bos_text_;
        std::string system;
        for (const chat_message& m : messages) {
            if (m.role == "system") {
                system += trim(m.content) + "\n\n";
                continue;
            }
            std::string content = trim(m.content);
            if (m.role == "user" && !system.empty()) content = system + content, system.clear();
            out += "<start_of_turn>" + std::string(m.role == "assistant" ? "model" : m.role) + "\n" + content +
                   "<end_of_turn>\n";
        }
        if (add_generation_prompt) out += "<start_of_turn>model\n";
        break;
    }
    case chat_template_kind::phi3:
        for (const chat_message& m : messages)
            if (m.role != "system" || !m.content.empty()) out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
        out += add_generation_prompt ? "<|assistant|>\n" : eos_text_;
        break;
    case chat_template_kind::llama3:
        out += bos_text_;
        for (const chat_message& m : messages)
            out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) + "<|eot_id|>";
        if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
        break;
    case chat_template_kind::llama2: {
        size_t first = 0;
        std::string system;
        if (!messages.empty() && messages[0].role == "system") {
            system = messages[0].content;
            first = 1;
        }
        for (size_t i = first; i < messages.size(); ++i) {
            const chat_message& m = messages[i];
            std::string content = m.content;
            if (i == first && first == 1) content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
            if (m.role == "user") out += bos_text_ + "[INST] " + trim(content) + " [/INST]";
            else if (m.role == "assistant") out += " " + trim(content) + " " + eos_text_;
        }
        break;
    }
    }
    return out;
}

} // namespace rl
