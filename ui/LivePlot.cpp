// LivePlot.cpp: see LivePlot.h.
#include "LivePlot.h"

#include "PlotStyle.h"

#include <QMenu>

#include <algorithm>
#include <cmath>
#include <QToolTip>

LivePlot::LivePlot(const QString& title, const QString& yLabel, QWidget* parent) : QCustomPlot(parent) {
    setNoAntialiasingOnDrag(true);
    setNotAntialiasedElements(QCP::aeAll);           // cheap lines; text stays antialiased
    setAntialiasedElements(QCP::aeNone);
    // Set, not left to QCustomPlot's hint (title + one-row legend, ~540 px): three columns of
    // plots fit under the chat on a 1280-px screen, two rows on a 720-px one.
    setMinimumSize(220, 110);
    // Row 0: title on the left, a horizontal legend on the right.
    plotLayout()->insertRow(0);
    auto* top = new QCPLayoutGrid;
    plotLayout()->addElement(0, 0, top);
    mTitle = new QCPTextElement(this, title, QFont(font().family(), font().pointSize(), QFont::Bold));
    mTitle->setTextFlags(Qt::AlignLeft | Qt::AlignVCenter);
    top->addElement(0, 0, mTitle);
    legend->setVisible(true);
    axisRect()->insetLayout()->take(legend);
    top->addElement(0, 1, legend);
    top->setColumnStretchFactor(0, 1);
    top->setColumnStretchFactor(1, 0.01);
    top->setMargins(QMargins(0, 0, 0, 0));
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    legend->setWrap(4);
    legend->setIconSize(14, 8);
    legend->setRowSpacing(0);
    legend->setColumnSpacing(6);
    legend->setMargins(QMargins(4, 1, 4, 1));
    QFont small = font();
    small.setPointSizeF(font().pointSizeF() * 0.85);
    legend->setFont(small);
    plotLayout()->setRowStretchFactor(0, 0.001);
    plotLayout()->setRowSpacing(0);

    // Left and right margins fixed so stacked plots share one time axis alignment.
    axisRect()->setAutoMargins(QCP::msTop | QCP::msBottom);
    axisRect()->setMargins(QMargins(64, 0, 64, 0));
    xAxis->setLabel(QStringLiteral("time (s)"));
    xAxis->setLabelPadding(1);
    xAxis->setTickLabelFont(small);
    xAxis->setLabelFont(small);
    yAxis->setLabel(yLabel);
    yAxis->setTickLabelFont(small);
    yAxis->setLabelFont(small);
    yAxis2->setTickLabelFont(small);
    yAxis2->setLabelFont(small);
    yAxis->setRange(0, 1);
    // Value axes: as many ticks (up to 4) as the plot's height has room for.
    connect(this, &QCustomPlot::beforeReplot, this, [this] {
        PlotStyle::fitTicks(yAxis, 4);
        PlotStyle::fitTicks(yAxis2, 4);
    });
    xAxis->setRange(-60, 0);
    restyle();
}

int LivePlot::addSeries(const QString& name, const QColor& color, ValueFn value, const SeriesOptions& opt) {
    QCPAxis* valueAxis = opt.rightAxis ? yAxis2 : yAxis;
    if (opt.rightAxis && !mHasRight) {
        mHasRight = true;
        yAxis2->setVisible(true);
        yAxis2->setTickLabels(true);
        yAxis2->setRange(0, 1);
    }
    QCPGraph* g = addGraph(xAxis, opt.marker ? yAxis2 : valueAxis);
    g->setName(name);
    g->setPen(QPen(color, 1, opt.style));
    g->setAdaptiveSampling(true);
    if (opt.marker) {
        g->setLineStyle(QCPGraph::lsImpulse);   // a vertical line from 0 to 1 on a hidden 0..1 axis
        if (!mHasRight) {
            yAxis2->setVisible(false);
            yAxis2->setRange(0, 1);
        }
    }
    if (opt.fillBelow != -1) {
        QColor fill = color;
        fill.setAlpha(150);
        g->setBrush(fill);
        if (opt.fillBelow >= 0) g->setChannelFillGraph(mSeries[size_t(opt.fillBelow)].graph);
    }
    mSeries.push_back({g, name, std::move(value), opt});
    if (opt.paletteColor) restyle();
    return int(mSeries.size()) - 1;
}

