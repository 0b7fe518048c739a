// PlotsPanel: the six live plots of the workbench on one shared, scrolling time axis: token
// throughput, KV cache fill (with eviction and preemption markers), batch and queue, device
// utilisation (with the misleading busy %), latency percentiles, prefix cache; under them the
// engine's steps on a timeline (StepStrip). Frames only update
// the history and the graphs' data and mark plots dirty; one 40 ms timer replots the dirty ones
// (rpQueuedReplot). Pause freezes the view (data keeps accumulating) and allows wheel zoom and
// drag on the time axis, shared by all six. In remote mode (RemoteMetricsSource feeds onFrame) a
// marker names the server and scrape interval, KV fill reads in % of the pool, and each plot
// carries a note saying what that server's /metrics cannot supply (rl::remote_notes_for: the
// utilisation plot always, llama-server's KV fill and TTFT, ...). Exercise:
// tests/test_workbench_plots.cpp, tests/test_remote_window.cpp.
#pragma once
#include "MetricsHistory.h"
#include "interop/remote_metrics.h"

#include <QWidget>

class LivePlot;
class StepStrip;
class QCheckBox;
class QComboBox;
class QGridLayout;
class QLabel;
class QPushButton;
class QTimer;

class PlotsPanel : public QWidget {
    Q_OBJECT
public:
    enum Plot { Throughput, KvCache, Batch, Utilization, Latency, PrefixCache, PlotCount };

    explicit PlotsPanel(QWidget* parent = nullptr);

    LivePlot* plot(int index) const { return mPlots.value(index); }
    StepStrip* stepStrip() const { return mStepStrip; }
    const MetricsHistory& history() const { return mHistory; }
    double windowSeconds() const { return mWindowS; }
    bool isPaused() const { return mPaused; }
    /// Remote mode: a non-empty `marker` ("REMOTE: <url> · scrape every 2 s") is shown over the
    /// plots; empty returns to the local engine's presentation.
    void setRemoteMarker(const QString& marker);
    bool isRemote() const { return !mRemoteMarker.isEmpty(); }
    /// Remote mode: the notes of what the watched server does not export, one per plot. A plot
    /// with no source at all (KV fill without a gauge) also hides its empty series.
    void setRemoteNotes(const rl::remote_notes& notes);
    QString remoteMarker() const { return mRemoteMarker; }
    /// Lays the plots out in `columns` columns (1: a vertical stack); 0 (the default) picks the
    /// count whose plots come closest to a 3:2 shape at the panel's size, as it is resized.
    void setColumns(int columns);
    int columns() const { return mColumns; }

    /// Renders plot `index` to a PNG (current data, even if no replot happened yet).
    bool savePng(int index, const QString& path, int width = 0, int height = 0);
    bool saveCsv(const QString& path, QString* error = nullptr) const;

public slots:
    /// Connect MetricsPump::frameReady here.
    void onFrame(const MetricsFrame& frame);
    void setWindowSeconds(double seconds);   ///< clamped to 30 s .. the history's 10 min
    void setPaused(bool paused);
    /// Forgets everything (remote mode on or off).
    void clear();
    /// A labelled marker on every plot at the latest time (TimelineEvents words them).
    void addEvent(const QString& label);
    /// Applies pending data to the axes and replots dirty plots now (the timer does this).
    void flush();

protected:
    void resizeEvent(QResizeEvent* e) override;

private:
    void buildPlots();
    void layOut(int columns);
    void markDirty();
    void askSavePng(LivePlot* p);
    void askSaveCsv();
    void syncRanges(double lower, double upper);   // a paused plot was dragged or zoomed

    MetricsHistory mHistory;
    QVector<LivePlot*> mPlots;
    QGridLayout* mGrid;
    QCheckBox* mKvZoom;
    StepStrip* mStepStrip;
    QComboBox* mWindowBox;
    QPushButton* mPauseButton;
    QLabel* mStatus;
    QLabel* mRemoteLabel;
    QString mRemoteMarker;
    QTimer* mReplotTimer = nullptr;   // made after the plots, whose range signals arrive first
    double mWindowS = 60;
    bool mPaused = false;
    bool mDirty = false;
    bool mSyncing = false;
    // A new local engine's clock starts at 0; its frames are shifted by this much so the history
    // goes on from where the previous engine's ended (a pool restart keeps the before).
    double mOffsetS = 0;
    int mColumns = 2;
    bool mAutoColumns = true;
};
