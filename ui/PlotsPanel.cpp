// PlotsPanel.cpp: see PlotsPanel.h. Series names follow docs/metrics.md.
#include "PlotsPanel.h"

#include "LivePlot.h"
#include "PlotStyle.h"
#include "StepStrip.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QTimer>

#include <cmath>

PlotsPanel::PlotsPanel(QWidget* parent) : QWidget(parent) {
    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Window")));
    mWindowBox = new QComboBox;
    for (auto [label, s] : {std::pair{"30 s", 30}, {"1 min", 60}, {"2 min", 120}, {"5 min", 300}, {"10 min", 600}})
        mWindowBox->addItem(tr(label), s);
    mWindowBox->setCurrentIndex(1);
    mWindowBox->setToolTip(tr("Visible time span; 10 minutes of history are kept"));
    bar->addWidget(mWindowBox);
    mPauseButton = new QPushButton(tr("Pause"));
    mPauseButton->setCheckable(true);
    mPauseButton->setToolTip(tr("Freeze the view (data keeps arriving); wheel zooms and drag pans"));
    bar->addWidget(mPauseButton);
    mKvZoom = new QCheckBox(tr("Zoom KV to used"));
    mKvZoom->setObjectName(QStringLiteral("kvZoom"));
    mKvZoom->setChecked(true);
    mKvZoom->setToolTip(tr("The KV plot's axis ends a little above the highest used + cached share in view, so a "
                           "pool of 200,000 blocks at 0.5 % still shows its fill; off: always 0-100 %"));
    bar->addWidget(mKvZoom);
    auto* csv = new QPushButton(tr("Save CSV…"));
    csv->setToolTip(tr("All 100 ms bins of the kept history"));
    bar->addWidget(csv);
    mStatus = new QLabel;
    mStatus->setObjectName(QStringLiteral("plotsStatus"));
    bar->addStretch(1);
    bar->addWidget(mStatus);

    // Remote mode's marker: its own row, in the highlight colour, so it cannot be missed.
    mRemoteLabel = new QLabel;
    mRemoteLabel->setObjectName(QStringLiteral("remoteMarker"));
    mRemoteLabel->setStyleSheet(QStringLiteral("QLabel { font-weight: bold; color: palette(highlighted-text);"
                                               " background: palette(highlight); padding: 2px 6px; }"));
    mRemoteLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    mRemoteLabel->hide();

    mGrid = new QGridLayout;
    mGrid->setSpacing(2);
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(4, 4, 4, 4);
    outer->addLayout(bar);
    outer->addWidget(mRemoteLabel);
    outer->addLayout(mGrid, 1);
    mStepStrip = new StepStrip;
    outer->addWidget(mStepStrip);
    buildPlots();
    setColumns(0);

    mReplotTimer = new QTimer(this);
    mReplotTimer->setSingleShot(true);
    mReplotTimer->setInterval(40);
    connect(mReplotTimer, &QTimer::timeout, this, &PlotsPanel::flush);
    connect(mWindowBox, &QComboBox::currentIndexChanged, this,
            [this](int i) { setWindowSeconds(mWindowBox->itemData(i).toDouble()); });
    connect(mPauseButton, &QPushButton::toggled, this, &PlotsPanel::setPaused);
    connect(mKvZoom, &QCheckBox::toggled, this, [this](bool on) {
        mPlots[KvCache]->setFitToSeries(on ? 1 : -1, 1.0);
        markDirty();
    });
    connect(csv, &QPushButton::clicked, this, &PlotsPanel::askSaveCsv);
}

