// EngineJson: the engine's knob structs as JSON, for settings, presets and session files.
// Field names are the engine's own (max_num_seqs, block_size, ...) so a preset reads like the
// CLI flags and the docs. Missing fields keep their defaults, so older files still load. The
// serving config is read and written by looping over the knob table (serving_knobs.h): key =
// knob name, value by the knob's type (number, true/false, or the choice's word).
// Qt-Core only. Exercise: tests/test_json_files.cpp (servingJsonCoversEveryKnob, ...).
#pragma once
#include "EngineTypes.h"
#include "runtime/load_generator.h"

#include <QJsonObject>

namespace EngineJson {

QJsonObject toJson(const rl::serving_config& c);
/// Reads the knobs present in o over *out (a missing key keeps *out's value; unknown keys are
/// ignored). Refuses, naming the knob, a value of the wrong type or outside the knob's range,
/// then a config the rules between knobs refuse (rl::validate). *out is written only when the
/// whole object is accepted.
rl::config_error servingFromJson(const QJsonObject& o, rl::serving_config* out);

QJsonObject toJson(const rl::scenario& s);
rl::scenario scenarioFromJson(const QJsonObject& o);

QJsonObject toJson(const GenerationSettings& g);
GenerationSettings generationFromJson(const QJsonObject& o, GenerationSettings defaults = {});

} // namespace EngineJson