namespace {
/// Tick labels of a millisecond axis, in seconds when `seconds` is set (the ticks stay in ms).
class SecondsTicker : public QCPAxisTicker {
public:
    bool seconds = false;

protected:
    QString getTickLabel(double tick, const QLocale& locale, QChar formatChar, int precision) override {
        return QCPAxisTicker::getTickLabel(seconds ? tick / 1000.0 : tick, locale, formatChar, precision);
    }
};
} // namespace

void LivePlot::setEmptyText(const QString& text) {
    if (!mEmpty) {
        mEmpty = new QCPItemText(this);
        mEmpty->setClipToAxisRect(true);
        mEmpty->position->setType(QCPItemPosition::ptAxisRectRatio);
        mEmpty->position->setCoords(0.5, 0.5);
        mEmpty->setPositionAlignment(Qt::AlignCenter);
        mEmpty->setColor(palette().color(QPalette::PlaceholderText));
    }
    mEmpty->setText(text);
}

void LivePlot::setNote(const QString& text, bool centered) {
    if (!mNote) {
        mNote = new QCPItemText(this);
        mNote->setClipToAxisRect(true);
        mNote->position->setType(QCPItemPosition::ptAxisRectRatio);
        mNote->setColor(palette().color(QPalette::PlaceholderText));
        mNote->setPadding(QMargins(4, 2, 4, 2));
    }
    mNoteText = text;
    mNote->setVisible(!text.isEmpty());
    mNoteCentered = centered;
    mNote->position->setCoords(0.5, centered ? 0.5 : 0.0);
    mNote->setPositionAlignment(centered ? Qt::AlignCenter : (Qt::AlignTop | Qt::AlignHCenter));
    wrapNote();
}

void LivePlot::wrapNote() {
    if (!mNote || mNoteText.isEmpty()) return;
    // Word-wrapped to the axis rect's width (QCPItemText does not wrap), so a narrow plot in a
    // 3 x 2 grid shows the whole note rather than its middle.
    const QFontMetrics fm(mNote->font());
    const int width = std::max(80, axisRect()->width() - 12);
    QString wrapped, line;
    for (const QString& word : mNoteText.split(QLatin1Char(' '), Qt::SkipEmptyParts)) {
        const QString longer = line.isEmpty() ? word : line + QLatin1Char(' ') + word;
        if (!line.isEmpty() && fm.horizontalAdvance(longer) > width) {
            wrapped += line + QLatin1Char('\n');
            line = word;
        } else {
            line = longer;
        }
    }
    mNote->setText(wrapped + line);
}

QString LivePlot::note() const { return mNote && mNote->visible() ? mNoteText : QString(); }

void LivePlot::setMilliseconds(bool ms) {
    mMilliseconds = ms;
    for (QCPAxis* axis : {yAxis, yAxis2}) {
        auto ticker = QSharedPointer<SecondsTicker>::create();
        ticker->setTickCount(4);
        axis->setTicker(ticker);
    }
}

void LivePlot::showSeconds(QCPAxis* axis) {
    auto* ticker = dynamic_cast<SecondsTicker*>(axis->ticker().data());
    if (!ticker) return;
    ticker->seconds = axis->range().upper > 10000;
    QString label = axis->label();
    if (ticker->seconds) label.replace(QLatin1String("(ms)"), QLatin1String("(s)"));
    else label.replace(QLatin1String("(s)"), QLatin1String("(ms)"));
    axis->setLabel(label);
}

void LivePlot::setLegendColumns(int columns) {
    mLegendMaxColumns = std::max(1, columns);
    fitLegend();
}

void LivePlot::setInLegend(int series, bool shown) {
    if (series < 0 || series >= graphCount() || legend->hasItemWithPlottable(graph(series)) == shown) return;
    if (shown) graph(series)->addToLegend();
    else graph(series)->removeFromLegend();
    fitLegend();
}

bool LivePlot::legendShortNames() const {
    return std::any_of(mSeries.begin(), mSeries.end(), [](const Series& s) { return s.graph->name() != s.name; });
}

void LivePlot::resizeEvent(QResizeEvent* event) {
    fitLegend();
    QCustomPlot::resizeEvent(event);
}

