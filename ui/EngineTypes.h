// EngineTypes: the Qt value types that cross between the engine and the UI: settings going in
// (ModelSource, EngineSettings, GenerationSettings, ChatTurn) and snapshots coming out (ModelSummary,
// ReplyStats, LoadCounters). Qt-Core only. The engine's plain knob structs (rl::serving_config,
// rl::scenario: no threads, no pointers) are used as values as they are, rather than mirrored
// field by field. Formatting helpers live here too so the status bar, the transcript and the
// tests agree on how a number reads.
#pragma once
#include "serving/serving_config.h"

#include <QFileInfo>
#include <QMetaType>
#include <QRegularExpression>
#include <QString>

/// Where a model comes from and how the engine runs it: everything of a load but the serving knobs.
struct ModelSource {
    QString modelPath;                      // a GGUF file
    QString backend = QStringLiteral("cpu"); // "cpu" or "cuda"
    QString weights = QStringLiteral("auto"); // rl::weight_storage: "auto", "native", "bf16", "f32"
    int threads = 0;                        // CPU threads; 0 = all cores
    bool calibrate = true;                  // measure the device peaks at load (about a second)
};

/// How to open a model (EngineBridge::loadModel): the source and the serving config to load with.
/// Once loaded, the ServingController owns the serving config; the bridge keeps only the source.
struct EngineSettings : ModelSource {
    rl::serving_config serving;             // the pool shape (restarts_pool knobs) is fixed per load
};

/// Per-reply sampling and length settings (ChatController::setGenerationSettings). Their ranges,
/// labels and help: SamplingKnobs.h, the one table the panel and the settings file read.
struct GenerationSettings {
    int maxTokens = 512;
    float temperature = 0.7f;   // 0 = greedy
    float topP = 0.9f;
    int topK = 40;
    float minP = 0.f;           // 0 = off
    float repetitionPenalty = 1.1f;
    quint64 seed = 0;
    int priority = 10;          // the person outranks virtual users (0) under the priority policy
    QString systemPrompt;       // "" = none; sent as the first turn

    bool operator==(const GenerationSettings&) const = default;
};

/// One message of the conversation as the chat template sees it.
struct ChatTurn {
    QString role;      // "system", "user", "assistant"
    QString content;
};

/// What the loaded model is, copied out of rl::engine_info once after loading.
struct ModelSummary {
    QString name;
    QString path;
    QString arch;
    QString backend;           // "cpu (16 threads)"
    QString chatTemplate;      // "chatml", ...
    QString templateWarning;   // empty when the template was recognised
    qint64 params = 0;
    quint64 weightBytes = 0;   // as the backend holds them
    QString weightTypes;       // "q4_k 3.60 GiB, q6_k 0.79 GiB, ..."
    int contextLength = 0;
    int layers = 0;
    int kvBlocks = 0;
    int blockSize = 0;
    int autoBatchedTokens = 0; // what max_num_batched_tokens "auto" means on this backend
};

/// The end of one reply: why it stopped and its timings (from rl::request_stats).
struct ReplyStats {
    QString finishReason;      // "stop", "length", "cancelled", "rejected", "error"
    QString error;             // for rejected / error
    int promptTokens = 0;
    int generatedTokens = 0;
    int cachedPromptTokens = 0;
    double queueMs = 0;
    double ttftMs = 0;
    double decodeTokS = 0;
    double e2eMs = 0;
    /// Set by ChatController: the engine recomputed part of what this conversation's previous
    /// turn had computed (its cached blocks were evicted in between).
    bool recomputed = false;

    bool rejected() const { return finishReason == QLatin1String("rejected"); }
    bool failed() const {
        return finishReason == QLatin1String("error") || finishReason == QLatin1String("rejected");
    }
};

/// The load generator's running totals (rl::load_counters), polled every 500 ms.
struct LoadCounters {
    bool running = false;
    bool paused = false;
    QString scenario;
    quint64 submitted = 0, finished = 0, rejected = 0, errors = 0, streamedTokens = 0;
    quint64 cancelled = 0, generatedTokens = 0, mismatched = 0;  // rl::load_counters: per-request accounting
    int inFlight = 0, stalled = 0;                // stalled: silent for 60 s (stuck)
    int activeUsers = 0;
    QString lastError;  // the latest errored request's reason
};

Q_DECLARE_METATYPE(ModelSummary)
Q_DECLARE_METATYPE(ReplyStats)
Q_DECLARE_METATYPE(LoadCounters)

namespace Format {
/// "135M", "1.2B"
inline QString paramCount(qint64 n) {
    if (n >= 1000000000LL) return QString::number(n / 1e9, 'f', 1) + QLatin1Char('B');
    if (n >= 1000000LL) return QString::number(qRound64(n / 1e6)) + QLatin1Char('M');
    if (n >= 1000LL) return QString::number(qRound64(n / 1e3)) + QLatin1Char('K');
    return QString::number(n);
}
/// "86 MiB", "1.4 GiB"
inline QString bytes(quint64 b) {
    if (b >= (1ULL << 30)) return QString::number(b / double(1ULL << 30), 'f', 1) + QStringLiteral(" GiB");
    return QString::number(qRound64(b / double(1ULL << 20))) + QStringLiteral(" MiB");
}
/// "TTFT 42 ms", "TTFT 1.25 s"
inline QString ttft(double ms) {
    if (ms >= 1000) return QStringLiteral("TTFT %1 s").arg(ms / 1000.0, 0, 'f', 2);
    return QStringLiteral("TTFT %1 ms").arg(ms, 0, 'f', ms < 10 ? 1 : 0);
}
/// "1 token", "16 tokens"
inline QString tokens(int n) {
    return n == 1 ? QStringLiteral("1 token") : QStringLiteral("%1 tokens").arg(n);
}
/// The model's name for the title and status bar. GGUF's general.name is often a training run's
/// ("Smollm2 135M 8k Lc100K Mix1 Ep2") while the file's name is the one people know: the file's
/// name is used when it names a model (it carries a size such as "135M" or "8B"), its
/// quantization split off: "SmolLM2-135M-Instruct (Q4_1)"; else general.name; else the file's.
inline QString modelName(const QString& path, const QString& metadataName) {
    if (path.startsWith(QLatin1String("synthetic:"))) return metadataName.isEmpty() ? path : metadataName;
    QString stem = QFileInfo(path).completeBaseName();
    static const QRegularExpression size(QStringLiteral("(^|[^A-Za-z0-9])\\d+(\\.\\d+)?[BbMm]([^A-Za-z]|$)"));
    if (!size.match(stem).hasMatch() && !metadataName.isEmpty()) return metadataName;
    static const QRegularExpression quant(QStringLiteral("[.\\-_]((I?Q\\d[A-Za-z0-9_]*)|BF16|F16|F32)$"),
                                          QRegularExpression::CaseInsensitiveOption);
    const QRegularExpressionMatch q = quant.match(stem);
    if (!q.hasMatch()) return stem;
    stem.truncate(q.capturedStart());
    return QStringLiteral("%1 (%2)").arg(stem, q.captured(1).toUpper());
}
/// "183.4 tok/s"
inline QString tokensPerSecond(double tps) {
    return QStringLiteral("%1 tok/s").arg(tps, 0, 'f', tps < 100 ? 1 : 0);
}
} // namespace Format
