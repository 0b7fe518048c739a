// EngineBridge: the one QObject that owns an rl::engine and its load generator. Loads models off
// the GUI thread (the old model keeps serving until the new one is ready; a cancelled load is
// discarded when it arrives), submits chat requests, applies serving configs, runs virtual users,
// and turns the engine's token events (delivered on the engine thread) into Qt signals on the GUI
// thread via queued invokeMethod. Nothing here touches a widget.
// Exercise: tests/test_chat_window.cpp, tests/test_workbench_window.cpp.
#pragma once
#include "EngineTypes.h"

#include <QList>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <memory>
#include <mutex>
#include <future>
#include <thread>

namespace rl {
class engine;
class load_generator;
struct scenario;
struct serving_config;
struct token_event;
} // namespace rl

class MetricsPump;
class SettingsStore;

class EngineBridge : public QObject {
    Q_OBJECT
public:
    explicit EngineBridge(QObject* parent = nullptr);
    ~EngineBridge() override;

    /// Starts loading on a worker thread and returns at once; ends in loaded(), loadFailed() or
    /// (after cancelLoad) loadCancelled(). The current model keeps running until the new one is
    /// ready; then it is unloaded (its requests finish as cancelled, virtual users stop).
    /// Returns false (and does nothing) while another load is still running on the worker.
    bool loadModel(const EngineSettings& settings);
    /// Forgets the load in progress: its result is discarded when it arrives, the current model
    /// (if any) stays. Emits loadCancelled().
    void cancelLoad();
    bool isLoading() const { return mLoading; }
    /// The engine for read-only observers on the GUI thread (metrics); null when none is loaded.
    rl::engine* engine() const { return mEngine.get(); }
    /// Polls the loaded engine (started after a load, stopped before an unload); connect its
    /// frameReady to the live instruments.
    MetricsPump* metricsPump() const { return mPump; }
    bool isLoaded() const { return mEngine != nullptr; }
    const ModelSummary& model() const { return mModel; }
    /// How the loaded model was opened. Its serving config is not kept here: ServingController
    /// owns the chosen one, the engine runs it (engine()->current_config()).
    const ModelSource& source() const { return mSource; }

    /// Renders the turns with the model's chat template and submits them. conversationId lets
    /// the scheduler keep a conversation's KV blocks between turns (0 = none). Returns the
    /// request id, or 0 with *error set when there is no model or the prompt cannot be built.
    quint64 submitChat(const QList<ChatTurn>& turns, const GenerationSettings& gen,
                       quint64 conversationId = 0, QString* error = nullptr);
    void cancel(quint64 requestId);
    int inFlight() const { return int(mInFlight.size()); }

    /// Hands cfg to the loaded engine, which validates it and applies it at its next step
    /// boundary. Returns "" or the engine's reason (the previous config stays in force); with no
    /// model, "no model is loaded". ServingController, the config's owner, is the caller.
    QString applyServing(const rl::serving_config& cfg);

    /// Starts the scenario's virtual users (stopping any already running). "" or the reason.
    QString startLoadGenerator(const rl::scenario& sc);
    void setLoadGeneratorPaused(bool paused);
    /// Cancels what the virtual users have in flight and waits for it (a few ms).
    void stopLoadGenerator();
    bool isLoadGeneratorRunning() const { return mLoadGen != nullptr; }
    LoadCounters loadCounters() const;
    /// Where measured device peaks are kept (PeakCache): loads use the entry for their device
    /// instead of measuring, and a fresh measurement is written back. Null: always measure.
    void setPeakStore(SettingsStore* store) { mPeakStore = store; }
    /// Measures the loaded engine's peaks again (about a second, on the engine thread; steps
    /// wait) and keeps them for this device; ends in peaksMeasured or peaksMeasureFailed.
    /// False (nothing started) with no model or while a measurement runs.
    bool remeasurePeaks();
    bool isMeasuringPeaks() const { return mMeasuring; }

signals:
    void loadStarted(const QString& path);
    void loaded(const ModelSummary& model);
    void loadFailed(const QString& message);
    void loadCancelled();
    /// Emitted just before the engine is destroyed (observers drop their pointer to it).
    void aboutToUnload();
    void unloaded();
    /// Every 500 ms while virtual users run, and once when they stop.
    void loadCountersChanged(const LoadCounters& counters);
    /// Streamed text of one token (may be several characters; never empty).
    void tokenReceived(quint64 requestId, const QString& text);
    /// A chat request's prefill has begun a chunk: `computed` of `total` prompt tokens have KV
    /// (cache hits included). None arrive once its first token has.
    void promptProgress(quint64 requestId, int computed, int total);
    /// Exactly once per submitted request.
    void requestFinished(quint64 requestId, const ReplyStats& stats);
    void peaksMeasured(double flops, double bytesPerS);
    void peaksMeasureFailed(const QString& message);

private:
    void unload();
    void onLoadDone(quint64 ticket);
    void deliver(quint64 generation, const rl::token_event& ev);
    void joinCalibrator();

    std::unique_ptr<rl::engine> mEngine;
    ModelSource mSource;
    ModelSummary mModel;
    ModelSource mPendingSource;       // what the load in progress was asked for
    bool mPendingAlone = true;        // no other engine ran while it loaded (its peaks may be kept)
    bool mLoading = false;
    bool mLoaderBusy = false;         // the worker is still running (also after cancelLoad)
    quint64 mLoadTicket = 0;          // bumped per load and per cancel: stale results are dropped
    quint64 mGeneration = 0;          // bumped per unload: events from an older engine are dropped
    QSet<quint64> mInFlight;

    MetricsPump* mPump;                             // stopped before mEngine goes
    std::unique_ptr<rl::load_generator> mLoadGen;   // stopped before mEngine goes
    bool mLoadPaused = false;
    std::unique_ptr<rl::scenario> mResume;   // the virtual users a reload of the same model resumes
    bool mResumePaused = false;
    QTimer mCountersTimer;

    SettingsStore* mPeakStore = nullptr;
    std::thread mCalibrator;          // remeasurePeaks' waiter: holds only its future
    bool mMeasuring = false;

    std::thread mLoader;
    std::mutex mPendingMutex;         // guards the two below, written by the loader thread
    std::unique_ptr<rl::engine> mPendingEngine;
    QString mPendingError;
};
