// StoryController: knobs, pool restart, users, counter (see StoryController.h).
#include "StoryController.h"

#include "EngineBridge.h"
#include "MetricsFrame.h"
#include "ServingController.h"

#include "runtime/engine.h"

StoryController::StoryController(EngineBridge* bridge, ServingController* serving, QObject* parent)
    : QObject(parent), mBridge(bridge), mServing(serving) {
    // A pool restart the story asked for ends here: its users start on the new engine.
    connect(mBridge, &EngineBridge::loaded, this, [this] {
        if (mStarting) startLoad();
    });
    connect(mBridge, &EngineBridge::loadFailed, this, [this](const QString& why) {
        if (!mStarting) return;
        mStarting = false;
        emit failed(why);
    });
}

QList<QPair<QString, QString>> StoryController::stories() {
    QList<QPair<QString, QString>> out;
    for (const std::string& n : rl::story_names())
        out.append({QString::fromStdString(rl::story_preset(n, {}).title), QString::fromStdString(n)});
    return out;
}

QString StoryController::play(const QString& name) {
    if (!mBridge->isLoaded()) return tr("load a model first");
    if (mBridge->isLoading()) return tr("a model is loading; try again when it is done");
    try {
        mStory = rl::story_preset(name.toStdString(), rl::story_backend_of(*mBridge->engine()));
    } catch (const std::exception& ex) {
        return QString::fromStdString(ex.what());
    }
    QString why;
    mStarting = true;   // from here the knob changes and the restart are the story's own
    const ServingController::Result r = mServing->change(mStory->serving, &why);
    if (r == ServingController::Result::Refused) {
        mStarting = false;
        mStory.reset();
        return why;
    }
    if (r == ServingController::Result::NeedsRestart) {
        mBridge->stopLoadGenerator();   // the old users would only resume on the new pool
        if (!mServing->restartPool()) {
            mStarting = false;
            return tr("the pool could not restart");
        }
    }
    // After the restart has begun, so a listener can tell (EngineBridge::isLoading) that the
    // next load is the story's own.
    emit storyStarted(QString::fromStdString(mStory->title), QString::fromStdString(mStory->caption));
    if (r == ServingController::Result::NeedsRestart) return QString();
    startLoad();
    return QString();
}

void StoryController::startLoad() {
    mStarting = false;
    mTally = {};
    mRejectedBase = -1;
    mLongPrefill = mBridge->model().autoBatchedTokens;
    mShown = ~quint64(0);
    if (const QString err = mBridge->startLoadGenerator(mStory->load); !err.isEmpty()) {
        emit failed(err);
        return;
    }
    emit progress(tr("Running: watching %1.").arg(QString::fromStdString(mStory->watch)), 0);
}

void StoryController::onFrame(const MetricsFrame& frame) {
    if (!mStory || mStarting) return;
    for (const rl::step_record& r : frame.snap.new_steps) mTally.add(r, mLongPrefill);
    const auto rejected = qint64(frame.snap.rejected_requests);
    if (mRejectedBase < 0 || rejected < mRejectedBase) mRejectedBase = rejected;   // first frame, or a new engine
    mTally.rejected = quint64(rejected - mRejectedBase);
    const quint64 c = counter();
    if (c == mShown || c == 0) return;
    mShown = c;
    emit progress(tr("Seen: %1 %2.").arg(c).arg(QString::fromStdString(mStory->watch)), c);
}
