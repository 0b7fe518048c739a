// openai_request.cpp: see openai_request.h. Fields accepted (others are refused so that a client
// never silently gets behaviour it did not ask for): model, messages | prompt, max_tokens,
// max_completion_tokens, temperature, top_p, top_k, min_p, repetition_penalty, presence_penalty,
// frequency_penalty, logit_bias, seed, stop, stream, stream_options, n, logprobs, top_logprobs,
// echo (completions), response_format (text, json_object, json_schema: response_format.h), user
// (ignored). A JSON null counts as absent. Refused with a clear 400 naming the field: tools (and
// tool_choice, functions, function_call), echo with logprobs (prompt log-probabilities are not
// computed). Accepted and ignored, since they never change the output: parallel_tool_calls (no
// tools are accepted), service_tier, metadata, store (nothing is stored).
// The `developer` role is read as `system`, as OpenAI does for models without a developer role.
// Sampling defaults are OpenAI's and vLLM's, not the engine's: without `temperature` a request
// samples at 1.0 (the engine's own default is greedy), without `seed` it gets a fresh random seed,
// so two identical requests may differ; an explicit seed stays reproducible.
// Every error's param is the bare field name ("model", "messages"), as OpenAI writes it.
#include "server/openai_request.h"

#include "server/response_format.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <random>
#include <set>

using nlohmann::json;

