// LoadGeneratorPanel: the virtual-users dock. A scenario preset (chat, summarize, write,
// idle-return, ramp) fills the fields (users, rate for open loop, think time, prompt and output
// lengths), which can then be edited; Start / Pause / Stop; and the running counters (requests
// finished and rejected) that EngineBridge polls every 500 ms. Thin: it emits what was asked and
// shows the LoadCounters it is handed.
#pragma once
#include "EngineTypes.h"
#include "runtime/load_generator.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QSpinBox;

class LoadGeneratorPanel : public QWidget {
    Q_OBJECT
public:
    explicit LoadGeneratorPanel(QWidget* parent = nullptr);

    rl::scenario scenario() const;
    void setScenario(const rl::scenario& s);

public slots:
    void showCounters(const LoadCounters& c);
    void setEngineReady(bool ready);
    void showError(const QString& message);

signals:
    void startRequested(const rl::scenario& s);
    void pauseRequested(bool paused);
    void stopRequested();
    void scenarioEdited(const rl::scenario& s);

private:
    void presetChosen();
    void updateButtons();

    QComboBox* mPreset;
    QCheckBox* mOpenLoop;
    QSpinBox* mUsers;
    QDoubleSpinBox* mRate;
    QDoubleSpinBox* mThink;
    QSpinBox* mPrompt;
    QSpinBox* mOutput;
    QSpinBox* mTurns;
    QPushButton* mStart;
    QPushButton* mPause;
    QPushButton* mStop;
    QLabel* mFinished;
    QLabel* mRejected;
    QLabel* mDetail;
    rl::scenario mBase;
    bool mReady = false;
    bool mRunning = false;
    bool mPaused = false;
    bool mUpdating = false;
};
