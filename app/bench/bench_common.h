// Shared argument handling for ridgeline-bench subcommands.
#pragma once
#include "runtime/engine.h"

#include <map>
#include <string>

struct BenchError {
    std::string message;
};

struct BenchArgs {
    std::string command;
    std::string commandLine;
    std::map<std::string, std::string> options;
    bool has(const std::string& k) const { return options.count(k) > 0; }
    std::string get(const std::string& k, const std::string& fallback = "") const {
        auto it = options.find(k);
        return it == options.end() ? fallback : it->second;
    }
    double number(const std::string& k, double fallback) const;
};

rl::engine_options engineOptions(const BenchArgs& args);
int runServe(const BenchArgs& args);
int runKernelBench(const BenchArgs& args, bool decode);
