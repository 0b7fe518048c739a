// StepStrip: the engine's steps as a timeline under the plots, in the style of Nsight Systems: a
// bar per step from its start for its duration, orange for prefill, blue for decode, purple for a
// mixed step, as tall as its batch, with a red rule above the steps after which requests were
// waiting. A long prefill bar with the rule over it is why a chat waited. The newest time is at
// the right edge; the wheel zooms the span (50 ms .. 10 min), a pause (the plots') freezes it and
// lets a drag pan. Hover names the step. Steps shorter than a pixel merge as StepStripModel
// says. Exercise: tests/test_step_strip.cpp.
#pragma once
#include "StepStripModel.h"

#include <QWidget>

class StepStrip : public QWidget {
    Q_OBJECT
public:
    explicit StepStrip(QWidget* parent = nullptr);

    /// New steps and the engine's time now, both on the plots' clock (PlotsPanel shifts them).
    void addSteps(const std::vector<rl::step_record>& steps, double nowS);
    void clear();
    void setPaused(bool paused);
    void setSpanSeconds(double s);
    double spanSeconds() const { return mSpanS; }
    /// The right edge's time.
    double endTime() const { return mEndS; }
    const StepStripModel& model() const { return mModel; }
    /// What hovering at x (widget pixels) says; empty where no step is.
    QString describeAt(int x) const;

    QSize sizeHint() const override { return {600, 64}; }
    QSize minimumSizeHint() const override { return {200, 34}; }

protected:
    void paintEvent(QPaintEvent*) override;
    void wheelEvent(QWheelEvent* e) override;
    void mousePressEvent(QMouseEvent* e) override;
    void mouseMoveEvent(QMouseEvent* e) override;

private:
    QRect barArea() const;
    double timeAt(int x) const;

    StepStripModel mModel;
    double mSpanS = 5;
    double mEndS = 0;       // the right edge: the engine's now, unless paused
    bool mPaused = false;
    int mDragX = -1;
    double mDragEndS = 0;
};
