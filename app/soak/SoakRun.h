// SoakRun: ridgeline-soak's run. It composes the window's own Qt-Core parts (SettingsStore,
// EngineBridge, ServingController, ServerController) without widgets, so knob changes and the
// pool restart take the very path the window's serving panel takes. It rotates the virtual users
// through the chat, idle-return and ramp scenarios, changes a serving knob at --first-knob and
// then every --knob-every seconds (the first change of the cycle re-sizes the pool:
// ServingController::change, then restartPool, as the panel's Restart button; it comes early so
// that the engine judged after warm-up is the one that runs to the end), runs the bounded API client against the window's
// API server, and samples every --sample-every seconds into a CSV (columns: docs/reliability.md).
// Exercise: dev/soak.sh cpu (10 minutes here), dev/gpu/soak.sh on the GPU machine.
#pragma once
#include "EngineTypes.h"

#include <QElapsedTimer>
#include <QFile>
#include <QObject>
#include <QTextStream>
#include <QTimer>

#include <memory>

class EngineBridge;
class ServerController;
class ServingController;
class SettingsStore;
namespace rl::soak {
class api_load;
}

struct SoakOptions {
    EngineSettings engine;
    double durationS = 1200, sampleEveryS = 10, segmentS = 50, firstKnobS = 120, knobEveryS = 300;
    int users = 64, apiClients = 4, apiPort = 0;   // apiPort 0: a free port is picked
    float temperature = 0.8f, topP = 0.95f;
    QString csvPath, settingsDir;
};

class SoakRun : public QObject {
    Q_OBJECT
public:
    explicit SoakRun(const SoakOptions& opt, QObject* parent = nullptr);
    ~SoakRun() override;
    /// Loads the model; the run starts when it is loaded. Ends with finished(exit code).
    void start();

signals:
    void finished(int exitCode);

private:
    void onLoaded();
    void tick();
    void nextSegment();
    void changeKnob();
    void sample(const QString& event);
    void finish();
    double elapsed() const { return mClock.isValid() ? mClock.elapsed() / 1000.0 : 0; }

    SoakOptions mOpt;
    SettingsStore* mSettings;
    EngineBridge* mBridge;
    ServingController* mServing;
    ServerController* mServer;
    std::unique_ptr<rl::soak::api_load> mApi;
    QElapsedTimer mClock;
    QTimer mTick;
    QFile mCsv;
    QTextStream mOut;
    QString mModelId, mPendingEvent;
    LoadCounters mDone;             // summed over the load generators already stopped
    quint64 mEngineTokensBefore = 0;  // generation tokens of engines already unloaded
    int mSegment = -1, mKnobStep = 0, mRestarts = 0, mLoads = 0;
    double mNextSample = 0, mNextSegment = 0, mNextKnob = 0;
    bool mRestarting = false, mEnded = false;
    int mMaxStalled = 0;
    quint64 mMismatchedSeen = 0;
};