void PlotsPanel::buildPlots() {
    using O = LivePlot::SeriesOptions;
    auto make = [this](const QString& title, const QString& y) {
        auto* p = new LivePlot(title, y, this);
        p->setHistory(&mHistory);
        connect(p, &LivePlot::saveRequested, this, &PlotsPanel::askSavePng);
        connect(p, &LivePlot::saveCsvRequested, this, &PlotsPanel::askSaveCsv);
        connect(p->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
                [this](const QCPRange& r) { syncRanges(r.lower, r.upper); });
        mPlots.append(p);
        return p;
    };
    const QString tokS = QStringLiteral("tok/s"), pct = QStringLiteral("%"), ms = QStringLiteral("ms");

    LivePlot* p = make(tr("Token throughput"), tr("tokens/s"));
    p->addSeries(QStringLiteral("prefill_tok_s"), PlotStyle::prefill(), [](const HistoryBin& b) { return b.prefillTokS; }, O().withUnit(tokS).shortly(tr("prefill")));
    p->addSeries(QStringLiteral("decode_tok_s"), PlotStyle::decode(), [](const HistoryBin& b) { return b.decodeTokS; }, O().withUnit(tokS).shortly(tr("decode")));

    // Each bin as a share of its own pool, so a pool restart (1,456 blocks -> 40) does not leave
    // the new pool a sliver under the old one's axis; hover gives the blocks. Evictions and
    // preemptions are rates on the right axis, one point a second: as full-height markers they
    // covered the whole plot whenever the pool was under pressure, which is when they matter.
    p = make(tr("KV cache (% of pool by state)"), tr("% of pool"));
    auto freeColor = [](const QPalette& pal) { return PlotStyle::blend(PlotStyle::neutral(pal), pal.color(QPalette::Base), 0.8); };
    auto share = [](double v, const HistoryBin& b) {
        const double total = b.kvUsed + b.kvCached + b.kvFree;
        return total > 0 ? 100 * v / total : 0.0;
    };
    const QString blocks = tr("blocks"), perBin = tr("in this 0.1 s");
    p->addSeries(tr("used (running)"), PlotStyle::kvUsed(), [share](const HistoryBin& b) { return share(b.kvUsed, b); },
                 O().withTip([](const HistoryBin& b) { return b.kvUsed; }).withUnit(blocks).fillTo(-2).shortly(tr("used")));
    p->addSeries(tr("cached idle"), PlotStyle::kvCached(), [share](const HistoryBin& b) { return share(b.kvUsed + b.kvCached, b); },
                 O().withTip([](const HistoryBin& b) { return b.kvCached; }).withUnit(blocks).fillTo(-2).shortly(tr("cached")));
    p->addSeries(tr("free"), freeColor(palette()), [share](const HistoryBin& b) { return share(b.kvUsed + b.kvCached + b.kvFree, b); },
                 O().withTip([](const HistoryBin& b) { return b.kvFree; }).withUnit(blocks).fillTo(-2).colorFrom(freeColor));
    constexpr int kPerSecond = int(1 / MetricsHistory::kBinS + 0.5);
    p->addSeries(QStringLiteral("kv_evicted_blocks"), PlotStyle::eviction(),
                 [](const HistoryBin& b) { return b.evictions / MetricsHistory::kBinS; },
                 O().right().groupedBy(kPerSecond).withTip([](const HistoryBin& b) { return double(b.evictions); })
                     .withUnit(tr("blocks ") + perBin).shortly(tr("evicted")));
    p->addSeries(QStringLiteral("num_preemptions"), PlotStyle::preemption(),
                 [](const HistoryBin& b) { return b.preemptions / MetricsHistory::kBinS; },
                 O().right().dashed().groupedBy(kPerSecond).withTip([](const HistoryBin& b) { return double(b.preemptions); })
                     .withUnit(perBin).shortly(tr("preempted")));
    // Blocks a sliding window left behind go back to the pool (Mistral): zero for other models.
    p->addSeries(QStringLiteral("kv_window_freed_blocks"), PlotStyle::windowFreed(),
                 [](const HistoryBin& b) { return b.windowFreed / MetricsHistory::kBinS; },
                 O().right().dashed().groupedBy(kPerSecond).withTip([](const HistoryBin& b) { return double(b.windowFreed); })
                     .withUnit(tr("blocks ") + perBin).shortly(tr("window-freed")));
    p->setRightAxisLabel(tr("per s"));   // "per second" outgrew the axis of a 1280x720 window's plot
    for (const char* name : {"kvMarkers", "kvUsedLayer", "kvCachedLayer"})
        p->addLayer(QString::fromLatin1(name), p->layer(QStringLiteral("main")), QCustomPlot::limAbove);
    for (int g = 0; g < 3; ++g) {
        QColor c = p->graph(g)->brush().color();
        c.setAlpha(255);
        p->graph(g)->setBrush(c);
    }
    p->graph(1)->setLayer(QStringLiteral("kvCachedLayer"));
    p->graph(0)->setLayer(QStringLiteral("kvUsedLayer"));
    p->graph(3)->setLayer(QStringLiteral("kvMarkers"));
    p->graph(4)->setLayer(QStringLiteral("kvMarkers"));
    p->graph(5)->setLayer(QStringLiteral("kvMarkers"));
    p->setInLegend(5, false);  // joins the legend once a window frees a block (onFrame)
    p->setFixedLeftRange(0, 100);
    p->setFitToSeries(1, 1.0);   // the top of used + cached (see mKvZoom)
    p->setLegendColumns(3);

    p = make(tr("Batch and queue"), tr("requests"));
    p->addSeries(QStringLiteral("num_requests_running"), PlotStyle::running(), [](const HistoryBin& b) { return b.batch; }, O().shortly(tr("running")));
    p->addSeries(QStringLiteral("num_requests_waiting"), PlotStyle::waiting(), [](const HistoryBin& b) { return b.waiting; }, O().shortly(tr("waiting")));

    p = make(tr("Utilization of measured peak"), tr("% of peak"));   // short enough for a 1280-px screen's plot
    p->addSeries(QStringLiteral("flops_utilization"), PlotStyle::flops(), [](const HistoryBin& b) { return 100 * b.flopsUtil; }, O().withUnit(pct).shortly(tr("FLOP/s")));
    p->addSeries(QStringLiteral("bandwidth_utilization"), PlotStyle::bandwidth(), [](const HistoryBin& b) { return 100 * b.bwUtil; }, O().withUnit(pct).shortly(tr("bandwidth")));
    p->addSeries(tr("busy % (misleading)"), PlotStyle::neutral(palette()), [](const HistoryBin& b) { return 100 * b.busy; },
                 O().dashed().withUnit(pct).colorFrom(PlotStyle::neutral).shortly(tr("busy (misleading)")));
    p->setPreferredTop(100, 105);

    p = make(tr("Latency (60 s window)"), tr("TTFT (ms)"));
    p->addSeries(tr("TTFT p50"), PlotStyle::ttft(), [](const HistoryBin& b) { return 1000 * b.ttftP50; }, O().withUnit(ms));
    p->addSeries(tr("TTFT p99"), PlotStyle::ttft(), [](const HistoryBin& b) { return 1000 * b.ttftP99; }, O().dashed().withUnit(ms));
    p->addSeries(tr("TPOT p50"), PlotStyle::tpot(), [](const HistoryBin& b) { return 1000 * b.tpotP50; }, O().right().withUnit(ms));
    p->addSeries(tr("TPOT p99"), PlotStyle::tpot(), [](const HistoryBin& b) { return 1000 * b.tpotP99; },
                 O().dashed().right().withUnit(ms));
    p->setRightAxisLabel(tr("TPOT (ms)"));
    p->setMilliseconds(true);
    p->setEmptyText(tr("no finished\nrequests yet"));   // two lines fit a small plot

    p = make(tr("Prefix cache (5 s window)"), tr("hit rate (%)"));
    p->addSeries(QStringLiteral("prefix_hit_rate"), PlotStyle::hitRate(), [](const HistoryBin& b) { return 100 * b.rollingHitRate; }, O().withUnit(pct).shortly(tr("hit rate")));
    p->addSeries(QStringLiteral("recomputed_tok_s"), PlotStyle::recomputed(), [](const HistoryBin& b) { return b.rollingRecomputedTokS; },
                 O().right().withUnit(tokS).shortly(tr("recomputed")));
    p->setFixedLeftRange(0, 105);
    p->setRightAxisLabel(tr("recomputed tok/s"));
    for (LivePlot* lp : mPlots) lp->refresh(0, mWindowS, true);
}

