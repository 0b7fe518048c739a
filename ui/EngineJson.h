// EngineJson: the engine's knob structs as JSON, for settings, presets and session files.
// Field names are the engine's own (max_num_seqs, block_size, ...) so a preset reads like the
// CLI flags and the docs. Missing fields keep their defaults, so older files still load.
// Qt-Core only.
#pragma once
#include "EngineTypes.h"
#include "runtime/load_generator.h"

#include <QJsonObject>

namespace EngineJson {

QJsonObject toJson(const rl::serving_config& c);
rl::serving_config servingFromJson(const QJsonObject& o, rl::serving_config defaults = {});

QJsonObject toJson(const rl::scenario& s);
rl::scenario scenarioFromJson(const QJsonObject& o);

QJsonObject toJson(const GenerationSettings& g);
GenerationSettings generationFromJson(const QJsonObject& o, GenerationSettings defaults = {});

} // namespace EngineJson
