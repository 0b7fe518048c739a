// RooflineWidget.cpp: see RooflineWidget.h.
#include "RooflineWidget.h"

#include "PlotStyle.h"

#include <QFileDialog>
#include <QMenu>
#include <QTimer>
#include <QToolTip>

#include <cmath>

namespace {
constexpr double kXMin = 0.05, kXMax = 5000;   // FLOP/byte: CPU fp32 decode ~0.5, H100 bf16 ridge 295

QString si(double v, const QString& unit) {   // 1.23 TFLOP/s
    const char* prefixes[] = {"", "k", "M", "G", "T", "P"};
    int p = 0;
    while (std::abs(v) >= 1000 && p < 5) {
        v /= 1000;
        ++p;
    }
    return QStringLiteral("%1 %2%3").arg(v, 0, 'g', 3).arg(QLatin1String(prefixes[p]), unit);
}
} // namespace

RooflineWidget::RooflineWidget(QWidget* parent) : QCustomPlot(parent) {
    setMouseTracking(true);   // hovering a point reads it out (describeAt)
    setMinimumSize(260, 180);   // a 1280x720 window's right column
    plotLayout()->insertRow(0);
    plotLayout()->addElement(0, 0, new QCPTextElement(this, tr("Roofline"), QFont(font().family(), font().pointSize(), QFont::Bold)));
    for (QCPAxis* ax : {xAxis, yAxis}) {
        ax->setScaleType(QCPAxis::stLogarithmic);
        QSharedPointer<QCPAxisTickerLog> t(new QCPAxisTickerLog);
        t->setLogBase(10);
        t->setSubTickCount(8);
        ax->setTicker(t);
        ax->setNumberFormat(QStringLiteral("eb"));
        ax->setNumberPrecision(0);
        ax->grid()->setSubGridVisible(true);
    }
    connect(this, &QCustomPlot::beforeReplot, this, [this] {
        PlotStyle::fitTicks(xAxis, 8);
        PlotStyle::fitTicks(yAxis, 8);
    });
    xAxis->setLabel(tr("arithmetic intensity (FLOP/byte)"));
    yAxis->setLabel(tr("achieved FLOP/s"));
    xAxis->setRange(kXMin, kXMax);
    yAxis->setRange(1e9, 1e15);

    const char* names[] = {"measured", "bf16 spec", "fp8 spec"};
    const Qt::PenStyle styles[] = {Qt::SolidLine, Qt::DashLine, Qt::DotLine};
    for (int r = 0; r < 3; ++r) {
        Roof& roof = mRoofs[r];
        roof.name = QString::fromLatin1(names[r]);
        roof.style = styles[r];
        roof.graph = addGraph();
        roof.graph->setName(tr("roof (%1)").arg(roof.name));
        roof.ridge = addGraph();
        roof.ridge->setLineStyle(QCPGraph::lsNone);
        roof.ridge->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, 7));
        roof.ridge->removeFromLegend();
        roof.graph->setVisible(false);
        roof.graph->removeFromLegend();
        roof.ridge->setVisible(false);
    }
    const QColor phaseColor[] = {PlotStyle::prefill(), PlotStyle::decode(), PlotStyle::mixed()};
    const char* phaseName[] = {"prefill-only steps", "decode-only steps", "mixed steps"};
    for (int ph = 0; ph < 3; ++ph) {
        for (int b = 0; b < kAgeBuckets; ++b) {   // bucket 0 = newest
            QCPGraph* g = addGraph();
            g->setLineStyle(QCPGraph::lsNone);
            QColor c = phaseColor[ph];
            c.setAlphaF(1.0 - 0.85 * b / (kAgeBuckets - 1));
            QCPScatterStyle ss(QCPScatterStyle::ssDisc, c, c, b == 0 ? 7 : 5);
            g->setScatterStyle(ss);
            g->setName(tr(phaseName[ph]));
            if (b != 0) g->removeFromLegend();
            mPointGraphs.append(g);
        }
    }
    // The legend sits in its own row under the axis (roofs, then phases), clear of the labels.
    legend->setVisible(true);
    axisRect()->insetLayout()->take(legend);
    plotLayout()->addElement(2, 0, legend);
    plotLayout()->setRowStretchFactor(2, 0.001);
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    legend->setWrap(3);
    legend->setMargins(QMargins(4, 2, 4, 2));
    QFont small = font();
    small.setPointSizeF(font().pointSizeF() * 0.85);
    legend->setFont(small);
    restyle();

    mTimer = new QTimer(this);
    mTimer->setSingleShot(true);
    mTimer->setInterval(40);
    connect(mTimer, &QTimer::timeout, this, &RooflineWidget::flush);
}

