// PlotStyle.cpp: see PlotStyle.h.
#include "PlotStyle.h"

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

namespace PlotStyle {

QColor blend(const QColor& c, const QColor& bg, double t) {
    auto mix = [t](int a, int b) { return int(a + (b - a) * t + 0.5); };
    return QColor(mix(c.red(), bg.red()), mix(c.green(), bg.green()), mix(c.blue(), bg.blue()));
}

bool isDark(const QPalette& pal) { return pal.color(QPalette::Base).lightness() < 128; }

QColor neutral(const QPalette& pal) { return isDark(pal) ? QColor(0xB0, 0xB0, 0xB0) : QColor(0x55, 0x55, 0x55); }

void applyPlotPalette(QCustomPlot* plot, const QPalette& pal) {
    const QColor bg = pal.color(QPalette::Base);
    const QColor fg = pal.color(QPalette::Text);
    const QColor grid = blend(fg, bg, 0.85);
    const QColor sub = blend(fg, bg, 0.93);
    plot->setBackground(bg);
    for (QCPAxisRect* rect : plot->axisRects()) {
        rect->setBackground(bg);
        for (QCPAxis* ax : rect->axes()) {
            ax->setBasePen(QPen(blend(fg, bg, 0.5), 1));
            ax->setTickPen(QPen(blend(fg, bg, 0.5), 1));
            ax->setSubTickPen(QPen(blend(fg, bg, 0.5), 1));
            ax->setTickLabelColor(fg);
            ax->setLabelColor(fg);
            ax->grid()->setPen(QPen(grid, 1, Qt::SolidLine));
            ax->grid()->setSubGridPen(QPen(sub, 1, Qt::DotLine));
            ax->grid()->setZeroLinePen(Qt::NoPen);
        }
    }
    if (plot->legend) {
        QColor lb = bg;
        lb.setAlpha(210);
        plot->legend->setBrush(lb);
        plot->legend->setBorderPen(Qt::NoPen);
        plot->legend->setTextColor(fg);
    }
    for (QCPLayoutElement* e : plot->plotLayout()->elements(true))
        if (auto* t = qobject_cast<QCPTextElement*>(e)) t->setTextColor(fg);
}

int fitLegend(QCPLegend* legend, int width, int maxColumns) {
    int entries = 0;
    for (int i = 0; i < legend->itemCount(); ++i)   // itemCount() counts empty cells too
        if (QCPAbstractLegendItem* item = legend->item(i)) {
            item->setMargins(QMargins(0, 0, 0, 3));
            ++entries;
        }
    auto widthAt = [legend](int columns) {
        legend->setWrap(columns);
        legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
        return legend->minimumOuterSizeHint().width();
    };
    int columns = std::max(1, std::min(maxColumns, entries));
    int w = widthAt(columns);
    while (columns > 1 && w > width) w = widthAt(--columns);
    return w;
}

void fitTicks(QCPAxis* axis, int maxTicks) {
    if (!axis || !axis->axisRect()) return;
    const QFontMetrics fm(axis->tickLabelFont());
    const bool vertical = axis->orientation() == Qt::Vertical;
    const int room = vertical ? axis->axisRect()->height() : axis->axisRect()->width();
    // The widest label a horizontal axis shows: "1E+03" on a log axis, four digits otherwise.
    const int per = vertical ? fm.height() + 6 : fm.horizontalAdvance(QStringLiteral("1E+03")) + 14;
    const int n = std::clamp(room / std::max(1, per), 2, std::max(2, maxTicks));
    QSharedPointer<QCPAxisTicker> t = axis->ticker();
    if (auto log = t.dynamicCast<QCPAxisTickerLog>()) {
        // The log ticker rounds its step to 1, 2, 2.5 or 5 decades of its base and so gave every
        // decade where the room was for every other one. Label every k-th decade instead: its
        // base becomes 10^k, and the decades between get sub-ticks.
        const QCPRange r = axis->range();
        if (r.lower <= 0 || r.upper <= r.lower) return;
        const double decades = std::log10(r.upper / r.lower);
        const int k = std::max(1, int(std::ceil(decades / double(std::max(1, n - 1)) - 1e-9)));
        const double base = std::pow(10.0, k);
        if (log->logBase() == base && log->tickCount() == 1000) return;
        log->setLogBase(base);
        log->setSubTickCount(k > 1 ? k - 1 : 8);
        log->setTickCount(1000);   // every power of the base: the step is never under one
        return;
    }
    if (t->tickCount() == n && t->tickStepStrategy() == QCPAxisTicker::tssMeetTickCount) return;
    t->setTickCount(n);
    t->setTickStepStrategy(QCPAxisTicker::tssMeetTickCount);
}

} // namespace PlotStyle