namespace rl {

namespace {

struct invalid {
    std::string message;
    std::string param;
};

constexpr int64_t kMaxChoices = 64;  // n x prompts: each choice is an engine request

const std::set<std::string> kCommonFields = {"model", "max_tokens", "max_completion_tokens", "temperature", "top_p",
                                             "top_k", "min_p", "repetition_penalty", "seed", "stop", "stream",
                                             "stream_options", "n", "user", "logprobs", "top_logprobs",
                                             "presence_penalty", "frequency_penalty", "response_format", "echo",
                                             "logit_bias",
                                             // refused with their own message (check_unsupported)
                                             "tools", "tool_choice", "functions", "function_call",
                                             // accepted and ignored
                                             "parallel_tool_calls", "service_tier", "metadata", "store"};

const char* type_name(const json& v) {
    switch (v.type()) {
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::null: return "null";
    default: return "a number";
    }
}

// A fresh seed per request: one random_device draw seeds a shared generator (random_device may be
// slow or blocking on some systems, so it is not called per request).
uint64_t fresh_seed() {
    static std::mutex mutex;
    static std::mt19937_64 gen{(uint64_t(std::random_device{}()) << 32) ^ std::random_device{}()};
    std::lock_guard lk(mutex);
    return gen();
}

bool present(const json& o, const char* key) { return o.contains(key) && !o.at(key).is_null(); }

double number(const json& o, const char* key, double lo, double hi) {
    const json& v = o.at(key);
    if (!v.is_number()) throw invalid{std::string("'") + key + "' must be a number, got " + type_name(v), key};
    const double d = v.get<double>();
    if (!std::isfinite(d) || d < lo || d > hi)
        throw invalid{std::string("'") + key + "' must be between " + json(lo).dump() + " and " + json(hi).dump() +
                          ", got " + v.dump(),
                      key};
    return d;
}

int64_t integer(const json& o, const char* key, int64_t lo, int64_t hi) {
    const json& v = o.at(key);
    if (!v.is_number_integer())
        throw invalid{std::string("'") + key + "' must be an integer, got " + (v.is_number() ? v.dump() : type_name(v)),
                      key};
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
        throw invalid{std::string("'") + key + "' is out of range", key};
    const int64_t i = v.get<int64_t>();
    if (i < lo || i > hi)
        throw invalid{std::string("'") + key + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                          ", got " + std::to_string(i),
                      key};
    return i;
}

std::string text(const json& v, const std::string& what, const std::string& param) {
    if (!v.is_string()) throw invalid{what + " must be a string, got " + type_name(v), param};
    return v.get<std::string>();
}

// OpenAI content: a string, or an array of {"type": "text", "text": ...} parts.
std::string message_content(const json& c, const std::string& where) {
    if (c.is_string()) return c.get<std::string>();
    if (!c.is_array()) throw invalid{where + ".content must be a string, got " + type_name(c), "messages"};
    std::string out;
    for (const auto& part : c) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
            throw invalid{where + ".content: only text parts ({\"type\": \"text\", \"text\": ...}) are supported",
                          "messages"};
        out += part["text"].get<std::string>();
    }
    return out;
}

std::vector<chat_message> messages(const json& v) {
    if (!v.is_array()) throw invalid{"'messages' must be an array, got " + std::string(type_name(v)), "messages"};
    if (v.empty()) throw invalid{"'messages' must not be empty", "messages"};
    std::vector<chat_message> out;
    for (size_t i = 0; i < v.size(); ++i) {
        const std::string where = "messages[" + std::to_string(i) + "]";
        const json& m = v[i];
        if (!m.is_object()) throw invalid{where + " must be an object", "messages"};
        for (auto it = m.begin(); it != m.end(); ++it)
            if (it.key() != "role" && it.key() != "content" && it.key() != "name")
                throw invalid{where + ": unknown field '" + it.key() + "'", "messages"};
        if (!m.contains("role")) throw invalid{where + ".role is required", "messages"};
        std::string role = text(m["role"], where + ".role", "messages");
        if (role != "system" && role != "developer" && role != "user" && role != "assistant")
            throw invalid{where + ".role must be system, developer, user or assistant, got '" + role + "'", "messages"};
        if (role == "developer") role = "system";   // OpenAI's newer name for system instructions
        if (!m.contains("content")) throw invalid{where + ".content is required", "messages"};
        out.push_back({role, message_content(m["content"], where)});
    }
    return out;
}

std::vector<std::string> stops(const json& v) {
    std::vector<std::string> out;
    if (v.is_string()) out.push_back(v.get<std::string>());
    else if (v.is_array()) {
        for (const auto& s : v) out.push_back(text(s, "'stop' entries", "stop"));
        if (out.size() > 16) throw invalid{"'stop' takes at most 16 strings", "stop"};
    } else {
        throw invalid{"'stop' must be a string or an array of strings, got " + std::string(type_name(v)), "stop"};
    }
    for (const auto& s : out)
        if (s.empty()) throw invalid{"'stop' strings must not be empty", "stop"};
    return out;
}

// Log-probabilities: chat's `logprobs: true` + `top_logprobs` (0..20), or /v1/completions' legacy
// `logprobs: N` (the count of alternatives; false or absent: none).
int parse_logprobs(const json& o, bool chat) {
    int out = -1;
    if (present(o, "logprobs")) {
        const json& v = o["logprobs"];
        if (chat) {
            if (!v.is_boolean()) throw invalid{std::string("'logprobs' must be a boolean, got ") + type_name(v), "logprobs"};
            if (v.get<bool>()) out = 0;
        } else if (v.is_boolean()) {
            if (v.get<bool>()) out = 0;
        } else {
            if (!v.is_number_integer())
                throw invalid{std::string("'logprobs' must be an integer (0..20), got ") + type_name(v), "logprobs"};
            out = int(integer(o, "logprobs", 0, 20));
        }
    }
    if (present(o, "top_logprobs")) {
        const int k = int(integer(o, "top_logprobs", 0, 20));
        if (k > 0 && out < 0)
            throw invalid{"'top_logprobs' needs 'logprobs': true", "top_logprobs"};
        if (out >= 0) out = std::max(out, k);
    }
    return out;
}

std::vector<std::pair<int32_t, float>> parse_logit_bias(const json& v) {
    if (!v.is_object()) throw invalid{"'logit_bias' must be an object mapping token ids to numbers", "logit_bias"};
    std::vector<std::pair<int32_t, float>> out;
    for (auto it = v.begin(); it != v.end(); ++it) {
        const std::string& key = it.key();
        size_t used = 0;
        long long id = -1;
        try {
            id = std::stoll(key, &used);
        } catch (const std::exception&) {
        }
        if (key.empty() || used != key.size() || id < 0 || id > std::numeric_limits<int32_t>::max())
            throw invalid{"'logit_bias' keys must be token ids (non-negative integers), got '" + key + "'", "logit_bias"};
        if (!it.value().is_number()) throw invalid{"'logit_bias' values must be numbers", "logit_bias"};
        const double b = it.value().get<double>();
        if (!(b >= -100 && b <= 100))
            throw invalid{"'logit_bias' values must be between -100 and 100, got " + it.value().dump(), "logit_bias"};
        out.emplace_back(int32_t(id), float(b));
    }
    return out;
}

void check_no_tools(const json& o) {
    for (const char* key : {"tools", "functions"})
        if (present(o, key)) throw invalid{std::string("'") + key + "': tool calling is not supported", key};
    for (const char* key : {"tool_choice", "function_call"})
        if (present(o, key) && !(o[key].is_string() && o[key].get<std::string>() == "none"))
            throw invalid{std::string("'") + key + "': tool calling is not supported", key};
}

// Fields that never change the output here: type-checked, then ignored.
void check_ignored(const json& o) {
    for (const char* key : {"parallel_tool_calls", "store"})
        if (present(o, key) && !o[key].is_boolean())
            throw invalid{std::string("'") + key + "' must be a boolean", key};
    if (present(o, "service_tier") && !o["service_tier"].is_string())
        throw invalid{"'service_tier' must be a string", "service_tier"};
    if (present(o, "metadata")) {
        const json& m = o["metadata"];
        if (!m.is_object()) throw invalid{"'metadata' must be an object", "metadata"};
        for (auto it = m.begin(); it != m.end(); ++it)
            if (!it.value().is_string()) throw invalid{"'metadata' values must be strings", "metadata"};
    }
}

api_request parse_object(const json& o, bool chat) {
    if (!o.is_object()) throw invalid{"the request body must be a JSON object", ""};
    for (auto it = o.begin(); it != o.end(); ++it)
        if (!kCommonFields.count(it.key()) && it.key() != (chat ? "messages" : "prompt") &&
            (chat || it.key() != "parse_special"))
            throw invalid{"unknown field '" + it.key() + "'", it.key()};
    api_request r;
    r.chat = chat;
    if (!present(o, "model")) throw invalid{"'model' is required (see GET /v1/models)", "model"};
    r.model = text(o["model"], "'model'", "model");
    if (chat) {
        if (!present(o, "messages")) throw invalid{"'messages' is required", "messages"};
        r.messages = messages(o["messages"]);
    } else {
        if (!present(o, "prompt")) throw invalid{"'prompt' is required", "prompt"};
        // OpenAI's four forms: a string, token ids, and a batch of either (one choice per prompt).
        const json& p = o["prompt"];
        auto one = [](const json& v) {
            api_prompt out;
            if (v.is_string()) {
                out.text = v.get<std::string>();
                return out;
            }
            if (!v.is_array())
                throw invalid{"'prompt' must be a string, an array of token ids, or a batch of them", "prompt"};
            std::vector<int32_t> ids;
            for (const json& t : v) {
                if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > std::numeric_limits<int32_t>::max())
                    throw invalid{"'prompt' token ids must be non-negative integers", "prompt"};
                ids.push_back(int32_t(t.get<int64_t>()));
            }
            out.ids = std::move(ids);
            return out;
        };
        if (p.is_array() && !p.empty() && (p[0].is_string() || p[0].is_array())) {
            for (const json& item : p) r.prompts.push_back(one(item));
        } else {
            r.prompts.push_back(one(p));
        }
    }
    if (present(o, "n")) r.n = int(integer(o, "n", 1, kMaxChoices));
    if (!chat && r.prompts.size() * size_t(r.n) > size_t(kMaxChoices))
        throw invalid{std::to_string(r.prompts.size()) + " prompts x n " + std::to_string(r.n) + " is more than " +
                          std::to_string(kMaxChoices) + " choices",
                      r.prompts.size() > 1 ? "prompt" : "n"};
    const char* max_key = present(o, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    if (present(o, max_key)) r.max_tokens = int(integer(o, max_key, 1, std::numeric_limits<int>::max()));
    r.sampling.temperature = present(o, "temperature") ? float(number(o, "temperature", 0, 2)) : 1.f;
    if (present(o, "top_p")) r.sampling.top_p = float(number(o, "top_p", 0, 1));
    if (present(o, "top_k")) r.sampling.top_k = int(integer(o, "top_k", -1, 1 << 20));
    if (r.sampling.top_k < 0) r.sampling.top_k = 0;   // vLLM: -1 = off
    if (present(o, "min_p")) r.sampling.min_p = float(number(o, "min_p", 0, 1));
    if (present(o, "repetition_penalty")) r.sampling.repetition_penalty = float(number(o, "repetition_penalty", 0.01, 10));
    if (present(o, "presence_penalty")) r.sampling.presence_penalty = float(number(o, "presence_penalty", -2, 2));
    if (present(o, "frequency_penalty")) r.sampling.frequency_penalty = float(number(o, "frequency_penalty", -2, 2));
    if (present(o, "logit_bias")) r.sampling.logit_bias = parse_logit_bias(o["logit_bias"]);
    r.logprobs = parse_logprobs(o, chat);
    if (present(o, "echo")) {
        if (!o["echo"].is_boolean()) throw invalid{"'echo' must be a boolean", "echo"};
        r.echo = o["echo"].get<bool>();
        if (r.echo && chat) throw invalid{"'echo' is for /v1/completions only", "echo"};
        if (r.echo && r.logprobs >= 0)
            throw invalid{"'echo' with 'logprobs' is not supported: log-probabilities of prompt tokens are not computed",
                          "echo"};
    }
    response_format format;
    if (auto why = parse_response_format(o, format); !why.empty()) throw invalid{why, "response_format"};
    r.json_object = format.json_object;
    r.schema = std::move(format.schema);
    check_no_tools(o);
    r.sampling.seed = present(o, "seed") ? uint64_t(integer(o, "seed", std::numeric_limits<int64_t>::min(),
                                                            std::numeric_limits<int64_t>::max()))
                                         : fresh_seed();
    if (present(o, "stop")) r.stop = stops(o["stop"]);
    if (!chat && present(o, "parse_special")) {
        if (!o["parse_special"].is_boolean()) throw invalid{"'parse_special' must be a boolean", "parse_special"};
        r.parse_special = o["parse_special"].get<bool>();
    }
    if (present(o, "stream")) {
        if (!o["stream"].is_boolean()) throw invalid{"'stream' must be a boolean", "stream"};
        r.stream = o["stream"].get<bool>();
    }
    if (present(o, "stream_options")) {
        const json& so = o["stream_options"];
        if (!so.is_object()) throw invalid{"'stream_options' must be an object", "stream_options"};
        for (auto it = so.begin(); it != so.end(); ++it) {
            if (it.key() != "include_usage") throw invalid{"stream_options: unknown field '" + it.key() + "'", "stream_options"};
            if (!it.value().is_boolean()) throw invalid{"stream_options.include_usage must be a boolean", "stream_options"};
            r.include_usage = it.value().get<bool>();
        }
    }
    if (present(o, "user") && !o["user"].is_string()) throw invalid{"'user' must be a string", "user"};
    check_ignored(o);
    if (auto why = validate(r.sampling); !why.empty()) throw invalid{why, ""};
    return r;
}

} // namespace

nlohmann::json error_body(const api_error& e) {
    json err = {{"message", e.message}, {"type", e.type}, {"code", nullptr}, {"param", nullptr}};
    if (!e.code.empty()) err["code"] = e.code;
    if (!e.param.empty()) err["param"] = e.param;
    return json{{"error", err}};
}

std::string dump_json(const nlohmann::json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::optional<api_request> parse_api_request(const std::string& body, bool chat, api_error& err) {
    err = api_error{};
    json o;
    try {
        o = json::parse(body);
    } catch (const json::exception& e) {
        // Not only parse_error: a number literal beyond double ("1e999") is out_of_range 406,
        // which escaped here and failed the request with a 500 (found by fuzz_openai_request).
        err.message = std::string("malformed JSON: ") + e.what();
        return std::nullopt;
    }
    try {
        return parse_object(o, chat);
    } catch (const invalid& e) {
        err.message = e.message;
        err.param = e.param;
    } catch (const json::exception& e) {
        err.message = std::string("invalid request: ") + e.what();
    }
    return std::nullopt;
}

} // namespace rl