void RooflineWidget::setRoof(Roof& roof, double flops, double bw) {
    if (roof.flops == flops && roof.bw == bw) return;
    roof.flops = flops;
    roof.bw = bw;
    const bool on = flops > 0 && bw > 0;
    roof.graph->setVisible(on);
    roof.ridge->setVisible(on);
    mLegendDirty = true;
    if (!on) {
        roof.graph->removeFromLegend();
        return;
    }
    roof.graph->addToLegend();
    const double ridge = flops / bw;
    // The memory slope from kXMin to the ridge, then the flat compute roof to kXMax.
    roof.graph->setData({kXMin, ridge, kXMax}, {kXMin * bw, flops, flops}, true);
    roof.ridge->setData({ridge}, {flops}, true);
    // The ridge is named in the legend, not beside its diamond: the bf16 and fp8 ridges of a GPU
    // sit a factor 2 apart and their labels piled on each other and over the points.
    roof.graph->setName(tr("%1: ridge %2 FLOP/B (%3, %4)")
                            .arg(roof.name)
                            .arg(ridge, 0, 'g', 3)
                            .arg(si(flops, QStringLiteral("FLOP/s")), si(bw, QStringLiteral("B/s"))));
    mLegendDirty = true;
}

QStringList RooflineWidget::ridgeLabels() const {
    QStringList out;
    for (const Roof& r : mRoofs)
        if (r.flops > 0 && r.bw > 0) out << tr("ridge %1 FLOP/B (%2)").arg(r.flops / r.bw, 0, 'g', 3).arg(r.name);
    return out;
}

void RooflineWidget::resizeEvent(QResizeEvent* event) {
    mLegendDirty = true;
    fitLegend();
    QCustomPlot::resizeEvent(event);
}

void RooflineWidget::fitLegend() {
    if (!mLegendDirty || width() <= 0) return;
    mLegendDirty = false;
    PlotStyle::fitLegend(legend, width() - 8, 3);
}

void RooflineWidget::onFrame(const MetricsFrame& frame) {
    setRoof(mRoofs[0], frame.measured.flops, frame.measured.bytes_per_s);
    setRoof(mRoofs[1], frame.specBf16, frame.specBandwidth);
    setRoof(mRoofs[2], frame.specFp8, frame.specBandwidth);
    const auto& steps = frame.snap.new_steps;
    const size_t skip = steps.size() > size_t(kTrail) ? steps.size() - kTrail : 0;
    for (size_t i = skip; i < steps.size(); ++i) {
        const rl::step_record& s = steps[i];
        if (s.flops <= 0 || s.bytes <= 0 || s.duration_s <= 0 || s.tokens() == 0) continue;
        const int phase = s.decode_tokens == 0 ? 0 : s.prefill_tokens == 0 ? 1 : 2;
        mSteps.push_back({s.flops / s.bytes, s.flops / s.duration_s, phase, s.num_running, s.prefill_tokens,
                          s.decode_tokens, s.duration_s});
    }
    while (mSteps.size() > size_t(kTrail)) mSteps.pop_front();
    mDirty = true;
    if (!mTimer->isActive()) mTimer->start();
}