void PlotsPanel::setRemoteMarker(const QString& marker) {
    mRemoteMarker = marker;
    const bool remote = !marker.isEmpty();
    mRemoteLabel->setText(marker);
    mRemoteLabel->setVisible(remote);
    mStepStrip->setVisible(!remote);   // /metrics has no per-step records
    // A remote KV gauge is a fraction of a pool whose block count we do not know: its bins hold
    // percentages, so hovering shows those.
    const bool noKv = !mPlots[KvCache]->note().isEmpty();   // this server has no KV gauge
    mPlots[KvCache]->yAxis->setLabel(remote && noKv ? QString() : tr("% of pool"));
    for (int g = 0; g < 3; ++g) mPlots[KvCache]->setSeriesUnit(g, remote ? tr("% of pool") : tr("blocks"));
    if (!remote) {
        setRemoteNotes({});   // the local engine supplies every plot
    } else if (mPlots[Utilization]->note().isEmpty()) {
        rl::remote_notes before;   // until the first scrape says which server it is
        before.utilization = rl::remote_notes_for({}).utilization;
        setRemoteNotes(before);
    }
    markDirty();
}

void PlotsPanel::setRemoteNotes(const rl::remote_notes& n) {
    const bool noKv = !n.kv_cache.empty();
    mPlots[Throughput]->setNote(QString::fromStdString(n.throughput));
    mPlots[KvCache]->setNote(QString::fromStdString(n.kv_cache), true);
    for (int g = 0; g < 3; ++g) mPlots[KvCache]->graph(g)->setVisible(!noKv);   // no gauge: no 0 % areas
    if (noKv) mPlots[KvCache]->yAxis->setLabel(QString());
    else if (isRemote()) mPlots[KvCache]->yAxis->setLabel(tr("% of pool"));
    mPlots[Batch]->setNote(QString::fromStdString(n.batch));
    // FLOP and byte utilisation need the cost model and the step timings: never in /metrics.
    mPlots[Utilization]->setNote(QString::fromStdString(n.utilization), true);
    mPlots[Latency]->setNote(QString::fromStdString(n.latency));
    mPlots[Latency]->graph(2)->setName(n.tpot_is_mean ? tr("TPOT mean") : tr("TPOT p50"));
    mPlots[PrefixCache]->setNote(QString::fromStdString(n.prefix_cache));
    markDirty();
}

