// RooflineWidget: the roofline of the device on log-log axes. x = arithmetic intensity (FLOP/byte),
// y = achieved FLOP/s. Roofs: min(peak FLOP/s, intensity · peak bytes/s) for the measured peaks
// (solid) and the datasheet (dashed bf16, dotted fp8, when known), each ridge a diamond named with
// its value in the legend (which re-wraps to the widget's width rather than be clipped). The
// latest ~200 steps are points coloured by phase (prefill-only, decode-only, mixed) whose alpha
// fades with age: a step's point is (flops / bytes, flops / duration), so a larger decode batch
// walks up the memory slope. Replots at most every 40 ms. Exercise: tests/test_workbench_plots.cpp.
#pragma once
#include "MetricsFrame.h"

#include <qcustomplot.h>

#include <deque>

class QTimer;

class RooflineWidget : public QCustomPlot {
    Q_OBJECT
public:
    static constexpr int kTrail = 200;     ///< steps kept on screen
    static constexpr int kAgeBuckets = 8;  ///< alpha levels

    explicit RooflineWidget(QWidget* parent = nullptr);

    /// Points currently drawn (tests).
    int pointCount() const { return int(mSteps.size()); }
    /// Labels of the ridge points currently shown, on one line, e.g. "ridge 295 FLOP/B (bf16 spec)".
    QStringList ridgeLabels() const;
    /// What hovering at pixel `pos` reads out: the nearest step point within a few pixels, as
    /// "decode-only step · batch 4 · 4 + 0 tokens · 36.1 ms · 1.2 FLOP/B · 24.3 GFLOP/s"; "" if none.
    QString describeAt(const QPointF& pos) const;

public slots:
    /// Connect MetricsPump::frameReady here.
    void onFrame(const MetricsFrame& frame);
    void clear();
    void flush();   ///< applies pending points and replots now (the 40 ms timer does this)

protected:
    void changeEvent(QEvent* event) override;
    void contextMenuEvent(QContextMenuEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;

private:
    void fitLegend();
    struct Point {
        double intensity, achieved;
        int phase;   // 0 prefill-only, 1 decode-only, 2 mixed
        int batch = 0, prefill = 0, decode = 0;
        double durationS = 0;
    };
    struct Roof {
        double flops = 0, bw = 0;
        QString name;
        Qt::PenStyle style = Qt::SolidLine;
        QCPGraph* graph = nullptr;
        QCPGraph* ridge = nullptr;
    };
    void setRoof(Roof& roof, double flops, double bw);
    void rebuildPoints();
    void rescale();
    void restyle();

    std::deque<Point> mSteps;
    Roof mRoofs[3];                                   // measured, bf16 spec, fp8 spec
    QVector<QCPGraph*> mPointGraphs;                  // [phase * kAgeBuckets + bucket]
    QTimer* mTimer;
    bool mDirty = false;
    bool mLegendDirty = true;   // entries or width changed: re-wrap before the next replot
};
