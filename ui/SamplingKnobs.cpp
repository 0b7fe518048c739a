// SamplingKnobs: the per-reply settings table (see SamplingKnobs.h).
#include "SamplingKnobs.h"

#include "serving/sampler.h"

#include <QCoreApplication>

const QList<SamplingKnob>& samplingKnobs() {
    using G = GenerationSettings;
    static const QList<SamplingKnob> knobs{
        {"temperature", QT_TRANSLATE_NOOP("SamplingKnobs", "Temperature"), 0, 5, 0.05, 2,
         QT_TRANSLATE_NOOP("SamplingKnobs", "0 picks the likeliest token every time; higher is more varied"),
         [](const G& g) { return double(g.temperature); }, [](G& g, double v) { g.temperature = float(v); }},
        {"top_p", QT_TRANSLATE_NOOP("SamplingKnobs", "Top-p"), 0.01, 1, 0.01, 2,
         QT_TRANSLATE_NOOP("SamplingKnobs", "Nucleus sampling: the smallest set of tokens with this mass (1 = off)"),
         [](const G& g) { return double(g.topP); }, [](G& g, double v) { g.topP = float(v); }},
        {"top_k", QT_TRANSLATE_NOOP("SamplingKnobs", "Top-k"), 0, 1000, 1, 0,
         QT_TRANSLATE_NOOP("SamplingKnobs", "Sample among the K likeliest tokens (0 = off)"),
         [](const G& g) { return double(g.topK); }, [](G& g, double v) { g.topK = int(v); }},
        {"min_p", QT_TRANSLATE_NOOP("SamplingKnobs", "Min-p"), 0, 0.99, 0.01, 2,
         QT_TRANSLATE_NOOP("SamplingKnobs", "Drop tokens below this fraction of the likeliest (0 = off)"),
         [](const G& g) { return double(g.minP); }, [](G& g, double v) { g.minP = float(v); }},
        {"repetition_penalty", QT_TRANSLATE_NOOP("SamplingKnobs", "Repeat penalty"), 0.5, 2, 0.05, 2,
         QT_TRANSLATE_NOOP("SamplingKnobs", "Penalty on the logits of the last 64 tokens (1 = off)"),
         [](const G& g) { return double(g.repetitionPenalty); }, [](G& g, double v) { g.repetitionPenalty = float(v); }},
        {"max_tokens", QT_TRANSLATE_NOOP("SamplingKnobs", "Max tokens"), 1, 32768, 16, 0,
         QT_TRANSLATE_NOOP("SamplingKnobs", "Longest reply in tokens (the model's context also ends it)"),
         [](const G& g) { return double(g.maxTokens); }, [](G& g, double v) { g.maxTokens = int(v); }},
        {"seed", QT_TRANSLATE_NOOP("SamplingKnobs", "Seed"), 0, 2147483647, 1, 0,
         QT_TRANSLATE_NOOP("SamplingKnobs", "Seed of the sampler's random stream: the same seed and settings give the same reply"),
         [](const G& g) { return double(g.seed); }, [](G& g, double v) { g.seed = quint64(v); }},
    };
    return knobs;
}

rl::sampling_params toSamplingParams(const GenerationSettings& g) {
    rl::sampling_params p;
    p.temperature = g.temperature;
    p.top_p = g.topP;
    p.top_k = g.topK;
    p.min_p = g.minP;
    p.repetition_penalty = g.repetitionPenalty;
    p.seed = g.seed;
    return p;
}