QString RooflineWidget::describeAt(const QPointF& pos) const {
    const Point* best = nullptr;
    double bestD = 8 * 8;   // within 8 px
    for (const Point& p : mSteps) {
        const double dx = xAxis->coordToPixel(p.intensity) - pos.x(), dy = yAxis->coordToPixel(p.achieved) - pos.y();
        if (dx * dx + dy * dy <= bestD) bestD = dx * dx + dy * dy, best = &p;
    }
    if (!best) return QString();
    static const char* const phases[] = {"prefill-only", "decode-only", "mixed"};
    return tr("%1 step · batch %2 · %3 prefill + %4 decode tokens · %5 ms · %6 FLOP/B · %7 GFLOP/s")
        .arg(QLatin1String(phases[best->phase]))
        .arg(best->batch)
        .arg(best->prefill)
        .arg(best->decode)
        .arg(best->durationS * 1e3, 0, 'f', 1)
        .arg(best->intensity, 0, 'g', 3)
        .arg(best->achieved / 1e9, 0, 'f', 1);
}

void RooflineWidget::mouseMoveEvent(QMouseEvent* event) {
    QCustomPlot::mouseMoveEvent(event);
    const QString text = describeAt(event->position());
    if (text.isEmpty()) QToolTip::hideText();
    else QToolTip::showText(event->globalPosition().toPoint(), text, this);
}

void RooflineWidget::clear() {
    mSteps.clear();
    for (Roof& r : mRoofs) setRoof(r, 0, 0);
    mDirty = true;
    flush();
}

void RooflineWidget::rebuildPoints() {
    QVector<QVector<double>> xs(mPointGraphs.size()), ys(mPointGraphs.size());
    const int n = int(mSteps.size());
    for (int i = 0; i < n; ++i) {
        const int age = n - 1 - i;   // 0 = newest
        const int bucket = std::min(kAgeBuckets - 1, age * kAgeBuckets / kTrail);
        const int g = mSteps[size_t(i)].phase * kAgeBuckets + bucket;
        xs[g].append(mSteps[size_t(i)].intensity);
        ys[g].append(mSteps[size_t(i)].achieved);
    }
    for (int g = 0; g < mPointGraphs.size(); ++g) mPointGraphs[g]->setData(xs[g], ys[g], false);
}

void RooflineWidget::rescale() {
    // Keep every roof and point in view; only grows the span in whole decades so it does not jitter.
    double xlo = kXMin, xhi = kXMax, ylo = HUGE_VAL, yhi = 0;
    for (const Roof& r : mRoofs) {
        if (r.flops <= 0) continue;
        yhi = std::max(yhi, r.flops);
        ylo = std::min(ylo, kXMin * r.bw);
    }
    for (const Point& p : mSteps) {
        xlo = std::min(xlo, p.intensity);
        xhi = std::max(xhi, p.intensity);
        ylo = std::min(ylo, p.achieved);
        yhi = std::max(yhi, p.achieved);
    }
    if (yhi <= 0) return;
    auto down = [](double v) { return std::pow(10.0, std::floor(std::log10(v))); };
    auto up = [](double v) { return std::pow(10.0, std::ceil(std::log10(v * 1.5))); };
    xAxis->setRange(down(xlo), up(xhi));
    yAxis->setRange(down(ylo), up(yhi));
}

void RooflineWidget::flush() {
    if (!mDirty) return;
    mDirty = false;
    rebuildPoints();
    rescale();
    fitLegend();
    replot(QCustomPlot::rpQueuedReplot);
}

void RooflineWidget::restyle() {
    PlotStyle::applyPlotPalette(this, palette());
    const QColor fg = PlotStyle::neutral(palette());
    for (Roof& r : mRoofs) {
        r.graph->setPen(QPen(fg, 1, r.style));
        r.ridge->setPen(QPen(fg));
        r.ridge->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDiamond, fg, palette().color(QPalette::Base), 7));
    }
}

void RooflineWidget::changeEvent(QEvent* event) {
    QCustomPlot::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) {
        restyle();
        replot(QCustomPlot::rpQueuedReplot);
    }
}

void RooflineWidget::contextMenuEvent(QContextMenuEvent* event) {
    QMenu menu(this);
    menu.addAction(tr("Save as PNG…"), this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save roofline as PNG"), QStringLiteral("roofline.png"),
                                                          tr("PNG images (*.png)"));
        if (!path.isEmpty()) savePng(path);
    });
    menu.exec(event->globalPos());
}
