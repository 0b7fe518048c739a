// LivePlot: one scrolling time-series plot of the workbench (a QCustomPlot). Each series reads one
// value per MetricsHistory bin through a function; sync() appends the bins that changed and drops
// the ones the history forgot, so the plot holds at most the history's bins (6,000 for 10 min).
// It never replots by itself: PlotsPanel's 40 ms timer calls refresh() on dirty plots.
// Pen width 1; the only fills are the stacked KV areas (fillBelow). Hover shows the values of the
// bin under the cursor. The legend stays whole: beside the title when both fit, else under it,
// wrapped to the plot's width, in the series' short names where the full ones would take more
// rows than a small plot can spare (fitLegend). Exercise: tests/test_workbench_plots.cpp.
#pragma once
#include "MetricsHistory.h"

#include <qcustomplot.h>

#include <deque>
#include <functional>

/// How a LivePlot series is drawn: LiveSeriesOptions().unit("tok/s").right().dashed() ...
struct LiveSeriesOptions {
    Qt::PenStyle style = Qt::SolidLine;
    bool rightAxis = false;
    std::function<double(const HistoryBin&)> tip;   ///< value shown on hover (default: the plotted one)
    QString unit;                                    ///< shown on hover after the value
    int fillBelow = -1;   ///< fill down to this series' line (-2: to zero; -1: no fill)
    bool marker = false;  ///< event marker: a full-height line at bins where value > 0
    int group = 1;        ///< drawn as the mean over fixed groups of this many bins (a rate per second: 10)
    std::function<QColor(const QPalette&)> paletteColor;   ///< colour that follows the palette
    QString shortName;    ///< the legend's name when the full ones would need more rows than fit
    LiveSeriesOptions& dashed() { style = Qt::DashLine; return *this; }
    LiveSeriesOptions& right() { rightAxis = true; return *this; }
    LiveSeriesOptions& withTip(std::function<double(const HistoryBin&)> f) { tip = std::move(f); return *this; }
    LiveSeriesOptions& withUnit(const QString& u) { unit = u; return *this; }
    LiveSeriesOptions& fillTo(int series) { fillBelow = series; return *this; }
    LiveSeriesOptions& asMarker() { marker = true; return *this; }
    LiveSeriesOptions& groupedBy(int bins) { group = bins; return *this; }
    LiveSeriesOptions& shortly(const QString& name) { shortName = name; return *this; }
    LiveSeriesOptions& colorFrom(std::function<QColor(const QPalette&)> f) { paletteColor = std::move(f); return *this; }
};

class LivePlot : public QCustomPlot {
    Q_OBJECT
public:
    using ValueFn = std::function<double(const HistoryBin&)>;
    using SeriesOptions = LiveSeriesOptions;
    LivePlot(const QString& title, const QString& yLabel, QWidget* parent = nullptr);

