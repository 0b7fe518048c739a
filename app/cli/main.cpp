// ridgeline-cli: terminal front end to the engine (generate, chat, tokenize).
//   ridgeline-cli generate --model PATH --prompt TEXT [--max-tokens N] [--temperature T]
//                          [--top-p P] [--top-k K] [--seed S] [--chat] [--json]
//   ridgeline-cli chat --model PATH
//   ridgeline-cli tokenize --model PATH --text TEXT
#include "cli_commands.h"

#include <cstdio>
#include <set>

namespace {

const char* kUsage =
    "usage: ridgeline-cli COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  generate --model PATH --prompt TEXT [--max-tokens N] [--temperature T] [--top-p P]\n"
    "           [--top-k K] [--min-p P] [--repeat-penalty R] [--seed S] [--chat] [--json]\n"
    "           [--threads N]\n"
    "      Streams the continuation to stdout. --chat wraps the prompt in the model's chat\n"
    "      template as one user message. --json prints one object instead: text, tokens,\n"
    "      prompt_tokens, ttft_ms, decode_tok_s.\n"
    "  chat --model PATH [--system TEXT] [--max-tokens N] [--temperature T] ...\n"
    "      Interactive terminal chat; an empty line or EOF quits.\n"
    "  tokenize --model PATH --text TEXT [--no-special] [--bos]\n"
    "      Prints the token ids as a JSON array.\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 bad arguments or a model that cannot be loaded\n";

const std::set<std::string> kFlags = {"--chat", "--json", "--no-special", "--bos", "--help", "--version"};

} // namespace

int main(int argc, char** argv) {
    CliArgs args;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h") a = "--help";
        if (a.rfind("--", 0) == 0) {
            if (auto eq = a.find('='); eq != std::string::npos) {
                args.options[a.substr(0, eq)] = a.substr(eq + 1);
            } else if (kFlags.count(a)) {
                args.options[a] = "1";
            } else if (i + 1 < argc) {
                args.options[a] = argv[++i];
            } else {
                std::fprintf(stderr, "ridgeline-cli: option %s needs a value\n", a.c_str());
                return 2;
            }
        } else if (args.command.empty()) {
            args.command = a;
        } else {
            std::fprintf(stderr, "ridgeline-cli: unexpected argument '%s'\n", a.c_str());
            return 2;
        }
    }
    if (args.has("--version")) {
        std::printf("ridgeline-cli %s\n", RL_VERSION);
        return 0;
    }
    if (args.has("--help") || args.command.empty()) {
        std::fputs(kUsage, args.command.empty() && !args.has("--help") ? stderr : stdout);
        return args.has("--help") ? 0 : 2;
    }
    if (args.command == "generate") return runGenerate(args);
    if (args.command == "chat") return runChat(args);
    if (args.command == "tokenize") return runTokenize(args);
    std::fprintf(stderr, "ridgeline-cli: unknown command '%s' (try --help)\n", args.command.c_str());
    return 2;
}
