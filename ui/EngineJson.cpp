// EngineJson: serving_config / scenario / GenerationSettings <-> JSON (see EngineJson.h).
#include "EngineJson.h"

#include "SamplingKnobs.h"
#include "common/engine_error.h"
#include "serving/serving_knobs.h"

#include <algorithm>
#include <cmath>

namespace EngineJson {

namespace {
int i(const QJsonObject& o, const char* k, int d) { return o.value(QLatin1String(k)).toInt(d); }
double f(const QJsonObject& o, const char* k, double d) { return o.value(QLatin1String(k)).toDouble(d); }
bool b(const QJsonObject& o, const char* k, bool d) { return o.value(QLatin1String(k)).toBool(d); }
} // namespace

QJsonObject toJson(const rl::serving_config& c) {
    QJsonObject o;
    for (const rl::knob_info& k : rl::serving_knobs()) {
        const QString key = QString::fromLatin1(k.name.data(), qsizetype(k.name.size()));
        switch (k.type) {
        case rl::knob_type::integer: o.insert(key, qint64(k.get(c))); break;
        case rl::knob_type::real: o.insert(key, k.get(c)); break;
        case rl::knob_type::boolean: o.insert(key, k.get(c) != 0); break;
        case rl::knob_type::choice: o.insert(key, QString::fromStdString(rl::knob_text(k, c))); break;
        }
    }
    return o;
}

namespace {

// How a JSON value reads in a refusal.
std::string shown(const QJsonValue& v) {
    switch (v.type()) {
    case QJsonValue::Bool: return v.toBool() ? "true" : "false";
    case QJsonValue::Double: return QString::number(v.toDouble(), 'g', 17).toStdString();
    case QJsonValue::String: return '"' + v.toString().toStdString() + '"';
    case QJsonValue::Array: return "an array";
    case QJsonValue::Object: return "an object";
    default: return "null";
    }
}

// One knob from its JSON value: the type must match the row's, then the row's own text parser
// (set_knob_text) checks the range, so the file refuses exactly what the command line refuses.
rl::config_error knobFromJson(const rl::knob_info& k, const QJsonValue& v, rl::serving_config& c) {
    const std::string name(k.name);
    const auto wrongType = [&](const char* want) {
        return rl::config_error{name, name + " must be " + want + ", got " + shown(v)};
    };
    switch (k.type) {
    case rl::knob_type::boolean:
        if (!v.isBool()) return wrongType("true or false");
        return rl::set_knob_text(k, v.toBool() ? "true" : "false", c);
    case rl::knob_type::choice:
        if (!v.isString()) return wrongType("a word");
        return rl::set_knob_text(k, v.toString().toStdString(), c);
    case rl::knob_type::integer:
    case rl::knob_type::real: {
        if (!v.isDouble()) return wrongType(k.type == rl::knob_type::integer ? "an integer" : "a number");
        // An integral double is written without a point or exponent so the integer parser takes it.
        const double d = v.toDouble();
        const bool whole = d == std::trunc(d) && std::abs(d) < 1e15;
        const QString text = whole ? QString::number(qint64(d)) : QString::number(d, 'g', 17);
        return rl::set_knob_text(k, text.toStdString(), c);
    }
    }
    return {};
}

} // namespace

rl::config_error servingFromJson(const QJsonObject& o, rl::serving_config* out) {
    rl::serving_config c = *out;
    for (const rl::knob_info& k : rl::serving_knobs()) {
        const QJsonValue v = o.value(QLatin1String(k.name.data(), qsizetype(k.name.size())));
        if (v.isUndefined()) continue;
        if (rl::config_error err = knobFromJson(k, v, c)) return err;
    }
    if (rl::config_error err = rl::validate(c)) return err;
    *out = c;
    return {};
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
    // Keys and ranges from the SamplingKnobs table; the seed as text, as files before it held it.
    QJsonObject o{{"priority", g.priority}, {"system_prompt", g.systemPrompt}};
    for (const SamplingKnob& k : samplingKnobs()) {
        const QString key = QLatin1String(k.key);
        if (key == QLatin1String("seed")) o.insert(key, QString::number(g.seed));
        else o.insert(key, k.decimals == 0 ? QJsonValue(qint64(k.get(g))) : QJsonValue(k.get(g)));
    }
    return o;
}

GenerationSettings generationFromJson(const QJsonObject& o, GenerationSettings g) {
    // A hand-edited value out of range is brought into it rather than refused at the next reply.
    for (const SamplingKnob& k : samplingKnobs()) {
        const QJsonValue v = o.value(QLatin1String(k.key));
        bool ok = v.isDouble();
        double d = v.toDouble();
        if (v.isString()) d = v.toString().toDouble(&ok);
        if (ok && std::isfinite(d)) k.set(g, std::clamp(d, k.min, k.max));
    }
    g.systemPrompt = o.value(QLatin1String("system_prompt")).toString(g.systemPrompt);
    g.priority = i(o, "priority", g.priority);
    return g;
}

} // namespace EngineJson