void PlotsPanel::setColumns(int columns) {
    mAutoColumns = columns <= 0;
    layOut(mAutoColumns ? 2 : columns);
    if (mAutoColumns && isVisible()) resizeEvent(nullptr);
}

void PlotsPanel::layOut(int columns) {
    mColumns = std::max(1, columns);
    for (LivePlot* p : mPlots) mGrid->removeWidget(p);
    for (int i = 0; i < mPlots.size(); ++i) mGrid->addWidget(mPlots[i], i / mColumns, i % mColumns);
    // Equal shares: without stretch the grid sizes columns by their plots' size hints (legends).
    const int rows = (int(mPlots.size()) + mColumns - 1) / mColumns;
    for (int c = 0; c < 3; ++c) mGrid->setColumnStretch(c, c < mColumns ? 1 : 0);
    for (int r = 0; r < 6; ++r) mGrid->setRowStretch(r, r < rows ? 1 : 0);
}

void PlotsPanel::resizeEvent(QResizeEvent* e) {
    if (e) QWidget::resizeEvent(e);
    if (!mAutoColumns || width() <= 0 || height() <= 0) return;
    // A wide, low dock (under the chat) reads best as 3 x 2, a squarer one as 2 x 3: pick the
    // column count whose plots are nearest 3:2 (log distance, so 1:1 and 9:4 are equally off).
    // Flatter plots lose their value axis to the title and legend rows.
    const int n = int(mPlots.size());
    int best = mColumns;
    double bestOff = 1e9;
    for (int c = 1; c <= 3; ++c) {
        const int rows = (n + c - 1) / c;
        const double shape = (double(width()) / c) / (double(height()) / rows);
        const double off = std::abs(std::log(shape / 1.5));
        if (off < bestOff) bestOff = off, best = c;
    }
    if (best != mColumns) layOut(best);
}

namespace {
/// The frame with its times moved by offsetS (a later engine's clock on the history's).
MetricsFrame shifted(MetricsFrame f, double offsetS) {
    f.snap.t_s += offsetS;
    for (rl::step_record& r : f.snap.new_steps) r.t_s += offsetS;
    return f;
}
} // namespace

void PlotsPanel::onFrame(const MetricsFrame& frame) {
    if (frame.snap.t_s + mOffsetS + 1.0 < mHistory.now()) {
        // Time went backwards: a new engine (a pool restart, another model). The history goes
        // on: its clock is moved to start where the previous one stopped.
        mOffsetS = mHistory.now() - frame.snap.t_s;
    }
    int64_t from = 0;
    if (mOffsetS == 0) {
        from = mHistory.addFrame(frame);
        mStepStrip->addSteps(frame.snap.new_steps, frame.snap.t_s);
    } else {
        const MetricsFrame f = shifted(frame, mOffsetS);
        from = mHistory.addFrame(f);
        mStepStrip->addSteps(f.snap.new_steps, f.snap.t_s);
    }
    for (LivePlot* p : mPlots) p->sync(mHistory, from);
    const rl::metrics_snapshot& s = mHistory.latest();
    LivePlot* kv = mPlots[KvCache];
    if (s.kv_window_freed_blocks > 0) kv->setInLegend(5, true);
    mStatus->setText(tr("t = %1 s · %2 steps · %3 bins").arg(s.t_s, 0, 'f', 1).arg(s.steps).arg(mHistory.size()));
    markDirty();
}

