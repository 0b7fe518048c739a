// SamplingKnobs: the one table of the chat's per-reply settings (temperature, top-p, top-k, min-p,
// repetition penalty, max tokens, seed): key (as saved in settings.json "generation"), label,
// range, step, help, and how to read and write it in GenerationSettings. The defaults are
// GenerationSettings{}'s. The ranges are those rl::validate(sampling_params) accepts, narrowed
// to what makes sense to type (temperature up to 5); tests/test_sampling_panel.cpp checks every
// bound against the engine's validator. SamplingPanel builds its controls from it and EngineJson
// reads and writes the settings with it. The system prompt is text, not a number: it is a field
// of GenerationSettings beside these. Qt-Core only.
#pragma once
#include "EngineTypes.h"
#include "serving/sampler.h"

#include <QList>

struct SamplingKnob {
    const char* key;       // "top_p": settings.json and objectName "<key>Spin"
    const char* label;     // "Top-p"
    double min, max, step;
    int decimals;          // 0: an integer knob
    const char* help;
    double (*get)(const GenerationSettings&);
    void (*set)(GenerationSettings&, double);
};

const QList<SamplingKnob>& samplingKnobs();
/// The GenerationSettings' sampling part as the engine takes it.
rl::sampling_params toSamplingParams(const GenerationSettings& g);
