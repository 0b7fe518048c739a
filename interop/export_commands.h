// export_commands: turns the serving_config in force into the launch command of another engine
// (vLLM, SGLang, llama-server), with a comment for every flag whose meaning differs from ours, so
// a setup tuned in the workbench can be carried over. Pure C++, no Qt; the model path is quoted
// for a POSIX shell. Exercise: tests/test_export_commands.cpp; UI: ui/ExportCommandDialog.
#pragma once
#include "serving/serving_config.h"

#include <string>
#include <vector>

namespace rl {

enum class export_target { vllm, sglang, llama_server };

/// What the exported command describes: our config plus the model and its context limit.
struct export_input {
    serving_config config;
    std::string model_path;   // a GGUF file (or synthetic:NAME, which no other engine can load)
    std::string model_name;   // the id clients use (rl::api_server::model_id_for); "" = none given
    int max_model_len = 0;    // the engine's context limit in tokens; 0 = leave to the engine
    int kv_pool_tokens = 0;   // the loaded engine's KV pool (blocks x block size); 0 = none loaded
    int cpu_threads = 0;      // threads of the loaded CPU backend (llama-server -t); 0 = not on the CPU
};

/// One flag: its name, its value ("" for a switch) and, when the other engine means something
/// different by it, one line saying how.
struct export_flag {
    std::string name;
    std::string value;
    std::string note;
};

struct exported_command {
    std::string title;                    // "vLLM", "SGLang", "llama-server"
    std::vector<std::string> program;     // words before the flags ("vllm", "serve", MODEL)
    std::vector<export_flag> flags;
    std::vector<std::string> notes;       // about the command as a whole (not one flag)

    /// "" when the flag is absent, else its value ("" too for a switch: use has()).
    std::string value_of(const std::string& name) const;
    bool has(const std::string& name) const;
    /// The words as a shell would split them (quoting removed).
    std::vector<std::string> argv() const;
    /// Comment lines ("# ...": title, notes, then "# --flag: note" per differing flag) followed
    /// by the command, one flag per line joined with " \\", every word shell-quoted as needed.
    std::string text() const;
};

exported_command export_command(export_target target, const export_input& in);
/// The command as a POSIX shell script: "#!/bin/sh", then text() with "exec" before the program.
std::string export_script(export_target target, const export_input& in);

/// The word unchanged when it holds only safe characters, else in single quotes ('\'' for ').
std::string shell_quote(const std::string& word);
const char* to_string(export_target t);

} // namespace rl
