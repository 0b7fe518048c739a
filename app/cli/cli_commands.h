// ridgeline-cli commands: generate, chat, tokenize. Each returns the process exit code.
// Exit codes: 0 ok, 1 runtime failure, 2 bad model file or bad arguments.
#pragma once
#include <map>
#include <string>
#include <vector>

struct CliArgs {
    std::string command;
    std::map<std::string, std::string> options;  // "--model" -> "path"; flags map to "1"
    bool has(const std::string& k) const { return options.count(k) > 0; }
    std::string get(const std::string& k, const std::string& fallback = "") const {
        auto it = options.find(k);
        return it == options.end() ? fallback : it->second;
    }
};

int runGenerate(const CliArgs& args);
int runChat(const CliArgs& args);
int runTokenize(const CliArgs& args);
