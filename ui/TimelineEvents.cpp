// TimelineEvents: the wording of the timeline's markers (see TimelineEvents.h).
#include "TimelineEvents.h"

#include "EngineBridge.h"
#include "ServingController.h"
#include "StoryController.h"

#include <utility>

TimelineEvents::TimelineEvents(EngineBridge* bridge, ServingController* serving, StoryController* stories,
                               QObject* parent)
    : QObject(parent) {
    connect(serving, &ServingController::knobsChanged, this, [this, stories](const QString& summary) {
        if (stories->starting()) return;   // the story's marker says it
        // A long list would cover the plot: the first two knobs, then how many more.
        const QStringList parts = summary.split(QStringLiteral(", "));
        QString label = parts.mid(0, 2).join(QStringLiteral(", "));
        if (parts.size() > 2) label += tr(" +%1 more").arg(parts.size() - 2);
        emit event(label);
    });
    connect(stories, &StoryController::storyStarted, this, [this, bridge](const QString& title) {
        mStoryLoad = bridge->isLoading();   // the story restarts the pool: its marker says so
        emit event(tr("story: %1").arg(title));
    });
    connect(bridge, &EngineBridge::loaded, this, [this](const ModelSummary& m) {
        const bool first = mLoadedPath.isEmpty(), restart = m.path == mLoadedPath;
        mLoadedPath = m.path;
        const bool story = std::exchange(mStoryLoad, false);
        if (first || story) return;   // the history starts with the first model anyway
        emit event(restart ? tr("pool restart (%1 blocks)").arg(m.kvBlocks) : tr("load %1").arg(m.name));
    });
}
