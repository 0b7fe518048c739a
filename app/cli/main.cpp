// ridgeline-cli: terminal front end to the engine (generate, chat, tokenize).
//   ridgeline-cli generate --model PATH --prompt TEXT [--max-tokens N] [--chat] [--json]
//                          [sampling options] [engine options] [serving knobs]
//   ridgeline-cli chat --model PATH [--system TEXT] [--max-tokens N] [sampling, engine, knobs]
//   ridgeline-cli tokenize --model PATH --text TEXT [--no-special] [--bos]
// The options come from app/options (one parser for every program); `ridgeline-cli COMMAND
// --help` lists every option of a command with its default.
#include "cli_commands.h"

#include "options/command_line.h"

namespace {

constexpr const char* k_footer =
    "Exit codes: 0 ok, 1 runtime failure, 2 bad arguments or a model that cannot be loaded";

void add_generate(rl::cmdline::program& p, generate_args& a) {
    CLI::App& cmd = p.add_command("generate", "Stream the continuation of a prompt to stdout");
    rl::cmdline::add_text(cmd, "--prompt", a.prompt, "The prompt")->required();
    rl::cmdline::add_number(cmd, "--max-tokens", a.max_tokens, "Longest continuation in tokens", 1, 1 << 20);
    rl::cmdline::add_switch(cmd, "--chat", a.chat, "Wrap the prompt in the model's chat template as one user message");
    rl::cmdline::add_switch(cmd, "--no-parse-special", a.raw_text,
                            "Keep special tokens written in the prompt (<|im_start|>) as text; by default they "
                            "become their token ids, as in llama.cpp and vLLM");
    rl::cmdline::add_switch(cmd, "--json", a.json,
                            "Print one JSON object instead: text, tokens, prompt_tokens, generated_tokens, "
                            "finish_reason, ttft_ms, decode_tok_s");
    rl::cmdline::add_sampling_options(p, cmd, a.sampling);
    rl::cmdline::add_engine_options(p, cmd, a.engine);
    cmd.footer(k_footer);
}

void add_chat(rl::cmdline::program& p, chat_args& a) {
    CLI::App& cmd = p.add_command("chat", "Interactive terminal chat; an empty line or EOF quits");
    rl::cmdline::add_text(cmd, "--system", a.system, "System message at the start of the conversation");
    rl::cmdline::add_number(cmd, "--max-tokens", a.max_tokens, "Longest reply in tokens", 1, 1 << 20);
    rl::cmdline::add_sampling_options(p, cmd, a.sampling);
    rl::cmdline::add_engine_options(p, cmd, a.engine);
    cmd.footer(k_footer);
}

void add_tokenize(rl::cmdline::program& p, tokenize_args& a) {
    CLI::App& cmd = p.add_command("tokenize", "Print the token ids of a text as a JSON array");
    rl::cmdline::add_model_option(cmd, a.model, true, "GGUF model file whose tokenizer is used");
    rl::cmdline::add_text(cmd, "--text", a.text, "The text to tokenize")->required();
    rl::cmdline::add_switch(cmd, "--no-special", a.no_special, "Encode special-token text as plain text");
    rl::cmdline::add_switch(cmd, "--bos", a.bos, "Start with the model's BOS token");
    cmd.footer(k_footer);
}

} // namespace

int main(int argc, char** argv) {
    generate_args generate;
    chat_args chat;
    tokenize_args tokenize;
    rl::cmdline::program p("ridgeline-cli", "Ridgeline in the terminal: generate, chat or tokenize with a local model.",
                           RL_VERSION);
    add_generate(p, generate);
    add_chat(p, chat);
    add_tokenize(p, tokenize);
    p.set_footer(k_footer);
    if (const int code = p.parse(argc, argv); code != rl::cmdline::k_go_on) return code;
    const std::string command = p.command()->get_name();
    if (command == "generate") return run_generate(generate);
    if (command == "chat") return run_chat(chat);
    return run_tokenize(tokenize);
}