    /// Adds a series; returns its index (== graph index).
    int addSeries(const QString& name, const QColor& color, ValueFn value, const SeriesOptions& opt = {});
    void setRightAxisLabel(const QString& label);
    /// The unit a series' value carries on hover (it may change: blocks here, % of pool remotely).
    void setSeriesUnit(int series, const QString& unit);
    void setValueFloor(double leftTop, double rightTop = 1);   ///< autoscale never goes below this top
    void setFixedLeftRange(double lo, double hi);
    /// With a fixed left range [0, hi]: series >= 0 zooms the axis to that series' highest value
    /// in view (x 1.2, at least minTop; hi once that passes half of hi) so a sliver can be read;
    /// -1 shows [0, hi].
    void setFitToSeries(int series, double minTop = 1);
    bool isZoomed() const { return mFixedLeft && mFitSeries >= 0 && yAxis->range().upper < mFixedTop; }
    /// Left axis 0..top while the data stays at or under `cap` (percentages: 105 for 100 %).
    void setPreferredTop(double cap, double top) { mCap = cap, mCapTop = top; }
    /// At most this many legend entries per row (default 4); fewer when the plot is narrow.
    void setLegendColumns(int columns);
    /// Shows or hides a series' legend entry and fits the legend again (an entry added later
    /// must not wrap into a row the plot has no room for).
    void setInLegend(int series, bool shown);
    /// A line in the middle of the plot while no series has a value in view ("no finished
    /// requests yet"): an empty plot says why it is empty.
    void setEmptyText(const QString& text);
    /// A standing note on the plot, e.g. what a remote server does not export ("" removes it).
    /// `centered`: the whole plot has no data source, so the note takes the middle (and the
    /// empty text's place); else it sits at the top, under the legend.
    void setNote(const QString& text, bool centered = false);
    QString note() const;
    /// The values are milliseconds: an axis whose top passes 10,000 ms reads in seconds, its
    /// label's "(ms)" becoming "(s)", so "100000" never pushes the axis title out of the plot.
    void setMilliseconds(bool ms);
    /// A labelled event on the timeline at time t (a knob change, a story, a pool restart), as
    /// Grafana marks deploys: a dashed vertical line with its label at the top. The oldest go
    /// beyond kMaxEvents. Labels of close events are staggered down so they do not overlap.
    void addEvent(double t, const QString& label);
    void clearEvents();
    int eventCount() const { return int(mEvents.size()); }
    QString eventLabel(int i) const;
    bool eventLabelShown(int i) const;   ///< false once its line has scrolled out of view
    static constexpr int kMaxEvents = 40;
    /// Whether the legend sits under the title (the plot is too narrow for both on one row).
    bool legendBelowTitle() const { return mLegendBelow; }
    /// Whether the legend shows any series by its short name.
    bool legendShortNames() const;

    /// Brings the graphs in line with the history's bins from `from` (absolute index) on.
    void sync(const MetricsHistory& history, int64_t from);
    /// Filled series draw one point per `bins` bins (their mean): a filled polygon costs far more
    /// than a line, and 10 minutes at 100 ms would be 6,000 vertices for a ~700 px wide plot.
    /// Returns true when the grouping changed (the caller then re-syncs from the oldest bin).
    bool setFillGrouping(int bins);
    /// Follows `now` with a window of windowS seconds unless paused; rescales values; replots.
    void refresh(double now, double windowS, bool follow);
    void setHistory(const MetricsHistory* h) { mHistory = h; }
    int seriesCount() const { return int(mSeries.size()); }
    /// A series' full name (the legend may show its short one).
    QString seriesName(int series) const { return mSeries.at(size_t(series)).name; }

signals:
    void saveRequested(LivePlot* plot);
    void saveCsvRequested();

protected:
    void mouseMoveEvent(QMouseEvent* event) override;
    void changeEvent(QEvent* event) override;
    void contextMenuEvent(QContextMenuEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;

private:
    void fitLegend();
    struct Series {
        QCPGraph* graph;
        QString name;   ///< the full name (hover); the graph's name is what the legend shows
        ValueFn value;
        SeriesOptions opt;
    };
    void rescaleValues();
    void showSeconds(QCPAxis* axis);
    void restyle();
    void wrapNote();

    std::vector<Series> mSeries;
    QCPTextElement* mTitle;
    const MetricsHistory* mHistory = nullptr;
    double mLeftFloor = 1, mRightFloor = 1;
    bool mFixedLeft = false;
    double mFixedTop = 0;
    int mFitSeries = -1;
    double mFitMinTop = 1;
    double mCap = 0, mCapTop = 0;
    bool mHasRight = false;
    int mFillGroup = 1;
    int mLegendMaxColumns = 4;
    QCPItemText* mEmpty = nullptr;
    QCPItemText* mNote = nullptr;
    QString mNoteText;
    bool mNoteCentered = false;
    bool mMilliseconds = false;
    bool mLegendBelow = false;
    struct Event {
        double t;
        QCPItemLine* line;
        QCPItemText* text;
    };
    std::deque<Event> mEvents;
};