void LivePlot::fitLegend() {
    // QCustomPlot squeezes a legend wider than its cell and clips the names; a small plot (three
    // columns on a 1366-px screen) would read "num_requ". Instead: the widest arrangement that
    // fits, beside the title first, then on a row of its own under it. Where that takes more
    // rows than a third of the plot's height (six KV series at 1280x720 took six rows and left
    // the plot 15 px), the series' short names instead.
    auto* top = qobject_cast<QCPLayoutGrid*>(plotLayout()->element(0, 0));
    if (!top || width() <= 0) return;
    const int avail = width() - 8;
    const int title = QFontMetrics(mTitle->font()).horizontalAdvance(mTitle->text()) + 16;
    const int rowH = QFontMetrics(legend->font()).height() + 3;
    const int maxRows = std::max(1, height() / 3 / std::max(1, rowH));
    bool below = false;
    for (const bool shortNames : {false, true}) {
        for (const Series& s : mSeries)
            s.graph->setName(shortNames && !s.opt.shortName.isEmpty() ? s.opt.shortName : s.name);
        // Beside the title only as one row: a short plot squeezed a taller legend into the title's row.
        below = title + PlotStyle::fitLegend(legend, avail - title, mLegendMaxColumns) > avail ||
                legend->rowCount() > 1;
        if (below) PlotStyle::fitLegend(legend, avail, mLegendMaxColumns);
        if (!below || legend->rowCount() <= maxRows) break;
    }
    if (below == mLegendBelow && top->hasElement(below ? 1 : 0, below ? 0 : 1)) return;
    mLegendBelow = below;
    top->take(legend);
    top->simplify();
    top->addElement(below ? 1 : 0, below ? 0 : 1, legend);
    top->setColumnStretchFactor(0, 1);
    if (!below) top->setColumnStretchFactor(1, 0.01);
}

void LivePlot::setRightAxisLabel(const QString& label) { yAxis2->setLabel(label); }

void LivePlot::setSeriesUnit(int series, const QString& unit) {
    if (series >= 0 && series < int(mSeries.size())) mSeries[size_t(series)].opt.unit = unit;
}

void LivePlot::setValueFloor(double leftTop, double rightTop) {
    mLeftFloor = leftTop;
    mRightFloor = rightTop;
}

void LivePlot::setFixedLeftRange(double lo, double hi) {
    mFixedLeft = true;
    mFixedTop = hi;
    yAxis->setRange(lo, hi);
}

void LivePlot::setFitToSeries(int series, double minTop) {
    mFitSeries = series >= 0 && series < int(mSeries.size()) ? series : -1;
    mFitMinTop = minTop;
    if (mFixedLeft && mFitSeries < 0) yAxis->setRange(0, mFixedTop);
}

void LivePlot::sync(const MetricsHistory& h, int64_t from) {
    mHistory = &h;
    const double firstKey = MetricsHistory::binCenter(h.begin()) - MetricsHistory::kBinS / 2;
    const double fromKey = MetricsHistory::binCenter(from) - MetricsHistory::kBinS / 2;
    const int n = int(std::max<int64_t>(0, h.end() - from));
    QVector<double> keys, values;
    for (Series& s : mSeries) {
        auto data = s.graph->data();
        data->removeBefore(firstKey);
        data->removeAfter(fromKey);
        keys.clear();
        values.clear();
        keys.reserve(n);
        values.reserve(n);
        const int64_t g = std::max<int64_t>(s.opt.group, s.opt.fillBelow != -1 ? mFillGroup : 1);
        if (g > 1) {
            // Whole groups from the one holding `from`; the last group may be partial.
            const int64_t start = std::max<int64_t>(h.begin(), (from / g) * g);
            data->removeAfter(MetricsHistory::binCenter(start) - MetricsHistory::kBinS / 2);
            for (int64_t i = start; i < h.end(); i += g) {
                const int64_t last = std::min<int64_t>(h.end(), i + g);
                double sum = 0;
                for (int64_t j = i; j < last; ++j) sum += s.value(h.bin(j));
                keys.append((MetricsHistory::binCenter(i) + MetricsHistory::binCenter(last - 1)) / 2);
                values.append(sum / double(last - i));
            }
        } else {
            for (int64_t i = from; i < h.end(); ++i) {
                const HistoryBin& b = h.bin(i);
                const double v = s.value(b);
                if (s.opt.marker && !(v > 0)) continue;
                keys.append(MetricsHistory::binCenter(i));
                values.append(s.opt.marker ? 1.0 : v);
            }
        }
        if (!keys.isEmpty()) s.graph->addData(keys, values, true);
    }
}

