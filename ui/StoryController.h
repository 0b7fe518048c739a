// StoryController: plays a built-in story (engine/runtime/stories.h) in the window. It sets the
// story's knobs through the ServingController (restarting the pool when the shape changes), then
// starts the story's virtual users, and counts the story's counter from the metrics frames of the
// engine it started on, so the caption can say "seen: 12 preemptions". Qt-Core only.
// Exercise: tests/test_story_window.cpp.
#pragma once
#include "runtime/stories.h"

#include <QList>
#include <QObject>
#include <QPair>
#include <QString>

#include <optional>

class EngineBridge;
class ServingController;
struct MetricsFrame;

class StoryController : public QObject {
    Q_OBJECT
public:
    StoryController(EngineBridge* bridge, ServingController* serving, QObject* parent = nullptr);

    /// Every story as (title, name), in the Presets list's order.
    static QList<QPair<QString, QString>> stories();
    /// Starts a story on the loaded engine: "" or why not (no model, a load running, a refusal).
    QString play(const QString& name);
    /// The story playing (its sizes for the backend it started on); none before play().
    const std::optional<rl::story>& current() const { return mStory; }
    /// Its counter so far (0 until the effect shows) and the whole tally.
    quint64 counter() const { return mStory ? mStory->counter(mTally) : 0; }
    const rl::story_tally& tally() const { return mTally; }
    /// True from play() until the story's users run on the engine it asked for.
    bool starting() const { return mStarting; }

public slots:
    void onFrame(const MetricsFrame& frame);

signals:
    void storyStarted(const QString& title, const QString& caption);
    /// Whenever the counter changes, and once when the users start: "seen: 12 preemptions + ...".
    void progress(const QString& text, quint64 counter);
    void failed(const QString& reason);

private:
    void startLoad();

    EngineBridge* mBridge;
    ServingController* mServing;
    std::optional<rl::story> mStory;
    rl::story_tally mTally;
    int mLongPrefill = 0;        // the auto step budget of the engine the story runs on
    qint64 mRejectedBase = -1;   // the engine's rejected_requests when the story's users started
    bool mStarting = false;
    quint64 mShown = ~quint64(0);
};
