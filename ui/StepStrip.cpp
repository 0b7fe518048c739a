// StepStrip.cpp: see StepStrip.h.
#include "StepStrip.h"

#include "PlotStyle.h"

#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace {
QColor colorOf(StepStripModel::Kind k) {
    switch (k) {
    case StepStripModel::Prefill: return PlotStyle::prefill();
    case StepStripModel::Mixed: return PlotStyle::mixed();
    default: return PlotStyle::decode();
    }
}

QString durationText(double s) {
    if (s >= 1) return QStringLiteral("%1 s").arg(s, 0, 'f', s >= 10 ? 0 : 1);
    if (s >= 0.01) return QStringLiteral("%1 ms").arg(s * 1e3, 0, 'f', 0);
    return QStringLiteral("%1 ms").arg(s * 1e3, 0, 'f', 1);
}

constexpr int kHeaderH = 15;
} // namespace

StepStrip::StepStrip(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("stepStrip"));
    setMouseTracking(true);
    // As tall as its hint where there is room, down to a thin band where the plots need it.
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Maximum);
    setToolTip(QString());
}

void StepStrip::addSteps(const std::vector<rl::step_record>& steps, double nowS) {
    mModel.add(steps);
    if (!mPaused) mEndS = std::max(nowS, mModel.latestEnd());
    update();
}

void StepStrip::clear() {
    mModel.clear();
    mEndS = 0;
    update();
}

void StepStrip::setPaused(bool paused) {
    mPaused = paused;
    update();
}

void StepStrip::setSpanSeconds(double s) {
    mSpanS = std::clamp(s, 0.05, StepStripModel::kKeepS);
    update();
}

QRect StepStrip::barArea() const { return rect().adjusted(2, kHeaderH, -2, -2); }

double StepStrip::timeAt(int x) const {
    const QRect a = barArea();
    return mEndS - mSpanS + (x - a.left()) * mSpanS / std::max(1, a.width());
}

QString StepStrip::describeAt(int x) const {
    const QRect a = barArea();
    if (x < a.left() || x > a.right()) return {};
    const double perPx = mSpanS / std::max(1, a.width());
    const rl::step_record* r = mModel.stepAt(timeAt(x), 2 * perPx);
    if (!r) return {};
    static const char* const kinds[] = {"prefill", "decode", "mixed"};
    QString s = tr("Step %1 · %2 · %3\n%4 prefill + %5 decode tokens · batch %6 · %7 waiting after")
                    .arg(r->index)
                    .arg(QLatin1String(kinds[StepStripModel::kindOf(*r)]))
                    .arg(durationText(r->duration_s))
                    .arg(r->prefill_tokens)
                    .arg(r->decode_tokens)
                    .arg(r->num_running)
                    .arg(r->num_waiting);
    if (r->preemptions) s += tr(" · %1 preempted").arg(r->preemptions);
    if (perPx > r->duration_s) s += tr("\n(steps shorter than a pixel share a column: zoom in with the wheel)");
    return s;
}

void StepStrip::paintEvent(QPaintEvent*) {
    QPainter p(this);
    const QPalette& pal = palette();
    p.fillRect(rect(), pal.color(QPalette::Base));
    const QRect a = barArea();
    QFont f = font();
    f.setPointSizeF(f.pointSizeF() * 0.85);
    p.setFont(f);

    const auto bars = mModel.layout(mEndS, mSpanS, a.width());
    double busyS = 0;
    int maxBatch = 1;
    const double sPerPx = mSpanS / std::max(1, a.width());
    for (const auto& b : bars) {   // a bar cut by an edge counts only its part in view
        busyS += b.column ? b.durationS : (b.x1 - b.x0) * sPerPx;
        maxBatch = std::max(maxBatch, b.batch);
    }
    // Header: what this is, the span, and how busy the engine was in it.
    p.setPen(pal.color(QPalette::Text));
    const QString head = tr("Engine steps · last %1 · busy %2% · height = batch (max %3)%4")
                             .arg(durationText(mSpanS))
                             .arg(std::min(100.0, 100 * busyS / mSpanS), 0, 'f', 0)
                             .arg(maxBatch)
                             .arg(mPaused ? tr(" · paused: drag pans") : QString());
    p.drawText(QRect(4, 0, width() - 8, kHeaderH), Qt::AlignLeft | Qt::AlignVCenter, head);
    int lx = width() - 4;
    for (auto [k, name] : {std::pair{StepStripModel::Mixed, tr("mixed")}, {StepStripModel::Decode, tr("decode")},
                           {StepStripModel::Prefill, tr("prefill")}}) {
        const int w = p.fontMetrics().horizontalAdvance(name);
        lx -= w;
        p.drawText(QRect(lx, 0, w, kHeaderH), Qt::AlignVCenter, name);
        lx -= 12;
        p.fillRect(QRect(lx, 4, 9, 8), colorOf(k));
        lx -= 8;
    }
    p.setPen(PlotStyle::neutral(pal));
    p.drawLine(a.bottomLeft(), a.bottomRight());
    if (bars.empty()) {
        p.setPen(PlotStyle::neutral(pal));
        p.drawText(a, Qt::AlignCenter, mModel.empty() ? tr("no engine steps yet") : tr("idle: no step in this span"));
        return;
    }
    const int ruleH = 3;
    const int maxH = a.height() - ruleH - 1;
    for (const auto& b : bars) {
        const int h = std::max(2, int(std::lround(maxH * (0.2 + 0.8 * double(b.batch) / maxBatch))));
        const double x0 = a.left() + b.x0, w = std::max(1.0, b.x1 - b.x0);
        QColor c = colorOf(b.kind);
        if (b.column) c.setAlphaF(0.25 + 0.75 * b.busy);
        const QRectF r(x0, a.bottom() - h, w, h);
        p.fillRect(r, c);
        if (b.waiting > 0) p.fillRect(QRectF(x0, a.top(), w, ruleH), PlotStyle::waiting());
        if (!b.column && w > 3) {   // a separator, so back-to-back steps read as steps
            p.setPen(pal.color(QPalette::Base));
            p.drawLine(QPointF(x0, r.top()), QPointF(x0, r.bottom()));
        }
        if (w >= 80) {
            const QString label = (b.prefillTokens ? QStringLiteral("P%1 ").arg(b.prefillTokens) : QString()) +
                                  QStringLiteral("B%1 · %2").arg(b.batch).arg(durationText(b.durationS));
            p.setPen(Qt::white);
            p.drawText(r.adjusted(3, 0, -2, 0), Qt::AlignLeft | Qt::AlignVCenter, label);
        }
    }
}

void StepStrip::wheelEvent(QWheelEvent* e) {
    const double steps = e->angleDelta().y() / 120.0;
    if (steps == 0) return;
    setSpanSeconds(mSpanS * std::pow(1.25, -steps));
    e->accept();
}

void StepStrip::mousePressEvent(QMouseEvent* e) {
    mDragX = int(e->position().x());
    mDragEndS = mEndS;
}

void StepStrip::mouseMoveEvent(QMouseEvent* e) {
    const int x = int(e->position().x());
    if (mPaused && (e->buttons() & Qt::LeftButton) && mDragX >= 0) {
        mEndS = mDragEndS - (x - mDragX) * mSpanS / std::max(1, barArea().width());
        update();
        return;
    }
    const QString tip = describeAt(x);
    if (tip.isEmpty()) QToolTip::hideText();
    else QToolTip::showText(e->globalPosition().toPoint(), tip, this);
}
