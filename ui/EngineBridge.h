// EngineBridge: the one QObject that owns an rl::engine. Loads models off the GUI thread,
// submits chat requests, and turns the engine's token events (delivered on the engine thread)
// into Qt signals on the GUI thread via queued invokeMethod. Nothing here touches a widget.
// Exercise: tests/test_chat_window.cpp (chatRoundTrip, badModelShowsError).
#pragma once
#include "EngineTypes.h"

#include <QList>
#include <QObject>
#include <QSet>

#include <memory>
#include <mutex>
#include <thread>

namespace rl {
class engine;
struct token_event;
} // namespace rl

class EngineBridge : public QObject {
    Q_OBJECT
public:
    explicit EngineBridge(QObject* parent = nullptr);
    ~EngineBridge() override;

    /// Starts loading on a worker thread and returns at once; ends in loaded() or loadFailed().
    /// Any current model is unloaded first (its requests finish as cancelled).
    /// Returns false (and does nothing) while another load is in progress.
    bool loadModel(const EngineSettings& settings);
    bool isLoading() const { return mLoading; }
    bool isLoaded() const { return mEngine != nullptr; }
    const ModelSummary& model() const { return mModel; }
    const EngineSettings& settings() const { return mSettings; }

    /// Renders the turns with the model's chat template and submits them. conversationId lets
    /// the scheduler keep a conversation's KV blocks between turns (0 = none). Returns the
    /// request id, or 0 with *error set when there is no model or the prompt cannot be built.
    quint64 submitChat(const QList<ChatTurn>& turns, const GenerationSettings& gen,
                       quint64 conversationId = 0, QString* error = nullptr);
    void cancel(quint64 requestId);
    int inFlight() const { return int(mInFlight.size()); }

signals:
    void loadStarted(const QString& path);
    void loaded(const ModelSummary& model);
    void loadFailed(const QString& message);
    void unloaded();
    /// Streamed text of one token (may be several characters; never empty).
    void tokenReceived(quint64 requestId, const QString& text);
    /// Exactly once per submitted request.
    void requestFinished(quint64 requestId, const ReplyStats& stats);

private:
    void unload();
    void onLoadDone(quint64 generation);
    void deliver(quint64 generation, const rl::token_event& ev);

    std::unique_ptr<rl::engine> mEngine;
    EngineSettings mSettings;
    ModelSummary mModel;
    bool mLoading = false;
    quint64 mGeneration = 0;          // bumped per load: events from an older engine are dropped
    QSet<quint64> mInFlight;

    std::thread mLoader;
    std::mutex mPendingMutex;         // guards the two below, written by the loader thread
    std::unique_ptr<rl::engine> mPendingEngine;
    QString mPendingError;
};