void PlotsPanel::markDirty() {
    mDirty = true;
    if (mReplotTimer && !mReplotTimer->isActive()) mReplotTimer->start();
}

void PlotsPanel::flush() {
    if (!mDirty) return;
    mDirty = false;
    mSyncing = true;   // following moves every x axis: not a user drag to propagate
    for (LivePlot* p : mPlots) p->refresh(mHistory.now(), mWindowS, !mPaused);
    mSyncing = false;
    LivePlot* kv = mPlots[KvCache];
    if (!kv->yAxis->label().isEmpty()) {   // remote mode without a KV gauge has none
        const QString label = kv->isZoomed() ? tr("% of pool (zoomed)") : tr("% of pool");
        if (kv->yAxis->label() != label) {
            kv->yAxis->setLabel(label);
            kv->replot(QCustomPlot::rpQueuedReplot);
        }
    }
}

void PlotsPanel::setWindowSeconds(double seconds) {
    mWindowS = std::clamp(seconds, 30.0, mHistory.keepSeconds());
    // About 600 filled points across the window (one per 100 ms bin up to a one-minute window).
    const int group = std::max(1, int(mWindowS / MetricsHistory::kBinS / 600.0));
    for (LivePlot* p : mPlots)
        if (p->setFillGrouping(group) && mHistory.size() > 0) p->sync(mHistory, mHistory.begin());
    const int i = mWindowBox->findData(int(mWindowS));
    if (i >= 0 && i != mWindowBox->currentIndex()) mWindowBox->setCurrentIndex(i);
    if (mPaused) {   // keep the frozen view's right edge, change its span
        const double right = mPlots[0]->xAxis->range().upper;
        mPlots[0]->xAxis->setRange(right, mWindowS, Qt::AlignRight);
    }
    markDirty();
}

void PlotsPanel::setPaused(bool paused) {
    mPaused = paused;
    if (mPauseButton->isChecked() != paused) mPauseButton->setChecked(paused);
    mPauseButton->setText(paused ? tr("Resume") : tr("Pause"));
    mStepStrip->setPaused(paused);
    for (LivePlot* p : mPlots) {
        p->setInteraction(QCP::iRangeDrag, paused);
        p->setInteraction(QCP::iRangeZoom, paused);
        p->axisRect()->setRangeDrag(Qt::Horizontal);
        p->axisRect()->setRangeZoom(Qt::Horizontal);
    }
    markDirty();
}

void PlotsPanel::syncRanges(double lower, double upper) {
    const QCPRange range(lower, upper);
    if (mSyncing) return;
    mSyncing = true;
    for (LivePlot* p : mPlots) {
        if (p->xAxis->range() != range) {
            p->xAxis->setRange(range);
            p->replot(QCustomPlot::rpQueuedReplot);
        }
    }
    mSyncing = false;
    markDirty();   // the value axes (the KV zoom among them) follow what a drag brought into view
}

void PlotsPanel::addEvent(const QString& label) {
    const double t = mHistory.now();
    for (LivePlot* p : mPlots) p->addEvent(t, label);
    markDirty();
}

void PlotsPanel::clear() {
    mHistory.clear();
    mOffsetS = 0;
    mStepStrip->clear();
    for (LivePlot* p : mPlots) p->clearEvents();
    for (LivePlot* p : mPlots)
        for (int g = 0; g < p->graphCount(); ++g) p->graph(g)->data()->clear();
    markDirty();
}

bool PlotsPanel::savePng(int index, const QString& path, int width, int height) {
    LivePlot* p = plot(index);
    if (!p) return false;
    mDirty = true;
    flush();
    return p->savePng(path, width, height);
}

bool PlotsPanel::saveCsv(const QString& path, QString* error) const { return mHistory.saveCsv(path, error); }

void PlotsPanel::askSavePng(LivePlot* p) {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save plot as PNG"), QStringLiteral("plot.png"),
                                                      tr("PNG images (*.png)"));
    if (!path.isEmpty()) savePng(int(mPlots.indexOf(p)), path);
}

void PlotsPanel::askSaveCsv() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Save history as CSV"), QStringLiteral("ridgeline-metrics.csv"),
                                                      tr("CSV files (*.csv)"));
    if (!path.isEmpty()) saveCsv(path);
}