bool LivePlot::setFillGrouping(int bins) {
    bins = std::max(1, bins);
    if (bins == mFillGroup) return false;
    mFillGroup = bins;
    for (Series& s : mSeries)
        if (s.opt.fillBelow != -1 || s.opt.group > 1) s.graph->data()->clear();
    return true;
}

void LivePlot::addEvent(double t, const QString& label) {
    if (int(mEvents.size()) >= kMaxEvents) {
        removeItem(mEvents.front().line);
        removeItem(mEvents.front().text);
        mEvents.pop_front();
    }
    const QColor c = palette().color(QPalette::WindowText);
    auto* line = new QCPItemLine(this);
    for (QCPItemPosition* p : {line->start, line->end}) {
        p->setTypeX(QCPItemPosition::ptPlotCoords);
        p->setTypeY(QCPItemPosition::ptAxisRectRatio);
    }
    line->start->setCoords(t, 0);
    line->end->setCoords(t, 1);
    line->setPen(QPen(c, 1, Qt::DashLine));
    line->setSelectable(false);
    line->setLayer(QStringLiteral("axes"));   // above opaque areas (the KV plot's stack)
    // Events a few seconds apart would print over each other: each steps one row down from the
    // one before while they are close, back to the top after a quiet spell.
    int row = 0;
    if (!mEvents.empty() && t - mEvents.back().t < 8) {
        const double y = mEvents.back().text->position->coords().y();
        row = int(std::lround(y / 0.12)) + 1;
        if (row > 3) row = 0;
    }
    auto* text = new QCPItemText(this);
    text->position->setTypeX(QCPItemPosition::ptPlotCoords);
    text->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
    text->position->setCoords(t, 0.12 * row);
    text->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
    text->setText(label);
    text->setColor(c);
    text->setLayer(QStringLiteral("axes"));
    QFont f = font();
    f.setPointSizeF(std::max(6.0, f.pointSizeF() * 0.8));
    text->setFont(f);
    QColor base = palette().color(QPalette::Base);
    base.setAlpha(200);   // the data under a label stays faintly visible
    text->setBrush(QBrush(base));
    text->setPadding(QMargins(2, 0, 2, 0));
    text->setSelectable(false);
    mEvents.push_back({t, line, text});
}

void LivePlot::clearEvents() {
    for (const Event& e : mEvents) {
        removeItem(e.line);
        removeItem(e.text);
    }
    mEvents.clear();
}

QString LivePlot::eventLabel(int i) const {
    return i >= 0 && i < int(mEvents.size()) ? mEvents[size_t(i)].text->text() : QString();
}

bool LivePlot::eventLabelShown(int i) const {
    return i >= 0 && i < int(mEvents.size()) && mEvents[size_t(i)].text->visible();
}

void LivePlot::refresh(double now, double windowS, bool follow) {
    // Until a window's worth has passed the view is [0, window] and fills from the left.
    if (follow) xAxis->setRange(std::max(now, windowS), windowS, Qt::AlignRight);
    // A label whose line has scrolled out on the left would show its last letters at the edge.
    for (const Event& e : mEvents) e.text->setVisible(e.t >= xAxis->range().lower);
    rescaleValues();
    wrapNote();
    replot(QCustomPlot::rpQueuedReplot);
}

