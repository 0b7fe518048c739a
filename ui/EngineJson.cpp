// EngineJson: serving_config / scenario / GenerationSettings <-> JSON (see EngineJson.h).
#include "EngineJson.h"

#include "common/engine_error.h"

namespace EngineJson {

namespace {
int i(const QJsonObject& o, const char* k, int d) { return o.value(QLatin1String(k)).toInt(d); }
double f(const QJsonObject& o, const char* k, double d) { return o.value(QLatin1String(k)).toDouble(d); }
bool b(const QJsonObject& o, const char* k, bool d) { return o.value(QLatin1String(k)).toBool(d); }
} // namespace

QJsonObject toJson(const rl::serving_config& c) {
    return {{"max_num_seqs", c.max_num_seqs},
            {"max_num_batched_tokens", c.max_num_batched_tokens},
            {"chunked_prefill", c.chunked_prefill},
            {"prefix_caching", c.prefix_caching},
            {"policy", QString::fromLatin1(rl::to_string(c.policy))},
            {"preemption", QStringLiteral("recompute")},
            {"max_waiting", c.max_waiting},
            {"max_queue_ms", c.max_queue_ms},
            {"block_size", c.block_size},
            {"kv_blocks", c.kv_blocks},
            {"gpu_memory_utilization", c.gpu_memory_utilization}};
}

rl::serving_config servingFromJson(const QJsonObject& o, rl::serving_config c) {
    c.max_num_seqs = i(o, "max_num_seqs", c.max_num_seqs);
    c.max_num_batched_tokens = i(o, "max_num_batched_tokens", c.max_num_batched_tokens);
    c.chunked_prefill = b(o, "chunked_prefill", c.chunked_prefill);
    c.prefix_caching = b(o, "prefix_caching", c.prefix_caching);
    rl::parse_policy(o.value(QLatin1String("policy")).toString().toStdString(), c.policy);
    c.max_waiting = i(o, "max_waiting", c.max_waiting);
    c.max_queue_ms = f(o, "max_queue_ms", c.max_queue_ms);
    c.block_size = i(o, "block_size", c.block_size);
    c.kv_blocks = i(o, "kv_blocks", c.kv_blocks);
    c.gpu_memory_utilization = f(o, "gpu_memory_utilization", c.gpu_memory_utilization);
    return c;
}

QJsonObject toJson(const rl::scenario& s) {
    return {{"name", QString::fromStdString(s.name)},
            {"open_loop", s.open_loop},
            {"users", s.users},
            {"rate_per_s", s.rate_per_s},
            {"think_mean_s", s.think_mean_s},
            {"prompt_tokens", s.prompt_tokens},
            {"output_tokens", s.output_tokens},
            {"turns", s.turns},
            {"ramp_s", s.ramp_s}};
}

rl::scenario scenarioFromJson(const QJsonObject& o) {
    rl::scenario s;
    const std::string name = o.value(QLatin1String("name")).toString(QStringLiteral("chat")).toStdString();
    try {
        s = rl::scenario_preset(name);
    } catch (const std::exception&) {
        s = rl::scenario_preset("chat");
    }
    s.open_loop = b(o, "open_loop", s.open_loop);
    s.users = i(o, "users", s.users);
    s.rate_per_s = f(o, "rate_per_s", s.rate_per_s);
    s.think_mean_s = f(o, "think_mean_s", s.think_mean_s);
    s.prompt_tokens = i(o, "prompt_tokens", s.prompt_tokens);
    s.output_tokens = i(o, "output_tokens", s.output_tokens);
    s.turns = i(o, "turns", s.turns);
    s.ramp_s = f(o, "ramp_s", s.ramp_s);
    return s;
}

QJsonObject toJson(const GenerationSettings& g) {
    return {{"max_tokens", g.maxTokens},       {"temperature", double(g.temperature)},
            {"top_p", double(g.topP)},         {"top_k", g.topK},
            {"repetition_penalty", double(g.repetitionPenalty)},
            {"seed", QString::number(g.seed)}, {"priority", g.priority}};
}

GenerationSettings generationFromJson(const QJsonObject& o, GenerationSettings g) {
    g.maxTokens = i(o, "max_tokens", g.maxTokens);
    g.temperature = float(f(o, "temperature", g.temperature));
    g.topP = float(f(o, "top_p", g.topP));
    g.topK = i(o, "top_k", g.topK);
    g.repetitionPenalty = float(f(o, "repetition_penalty", g.repetitionPenalty));
    g.seed = o.value(QLatin1String("seed")).toString().toULongLong();
    g.priority = i(o, "priority", g.priority);
    return g;
}

} // namespace EngineJson
