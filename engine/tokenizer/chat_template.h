// chat_template: recognises the model's Jinja chat template as one of the known families (ChatML,
// Qwen3's ChatML with thinking, Llama 3, Llama 2, Mistral, Gemma, Phi-3) and renders conversations
// with it. No Jinja engine: unknown templates fall back to ChatML with a warning.
#pragma once
#include <string>
#include <vector>

namespace rl {

class gguf_file;

struct chat_message {
    std::string role;     // "system", "user", "assistant"
    std::string content;
};

enum class chat_template_kind { chatml, qwen3, llama3, llama2, mistral, gemma, phi3 };

class chat_template {
public:
    /// Detects the family from tokenizer.chat_template (absent or unknown -> ChatML + warning).
    static chat_template from_gguf(const gguf_file& f);
    static chat_template detect(const std::string& jinja_source);

    chat_template_kind kind() const { return kind_; }
    const char* name() const;                 // "chatml", "qwen3", "llama3", "llama2", "mistral", "gemma", "phi3"
    const std::string& warning() const { return warning_; }  // empty when recognised
    /// The BOS/EOS texts the template writes (from_gguf takes them from the vocabulary).
    void set_special_texts(std::string bos, std::string eos) { bos_text_ = std::move(bos), eos_text_ = std::move(eos); }
    /// Renders messages; with add_generation_prompt the assistant's turn is opened.
    std::string render(const std::vector<chat_message>& messages, bool add_generation_prompt) const;

private:
    chat_template_kind kind_ = chat_template_kind::chatml;
    std::string default_system_;   // e.g. SmolLM2's "You are a helpful AI assistant named SmolLM..."
    std::string warning_;
    std::string bos_text_;         // llama2/llama3 templates start with the BOS text
    std::string eos_text_;         // llama2 closes each assistant turn with the EOS text
};

} // namespace rl
