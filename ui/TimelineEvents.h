// TimelineEvents: what the plots mark on their time axis, as vLLM's Grafana marks deploys: knob
// changes (ServingController::knobsChanged), a story starting (its knob changes and pool restart
// are folded into it), pool restarts (a reload of the same model) and model loads. It only words
// the events; PlotsPanel::addEvent draws them. Qt-Core only. Exercise: tests/test_story_window.cpp.
#pragma once
#include <QObject>
#include <QString>

class EngineBridge;
class ServingController;
class StoryController;

class TimelineEvents : public QObject {
    Q_OBJECT
public:
    TimelineEvents(EngineBridge* bridge, ServingController* serving, StoryController* stories,
                   QObject* parent = nullptr);

signals:
    void event(const QString& label);

private:
    QString mLoadedPath;   // the model loaded before this load, to tell a pool restart from a new model
    bool mStoryLoad = false;   // the load running is a story's pool restart (marked as the story)
};