void LivePlot::rescaleValues() {
    double top[2] = {0, 0};
    const QCPRange keys = xAxis->range();
    bool any = false;
    for (const Series& s : mSeries) {
        if (s.opt.marker || !s.graph->visible()) continue;
        bool found = false;
        const QCPRange r = s.graph->getValueRange(found, QCP::sdBoth, keys);
        if (found) top[s.opt.rightAxis] = std::max(top[s.opt.rightAxis], r.upper);
        any = any || found;
    }
    // A centred note says why the plot is empty; the generic empty text would contradict it.
    if (mEmpty) mEmpty->setVisible(!any && !(mNote && mNote->visible() && mNoteCentered));
    auto nice = [](double v) {   // 1, 2, 5 x 10^k above v, so the axis does not jitter every frame
        const double p = std::pow(10.0, std::floor(std::log10(v)));
        for (double m : {1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0})
            if (m * p >= v) return m * p;
        return 10 * p;
    };
    if (mFixedLeft) {
        if (mFitSeries >= 0) {
            bool found = false;
            const QCPRange r = mSeries[size_t(mFitSeries)].graph->getValueRange(found, QCP::sdBoth, keys);
            const double want = found ? std::max(mFitMinTop, r.upper * 1.2) : mFixedTop;
            yAxis->setRange(0, want >= mFixedTop * 0.5 ? mFixedTop : std::min(mFixedTop, nice(want)));
        }
    } else if (mCap > 0 && top[0] <= mCap) {
        yAxis->setRange(0, mCapTop);
    } else {
        yAxis->setRange(0, nice(std::max(mLeftFloor, top[0] * 1.08)));
    }
    if (mHasRight) yAxis2->setRange(0, nice(std::max(mRightFloor, top[1] * 1.08)));
    if (mMilliseconds) {
        showSeconds(yAxis);
        if (mHasRight) showSeconds(yAxis2);
    }
}

void LivePlot::restyle() {
    PlotStyle::applyPlotPalette(this, palette());
    if (mEmpty) mEmpty->setColor(palette().color(QPalette::PlaceholderText));
    if (mNote) mNote->setColor(palette().color(QPalette::PlaceholderText));
    for (const Series& s : mSeries) {
        if (!s.opt.paletteColor) continue;
        const QColor c = s.opt.paletteColor(palette());
        QPen pen = s.graph->pen();
        pen.setColor(c);
        s.graph->setPen(pen);
        if (s.graph->brush().style() != Qt::NoBrush) {
            QColor fill = c;
            fill.setAlpha(150);
            s.graph->setBrush(fill);
        }
    }
    if (mHasRight) {   // dual-axis plots: each axis label in its series' colour
        for (const Series& s : mSeries) {
            if (s.opt.marker) continue;
            (s.opt.rightAxis ? yAxis2 : yAxis)->setLabelColor(s.graph->pen().color());
        }
    }
}

void LivePlot::changeEvent(QEvent* event) {
    QCustomPlot::changeEvent(event);
    if (event->type() == QEvent::PaletteChange) {
        restyle();
        replot(QCustomPlot::rpQueuedReplot);
    }
}

void LivePlot::mouseMoveEvent(QMouseEvent* event) {
    QCustomPlot::mouseMoveEvent(event);
    if (!mHistory || mHistory->size() == 0 || !axisRect()->rect().contains(event->pos())) {
        QToolTip::hideText();
        return;
    }
    const double key = xAxis->pixelToCoord(event->pos().x());
    const int64_t i = int64_t(std::floor(key / MetricsHistory::kBinS));
    if (i < mHistory->begin() || i >= mHistory->end()) {
        QToolTip::hideText();
        return;
    }
    const HistoryBin& b = mHistory->bin(i);
    QString text = QStringLiteral("<b>t = %1 s</b>").arg(MetricsHistory::binCenter(i), 0, 'f', 1);
    for (const Series& s : mSeries) {
        const double v = s.opt.tip ? s.opt.tip(b) : s.value(b);
        const QString shown = std::isnan(v) ? QStringLiteral("–") : QString::number(v, 'g', 4);
        if (s.opt.marker && !(v > 0)) continue;
        text += QStringLiteral("<br><span style='color:%1'>■</span> %2: %3 %4")
                    .arg(s.graph->pen().color().name(), s.name, shown, s.opt.unit);
    }
    QToolTip::showText(event->globalPosition().toPoint(), text, this);
}

void LivePlot::contextMenuEvent(QContextMenuEvent* event) {
    QMenu menu(this);
    menu.addAction(tr("Save as PNG…"), this, [this] { emit saveRequested(this); });
    menu.addAction(tr("Save history as CSV…"), this, [this] { emit saveCsvRequested(); });
    menu.exec(event->globalPos());
}
