// chat_template: renders conversations with the model's own Jinja chat template (the GGUF's
// tokenizer.chat_template, run by the interpreter in jinja.h, as Hugging Face renders it), and
// recognises its family (ChatML, Qwen3's ChatML with thinking, Llama 3, Llama 2, Mistral, Gemma,
// Phi-3), whose built-in renderer is used when there is no template, when the template does not
// parse, or when it refuses a conversation a chat app must still send (Gemma 2 refuses any system
// turn; the family renderer folds it into the first user turn, as Gemma 3's template does). A
// template of no known family that refuses a conversation is an error naming the template's
// reason; one that does not parse falls back to ChatML with a warning.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace rl {

class gguf_file;
namespace jinja {
class program;
}

struct chat_message {
    std::string role;     // "system", "user", "assistant"
    std::string content;
};

enum class chat_template_kind { chatml, qwen3, llama3, llama2, mistral, gemma, phi3 };

class chat_template {
public:
    /// Detects the family from tokenizer.chat_template (absent or unknown -> ChatML + warning).
    static chat_template from_gguf(const gguf_file& f);
    /// The family only (the built-in renderer): what from_source falls back to.
    static chat_template detect(const std::string& jinja_source);
    /// The family and the template itself, interpreted (a template that does not parse keeps the
    /// family renderer and says why in warning()).
    static chat_template from_source(const std::string& jinja_source);
    /// Whether renders run the model's own template.
    bool interpreted() const { return program_ != nullptr; }

    chat_template_kind kind() const { return kind_; }
    const char* name() const;                 // "chatml", "qwen3", "llama3", "llama2", "mistral", "gemma", "phi3"
    const std::string& warning() const { return warning_; }  // empty when recognised
    /// The BOS/EOS texts the template writes (from_gguf takes them from the vocabulary).
    void set_special_texts(std::string bos, std::string eos) { bos_text_ = std::move(bos), eos_text_ = std::move(eos); }
    /// Renders messages; with add_generation_prompt the assistant's turn is opened. Throws
    /// engine_error with the template's reason when an unrecognised template refuses them.
    std::string render(const std::vector<chat_message>& messages, bool add_generation_prompt) const;

private:
    std::string render_family(const std::vector<chat_message>& messages, bool add_generation_prompt) const;

    std::shared_ptr<const jinja::program> program_;
    bool recognised_ = true;       // detect() knew the family
    chat_template_kind kind_ = chat_template_kind::chatml;
    std::string default_system_;   // e.g. SmolLM2's "You are a helpful AI assistant named SmolLM..."
    std::string warning_;
    std::string bos_text_;         // llama2/llama3 templates start with the BOS text
    std::string eos_text_;         // llama2 closes each assistant turn with the EOS text
};

} // namespace rl
