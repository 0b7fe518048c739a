// test_workbench_plots: the live instruments (ui/). MetricsHistory binning against hand-computed
// answers, every widget fed synthetic frames (plots gain data, the window scrolls, pause freezes),
// the KV map's pixels for a known map and at 100,000 blocks, PNG and CSV export, a QBENCHMARK of one
// full replot at 10 minutes of history, and MetricsPump on a real CPU engine with virtual users.
// Run: QT_QPA_PLATFORM=offscreen ./build/tests/test_workbench_plots   (label gui)
// Screenshots: RL_SCREENSHOT_DIR=/tmp/wb QT_QPA_PLATFORM=offscreen ./... screenshots liveEngine
#include "rl_test.h"

#include "backend/host_info.h"

#include "DevicePanel.h"
#include "KvBlockMapWidget.h"
#include "LivePlot.h"
#include "MetricsHistory.h"
#include "MetricsPump.h"
#include "PlotStyle.h"
#include "PlotsPanel.h"
#include "RooflineWidget.h"

#include "runtime/load_generator.h"
#include "workbench_synth.h"

#include <QApplication>
#include <QCheckBox>
#include <QElapsedTimer>
#include <QLabel>
#include <QSet>
#include <QTemporaryDir>

#include <cmath>
#include <random>

namespace {

bool near(double a, double b) { return std::abs(a - b) < 1e-9 * std::max(1.0, std::abs(b)); }

int distinctColours(const QImage& img) {
    QSet<QRgb> seen;
    for (int y = 0; y < img.height(); y += 3)
        for (int x = 0; x < img.width(); x += 3) seen.insert(img.pixel(x, y));
    return int(seen.size());
}

QString screenshotDir() { return qEnvironmentVariable("RL_SCREENSHOT_DIR"); }

} // namespace

class TestWorkbenchPlots : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup();
    void widgetsBuild();
    void historyBinning();
    void historyLateStepAndBound();
    void historyCsv();
    void plotsGainData();
    void kvPlotSharesAcrossPoolRestart();
    void kvPlotZoomsToUsed();
    void windowFreedBlocksJoinTheLegend();
    void tickLabelsFitSmallPlots();
    void eventLabelsLeaveWithTheirLines();
    void pauseFreezesView();
    void kvMapColours();
    void kvMapLarge();
    void rooflinePoints();
    void savePngWritesImage();
    void screenshots();
    void benchmarkReplot();
    void liveEngine();

private:
    QTemporaryDir* mDir = nullptr;
};

void TestWorkbenchPlots::init() { mDir = new QTemporaryDir; }

void TestWorkbenchPlots::cleanup() {
    delete mDir;
    mDir = nullptr;
}

void TestWorkbenchPlots::widgetsBuild() {
    PlotsPanel plots;
    RooflineWidget roof;
    KvBlockMapWidget kv;
    DevicePanel dev;
    for (QWidget* w : std::initializer_list<QWidget*>{&plots, &roof, &kv, &dev}) {
        w->show();
        QVERIFY(QTest::qWaitForWindowExposed(w));
    }
    QCOMPARE(plots.plot(PlotsPanel::PlotCount - 1) != nullptr, true);
    QCOMPARE(plots.plot(PlotsPanel::Utilization)->seriesName(2), QStringLiteral("busy % (misleading)"));
    QCOMPARE(plots.plot(PlotsPanel::Utilization)->graph(2)->pen().style(), Qt::DashLine);
    Synth s;
    const MetricsFrame f = s.frame(1.0, {});
    dev.onFrame(f);
    QCOMPARE(dev.field("device")->text(), QStringLiteral("NVIDIA H100 80GB HBM3"));
    QVERIFY(dev.field("ridge")->text().contains("295 FLOP/B (bf16 spec)"));
    QVERIFY(dev.field("ridge")->text().contains("25 FLOP/B (measured)"));
    QVERIFY(dev.field("memory")->text().contains("free 61.0 GiB of 80.0 GiB"));
    MetricsFrame cpu;
    cpu.device = rl::host_cpu_info(4);
    cpu.backendName = QStringLiteral("cpu");
    dev.onFrame(cpu);
    QCOMPARE(dev.field("units")->text(), QStringLiteral("4 threads"));
    QCOMPARE(dev.field("measured")->text(), QStringLiteral("not calibrated"));
}

void TestWorkbenchPlots::historyBinning() {
    // A: [1.01, 1.06) in bin 10. B: [1.06, 1.16) spreads 0.04 s over bin 10 and 0.06 s over bin 11.
    rl::step_record a = step(1.01, 0.05, 10, 0, 2, 3);
    a.flops_util = 0.5, a.bw_util = 0.2, a.kv_used = 5, a.kv_cached = 1, a.kv_free = 10;
    rl::step_record b = step(1.06, 0.10, 0, 4, 4, 1);
    b.flops_util = 0.1, b.bw_util = 0.8, b.kv_used = 6, b.kv_cached = 0, b.kv_free = 10;
    b.preemptions = 1, b.evicted_blocks = 2, b.prefix_hits = 3, b.prefix_queries = 4, b.recomputed_tokens = 5;
    MetricsFrame f;
    f.snap.t_s = 3.0;   // idle since 1.16: bins are exposed up to 3.0 - 0.5 s
    f.snap.kv_total = 16;
    f.snap.ttft_s = {0.2, 0.3, 0.4, 5};
    a.index = 5, b.index = 6;   // the engine's older steps were cut off: the history starts at A
    f.snap.new_steps = {a, b};
    MetricsHistory h;
    QCOMPARE(h.addFrame(f), int64_t(10));
    QCOMPARE(h.begin(), int64_t(10));
    QCOMPARE(h.end(), int64_t(25));
    const HistoryBin& b10 = h.bin(10);
    QVERIFY(near(b10.prefillTokS, 100));          // 10 tokens / 0.1 s
    QVERIFY(near(b10.decodeTokS, 16));            // 4 tokens · 0.4 / 0.1 s
    QVERIFY(near(b10.busy, 0.9));
    QVERIFY(near(b10.flopsUtil, 0.29));           // (0.5·0.05 + 0.1·0.04) / 0.1
    QVERIFY(near(b10.bwUtil, 0.42));              // (0.2·0.05 + 0.8·0.04) / 0.1
    QVERIFY(near(b10.batch, 0.26 / 0.09));        // (2·0.05 + 4·0.04) / 0.09 busy
    QVERIFY(near(b10.waiting, 0.19 / 0.09));
    QCOMPARE(b10.kvUsed, 5.0);
    QCOMPARE(b10.kvCached, 1.0);
    QCOMPARE(b10.steps, 1);
    QVERIFY(std::isnan(b10.hitRate()));
    const HistoryBin& b11 = h.bin(11);
    QVERIFY(near(b11.decodeTokS, 24));
    QVERIFY(near(b11.prefillTokS, 0));
    QVERIFY(near(b11.busy, 0.6));
    QVERIFY(near(b11.flopsUtil, 0.06));
    QVERIFY(near(b11.bwUtil, 0.48));
    QVERIFY(near(b11.batch, 4));
    QVERIFY(near(b11.recomputedTokS, 5 * 0.6 / 0.1));
    QCOMPARE(b11.kvUsed, 6.0);
    QCOMPARE(b11.preemptions, 1);
    QCOMPARE(b11.evictions, 2);
    QVERIFY(near(b11.hitRate(), 0.75));
    const HistoryBin& b12 = h.bin(12);   // idle: no rate, no batch, the pool as the last step left it
    QCOMPARE(b12.decodeTokS, 0.0);
    QCOMPARE(b12.busy, 0.0);
    QCOMPARE(b12.batch, 0.0);
    QCOMPARE(b12.kvUsed, 6.0);
    QCOMPARE(b12.kvFree, 10.0);
    QVERIFY(std::isnan(b12.ttftP50));         // long before the first frame: unknown
    QVERIFY(near(h.bin(24).ttftP50, 0.2));    // the snapshot's latency on the bins at its time
    QVERIFY(near(h.bin(24).ttftP99, 0.4));
    QVERIFY(std::isnan(h.bin(24).tpotP50));   // no TPOT samples (n = 0)
    // Busy never exceeds 1 and utilisation never exceeds busy (both wall-clock based).
    for (int64_t i = h.begin(); i < h.end(); ++i) {
        QVERIFY(h.bin(i).busy <= 1 + 1e-12);
        QVERIFY(h.bin(i).flopsUtil <= h.bin(i).busy + 1e-12);
    }
}

void TestWorkbenchPlots::historyLateStepAndBound() {
    MetricsHistory h(600);
    MetricsFrame f;
    f.snap.kv_total = 8;
    f.snap.t_s = 2.0;   // idle: exposed up to 1.5 s
    h.addFrame(f);
    QCOMPARE(h.end(), int64_t(15));
    QCOMPARE(h.bin(13).busy, 0.0);
    // A long step [1.3, 2.1) is recorded after those bins were shown: they change, from bin 13.
    f.snap.t_s = 2.2;
    f.snap.new_steps = {step(1.3, 0.8, 100, 0, 1, 0)};
    QCOMPARE(h.addFrame(f), int64_t(13));
    QVERIFY(near(h.bin(13).busy, 1.0));
    QVERIFY(near(h.bin(13).prefillTokS, 100 * 0.125 / 0.1));
    // 1000 steps/s for 11 minutes stays within 10 minutes of 100 ms bins.
    MetricsHistory big(600);
    double t = 0;
    for (int frame = 0; frame < 6600; ++frame) {
        MetricsFrame g;
        g.snap.kv_total = 8;
        for (int i = 0; i < 100; ++i, t += 0.001) g.snap.new_steps.push_back(step(t, 0.00099, 0, 8, 8, 0));
        g.snap.t_s = t;
        big.addFrame(g);
    }
    QVERIFY2(big.size() <= 6001, qPrintable(QString::number(big.size())));
    QVERIFY(big.size() >= 5990);
    QVERIFY(near(big.bin(big.end() - 2).decodeTokS, 8000));   // 8 tokens · 1000 steps/s
    QVERIFY(big.bin(big.begin()).decodeTokS > 7900);
}

void TestWorkbenchPlots::historyCsv() {
    Synth s;
    PlotsPanel panel;
    s.feed(5.0, 0.01, &panel);
    const QString csv = panel.history().toCsv();
    const QStringList lines = csv.split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), int(panel.history().size()) + 1);
    QVERIFY(lines[0].startsWith("t_s,prefill_tok_s,decode_tok_s,num_requests_running,num_requests_waiting,kv_used_blocks"));
    QVERIFY(lines[0].contains("flops_utilization,bandwidth_utilization,device_busy_perc"));
    const int columns = int(lines[0].split(',').size());
    for (const QString& l : lines) QCOMPARE(int(l.split(',').size()), columns);
    const QString path = mDir->filePath("h.csv");
    QVERIFY(panel.saveCsv(path));
    QFile f(path);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(QString::fromUtf8(f.readAll()), csv);
}

void TestWorkbenchPlots::plotsGainData() {
    PlotsPanel panel;
    panel.resize(1000, 700);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    Synth s;
    s.feed(90.0, 0.01, &panel);
    panel.flush();
    for (int p = 0; p < PlotsPanel::PlotCount; ++p) QVERIFY2(panel.plot(p)->graph(0)->dataCount() > 0, qPrintable(QString::number(p)));
    const int bins = int(panel.history().size());
    QCOMPARE(panel.plot(PlotsPanel::Throughput)->graph(0)->dataCount(), bins);
    QCOMPARE(panel.plot(PlotsPanel::Batch)->graph(0)->dataCount(), bins);
    const QCPRange r = panel.plot(PlotsPanel::Throughput)->xAxis->range();
    QVERIFY(near(r.upper, panel.history().now()));
    QVERIFY(near(r.size(), 60));
    panel.setWindowSeconds(30);
    panel.flush();
    for (int p = 0; p < PlotsPanel::PlotCount; ++p) QVERIFY(near(panel.plot(p)->xAxis->range().size(), 30));
    QVERIFY(panel.plot(PlotsPanel::Throughput)->yAxis->range().upper > 100);   // autoscaled to the data
}

// The KV plot draws each bin as a share of its own pool, so a restart from 1,456 blocks to 40
// reads the same on both sides; evictions and preemptions are per-second rates on the right axis.
void TestWorkbenchPlots::kvPlotSharesAcrossPoolRestart() {
    PlotsPanel panel;
    panel.resize(1000, 700);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    int64_t index = 0;
    auto feed = [&](double from, double to, int used, int cached, int free, int evicted, int preempted) {
        for (double t = from; t < to - 1e-9; t += 0.1) {
            rl::step_record s = step(t, 0.1, 0, 4, 4, 0);
            s.index = ++index;
            s.kv_used = used, s.kv_cached = cached, s.kv_free = free;
            s.evicted_blocks = evicted, s.preemptions = preempted;
            MetricsFrame f;
            f.snap.t_s = t + 0.1;
            f.snap.kv_total = used + cached + free;
            f.snap.new_steps = {s};
            panel.onFrame(f);
        }
    };
    feed(0, 5, 728, 364, 364, 0, 0);   // the big pool: half used, a quarter cached, a quarter free
    feed(5, 10, 30, 6, 4, 3, 1);       // after the restart: 40 blocks, 3 evicted and 1 preempted a step
    panel.flush();
    LivePlot* kv = panel.plot(PlotsPanel::KvCache);
    QCOMPARE(kv->yAxis->label(), QStringLiteral("% of pool"));
    QCOMPARE(kv->yAxis->range().upper, 100.0);
    auto at = [&](int g, double t) {
        const auto d = kv->graph(g)->data();
        auto it = d->findBegin(t, false);
        return it == d->constEnd() ? std::nan("") : it->value;
    };
    QVERIFY(near(at(0, 2.05), 50));     // used
    QVERIFY(near(at(1, 2.05), 75));     // used + cached
    QVERIFY(near(at(2, 2.05), 100));    // the whole pool
    QVERIFY(near(at(0, 7.05), 75));
    QVERIFY(near(at(1, 7.05), 90));
    QVERIFY(near(at(2, 7.05), 100));
    // Rates: one point a second, 30 evicted blocks/s and 10 preemptions/s after the restart.
    QCOMPARE(kv->graph(3)->valueAxis(), kv->yAxis2);
    QVERIFY2(near(at(3, 7.5), 30), qPrintable(QString::number(at(3, 7.5))));
    QVERIFY(near(at(4, 7.5), 10));
    QVERIFY(near(at(3, 2.5), 0));
    QVERIFY(kv->graph(3)->dataCount() <= 11);
    QVERIFY(kv->yAxis2->range().upper >= 30);
}

// A GPU's pool of 205,096 blocks at 0.5 % used: the axis ends just above used + cached, says it is
// zoomed, follows the fill, and shows the whole pool once the used part passes half of it or
// the box is unticked.
// Blocks freed behind a sliding window: a rate on the KV plot's right axis and a CSV column, in the
// legend only once a window has freed one (other models keep the legend as it was).
void TestWorkbenchPlots::windowFreedBlocksJoinTheLegend() {
    PlotsPanel panel;
    panel.resize(1000, 700);
    LivePlot* kv = panel.plot(PlotsPanel::KvCache);
    QCPGraph* freed = nullptr;
    for (int g = 0; g < kv->graphCount(); ++g)
        if (kv->seriesName(g) == QStringLiteral("kv_window_freed_blocks")) freed = kv->graph(g);
    QVERIFY(freed);
    int64_t index = 0;
    uint64_t total = 0;
    double t = 0;
    auto feed = [&](double seconds, uint32_t perStep) {
        for (const double end = t + seconds; t < end - 1e-9; t += 0.1) {
            rl::step_record s = step(t, 0.1, 0, 4, 4, 0);
            s.index = ++index;
            s.kv_used = 100, s.kv_cached = 0, s.kv_free = 156;
            s.window_freed_blocks = perStep;
            total += perStep;
            MetricsFrame f;
            f.snap.t_s = t + 0.1;
            f.snap.kv_total = 256;
            f.snap.kv_window_freed_blocks = total;
            f.snap.new_steps = {s};
            panel.onFrame(f);
        }
        panel.flush();
    };
    feed(5, 0);
    QVERIFY(!kv->legend->hasItemWithPlottable(freed));
    feed(5, 3);   // 3 blocks a 0.1 s step: 30 a second
    QVERIFY(kv->legend->hasItemWithPlottable(freed));
    QVERIFY(!freed->data()->isEmpty());
    const double last = (freed->data()->constEnd() - 2)->value;   // a whole second, not the one filling
    QVERIFY2(std::fabs(last - 30.0) < 1e-6, qPrintable(QString::number(last)));
    QTemporaryDir dir;
    QString error;
    QVERIFY2(panel.saveCsv(dir.filePath(QStringLiteral("plots.csv")), &error), qPrintable(error));
    QFile f(dir.filePath(QStringLiteral("plots.csv")));
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QVERIFY(lines.size() > 10 && lines.front().endsWith(QStringLiteral(",kv_window_freed_blocks")));
    QCOMPARE(lines.back().section(QLatin1Char(','), -1), QStringLiteral("3"));   // the last bin's step
}

void TestWorkbenchPlots::kvPlotZoomsToUsed() {
    PlotsPanel panel;
    panel.resize(1000, 700);
    int64_t index = 0;
    double t = 0;
    auto feed = [&](double seconds, int used, int cached) {
        const int total = 205096;
        for (const double end = t + seconds; t < end - 1e-9; t += 0.1) {
            rl::step_record s = step(t, 0.1, 0, 4, 4, 0);
            s.index = ++index;
            s.kv_used = used, s.kv_cached = cached, s.kv_free = total - used - cached;
            MetricsFrame f;
            f.snap.t_s = t + 0.1;
            f.snap.kv_total = total;
            f.snap.new_steps = {s};
            panel.onFrame(f);
        }
        panel.flush();
    };
    LivePlot* kv = panel.plot(PlotsPanel::KvCache);
    auto* box = panel.findChild<QCheckBox*>(QStringLiteral("kvZoom"));
    QVERIFY(box && box->isChecked());
    feed(5, 600, 400);   // 0.49 % used + cached: the 1 % floor
    QCOMPARE(kv->yAxis->range().upper, 1.0);
    QVERIFY(kv->isZoomed());
    QCOMPARE(kv->yAxis->label(), QStringLiteral("% of pool (zoomed)"));
    feed(5, 4000, 2000);   // 2.93 %: x 1.2 = 3.5, the next round step is 4
    QCOMPARE(kv->yAxis->range().upper, 4.0);
    feed(5, 110000, 0);    // 53.6 %: the whole pool
    QCOMPARE(kv->yAxis->range().upper, 100.0);
    QVERIFY(!kv->isZoomed());
    QCOMPARE(kv->yAxis->label(), QStringLiteral("% of pool"));
    // Unticked: 0-100 % even for a sliver (the earlier sliver is still in view).
    box->setChecked(false);
    feed(1, 600, 400);
    QCOMPARE(kv->yAxis->range().upper, 100.0);
    box->setChecked(true);
    panel.setWindowSeconds(30);   // the 53.6 % stretch is still in view at 30 s
    panel.flush();
    QCOMPARE(kv->yAxis->range().upper, 100.0);
}

// At a 1280x720 window's plot size (about 230 x 150 px each) a fixed tick count drew seven
// labels on a 60-px axis, one over another; the roofline's decades ran together. Every value
// axis now asks for as many ticks as its labels have room for.
void TestWorkbenchPlots::tickLabelsFitSmallPlots() {
    PlotsPanel panel;
    panel.resize(690, 400);
    panel.show();
    int64_t index = 0;
    uint64_t freed = 0;
    double t = 0;
    for (; t < 20; t += 0.1) {
        rl::step_record s = step(t, 0.1, 16, 4, 4, 0);
        s.index = ++index;
        s.kv_used = 40 + int(t) % 7, s.kv_cached = 10, s.kv_free = 206 - s.kv_used;
        s.evicted_blocks = uint32_t(index % 50), s.preemptions = uint32_t(index % 3);
        s.window_freed_blocks = uint32_t(index % 2);   // a sliding-window model: six KV series
        freed += s.window_freed_blocks;
        MetricsFrame f;
        f.snap.t_s = t + 0.1;
        f.snap.kv_total = 256;
        f.snap.kv_window_freed_blocks = freed;
        f.snap.new_steps = {s};
        panel.onFrame(f);
    }
    panel.flush();
    auto fits = [](QCustomPlot* plot, QCPAxis* axis, const char* what) {
        plot->replot();   // twice: the tick count follows the layout of the replot before
        plot->replot();
        const QFontMetrics fm(axis->tickLabelFont());
        const bool vertical = axis->orientation() == Qt::Vertical;
        const int room = vertical ? axis->axisRect()->height() : axis->axisRect()->width();
        int labels = 0, widest = 0;
        for (const QString& l : axis->tickVectorLabels())
            if (!l.isEmpty()) ++labels, widest = std::max(widest, fm.horizontalAdvance(l));
        // Horizontal labels are centred on their ticks, so the first and last may reach half a
        // label past the rect; between them each needs its width and a gap.
        const int need = labels * (vertical ? fm.height() : widest + 6);
        QVERIFY2(labels >= 2 && need <= room + (vertical ? fm.height() : widest / 2),
                 qPrintable(QStringLiteral("%1: %2 labels need %3 px, the axis has %4")
                                .arg(QLatin1String(what)).arg(labels).arg(need).arg(room)));
    };
    LivePlot* kv = panel.plot(PlotsPanel::KvCache);
    QVERIFY(kv->axisRect()->height() < 120);   // small, as at 1280x720
    // Six legend entries in full names took one column of six rows there and left the plot
    // 15 px: the short names keep the legend within a third of the plot's height.
    kv->replot();
    int entries = 0;
    for (int i = 0; i < kv->legend->itemCount(); ++i) entries += kv->legend->item(i) ? 1 : 0;
    QCOMPARE(entries, 6);
    QVERIFY(kv->legendShortNames());
    QVERIFY2(kv->legend->outerRect().height() <= kv->height() / 3 + 2,
             qPrintable(QStringLiteral("legend %1 px of %2").arg(kv->legend->outerRect().height()).arg(kv->height())));
    QVERIFY2(kv->axisRect()->height() >= kv->height() / 5, qPrintable(QStringLiteral("axis rect %1 px of %2").arg(kv->axisRect()->height()).arg(kv->height())));
    QCOMPARE(kv->graph(3)->name(), QStringLiteral("evicted"));
    panel.resize(1800, 900);   // room again: the full names (the metrics' own) come back
    QCoreApplication::processEvents();
    QVERIFY(!kv->legendShortNames());
    QCOMPARE(kv->graph(3)->name(), QStringLiteral("kv_evicted_blocks"));
    panel.resize(690, 400);
    QCoreApplication::processEvents();
    fits(kv, kv->yAxis, "KV left");
    if (QTest::currentTestFailed()) return;
    fits(kv, kv->yAxis2, "KV right");
    if (QTest::currentTestFailed()) return;
    RooflineWidget roof;
    roof.resize(300, 220);
    roof.show();
    fits(&roof, roof.xAxis, "roofline x");
    if (QTest::currentTestFailed()) return;
    fits(&roof, roof.yAxis, "roofline y");
    if (QTest::currentTestFailed()) return;
    // The range the H100 window at 1280x720 showed (seven decades on a 260-pixel axis) piled
    // every decade's label together.
    roof.xAxis->setRange(0.005, 50000);
    roof.resize(330, 260);
    fits(&roof, roof.xAxis, "roofline x, seven decades");
    if (QTest::currentTestFailed()) return;
    // The H100 window at 1280x720 with its legend (three roofs, three kinds of step) leaves the
    // y axis about 60 px for six decades.
    Synth synth;
    MetricsFrame f = synth.frame(1.0, {});
    rl::step_record r = step(0.1, 0.01, 0, 8, 8, 0);
    r.flops = 2e12, r.bytes = 1e11;
    f.snap.new_steps.push_back(r);
    roof.onFrame(f);
    roof.flush();
    roof.yAxis->setRange(1e10, 1e16);
    roof.resize(330, 290);
    fits(&roof, roof.yAxis, "roofline y, six decades, with its legend");
}

void TestWorkbenchPlots::eventLabelsLeaveWithTheirLines() {
    PlotsPanel panel;
    panel.resize(1000, 700);
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    LivePlot* p = panel.plot(PlotsPanel::Throughput);
    p->addEvent(1.0, QStringLiteral("story: early"));
    Synth s;
    s.feed(20.0, 0.01, &panel);
    panel.flush();
    QVERIFY(p->eventLabelShown(0));   // 20 s in, a 60 s window still starts at 0
    p->addEvent(80.0, QStringLiteral("knob: late"));
    s.feed(70.0, 0.01, &panel);
    panel.flush();
    QVERIFY(p->xAxis->range().lower > 1.0);
    QVERIFY(!p->eventLabelShown(0));   // its line is out of view: no letters left at the edge
    QVERIFY(p->eventLabelShown(1));
}

void TestWorkbenchPlots::pauseFreezesView() {
    PlotsPanel panel;
    Synth s;
    s.feed(10.0, 0.01, &panel);
    panel.flush();
    panel.setPaused(true);
    const QCPRange frozen = panel.plot(0)->xAxis->range();
    const int before = panel.plot(0)->graph(0)->dataCount();
    s.feed(5.0, 0.01, &panel);
    panel.flush();
    QCOMPARE(panel.plot(0)->xAxis->range(), frozen);                // the view stays
    QVERIFY(panel.plot(0)->graph(0)->dataCount() > before + 40);    // the data does not
    panel.plot(2)->xAxis->setRange(frozen.lower - 5, frozen.upper - 5);   // a drag on one plot...
    QCOMPARE(panel.plot(4)->xAxis->range().lower, frozen.lower - 5);     // ...moves them all
    panel.setPaused(false);
    panel.flush();   // 15 s in: the 60 s view is [0, 60] until a window's worth has passed
    QVERIFY(near(panel.plot(0)->xAxis->range().upper, 60));
    panel.setWindowSeconds(30);
    panel.flush();
    QVERIFY(near(panel.plot(0)->xAxis->range().upper, 30));
    s.feed(20.0, 0.01, &panel);
    panel.flush();
    QVERIFY(near(panel.plot(0)->xAxis->range().upper, panel.history().now()));
}

void TestWorkbenchPlots::kvMapColours() {
    auto m = std::make_shared<rl::engine::kv_map_view>();
    m->t_s = 50;
    m->block_size = 16;
    m->blocks = {{State::used, 3, 1, 49.5},
                 {State::cached, 3, 1, 40},
                 {State::used, rl::kOwnerVirtualBit | 17, 1, 48},
                 {State::cached, rl::kOwnerVirtualBit | 17, 1, 30},
                 {State::used, rl::kOwnerApiBit | 5, 1, 49},
                 {State::free, 0, 0, 0}};
    KvBlockMapWidget w;
    w.resize(320, 200);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.setMap(m);
    QVERIFY(w.cellSize() >= 10);
    const QImage shot = w.grab().toImage().convertToFormat(QImage::Format_RGB32);
    const qreal dpr = shot.devicePixelRatio();
    for (int i = 0; i < 6; ++i) {
        const QPoint c = w.cellRect(i).center();
        QCOMPARE(QColor(shot.pixel(int(c.x() * dpr), int(c.y() * dpr))), QColor(w.cellColor(m->blocks[size_t(i)])));
        QCOMPARE(w.blockAt(c), i);
    }
    // Owner kinds and states are told apart.
    QSet<QRgb> colours;
    for (const auto& b : m->blocks) colours.insert(w.cellColor(b));
    QCOMPARE(int(colours.size()), 6);
    QCOMPARE(QColor(w.cellColor(m->blocks[0])), PlotStyle::person());
    QCOMPARE(QColor(w.cellColor(m->blocks[2])), PlotStyle::virtualUser());
    QCOMPARE(QColor(w.cellColor(m->blocks[4])), PlotStyle::api());
    QCOMPARE(w.describe(0), QStringLiteral("block 0 · running · person · conversation 3 · age 0.5 s"));
    QCOMPARE(w.describe(3), QStringLiteral("block 3 · cached idle · virtual user 17 · age 20.0 s"));
    QCOMPARE(w.describe(4), QStringLiteral("block 4 · running · API · age 1.0 s"));
    QCOMPARE(w.describe(5), QStringLiteral("block 5 · free"));
    QCOMPARE(w.blockAt(QPoint(1, 1)), -1);   // the legend row
}

void TestWorkbenchPlots::kvMapLarge() {
    KvBlockMapWidget w;
    w.resize(480, 320);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    auto m = makeMap(100000, 3);
    QElapsedTimer t;
    t.start();
    w.setMap(m);
    w.repaint();
    qInfo("KV map, 100,000 blocks: %.2f ms to render and paint, cell %d px", t.nsecsElapsed() / 1e6, w.cellSize());
    QCOMPARE(w.cellSize(), 1);
    QVERIFY(w.image().width() * w.image().height() >= 100000);
    const int i = w.blockAt(w.cellRect(99999).center());
    QVERIFY2(i >= 99000 && i <= 99999, qPrintable(QString::number(i)));
    w.resize(200, 120);   // smaller than one pixel per block: drawn scaled, still addressable
    w.repaint();
    QVERIFY(w.blockAt(QPoint(100, 80)) >= 0);
    QVERIFY(!w.describe(w.blockAt(QPoint(100, 80))).isEmpty());
}

void TestWorkbenchPlots::rooflinePoints() {
    RooflineWidget roof;
    Synth s;
    MetricsFrame f = s.frame(1.0, {});
    // Decode steps of growing batch: same weights read, more FLOPs -> higher intensity and FLOP/s.
    for (int batch : {1, 4, 16, 64}) {
        rl::step_record r = step(0.1 * batch, 0.01, 0, batch, batch, 0);
        r.flops = 2 * 8e9 * batch;
        r.bytes = 16e9 + 1e6 * batch;
        f.snap.new_steps.push_back(r);
    }
    rl::step_record pre = step(9, 0.05, 512, 0, 1, 0);
    pre.flops = 2 * 8e9 * 512, pre.bytes = 16.1e9;
    f.snap.new_steps.push_back(pre);
    roof.onFrame(f);
    roof.flush();
    QCOMPARE(roof.pointCount(), 5);
    const QStringList ridges = roof.ridgeLabels();
    QVERIFY2(ridges.contains("ridge 295 FLOP/B (bf16 spec)"), qPrintable(ridges.join(" | ")));
    QVERIFY(ridges.contains("ridge 591 FLOP/B (fp8 spec)"));
    QVERIFY(ridges.contains("ridge 25 FLOP/B (measured)"));
    // Newest decode point is the batch-64 one, in the decode colour's newest bucket.
    QCPGraph* decodeNewest = roof.graph(3 * 2 + RooflineWidget::kAgeBuckets);   // a roof and a ridge per roof first
    QCOMPARE(decodeNewest->name(), QStringLiteral("decode-only steps"));
    QCOMPARE(decodeNewest->dataCount(), 4);
    double lastX = 0, lastY = 0;
    for (auto it = decodeNewest->data()->constBegin(); it != decodeNewest->data()->constEnd(); ++it) {
        QVERIFY(it->key > lastX);   // sorted by intensity = walking up the slope with batch
        QVERIFY(it->value > lastY);
        lastX = it->key, lastY = it->value;
    }
    QVERIFY(near(lastY, 2 * 8e9 * 64 / 0.01));
    for (int i = 0; i < 400; ++i) roof.onFrame(s.frame(2.0 + i, s.run(2.0 + i * 0.01, 0.01)));
    roof.flush();
    QCOMPARE(roof.pointCount(), RooflineWidget::kTrail);
}

void TestWorkbenchPlots::savePngWritesImage() {
    PlotsPanel panel;
    panel.resize(900, 600);
    Synth s;
    s.feed(20.0, 0.01, &panel);
    const QString path = mDir->filePath("throughput.png");
    QVERIFY(panel.savePng(PlotsPanel::Throughput, path, 640, 240));
    QImage img(path);
    QVERIFY(!img.isNull());
    QCOMPARE(img.size(), QSize(640, 240));
    QVERIFY2(distinctColours(img) > 6, qPrintable(QString::number(distinctColours(img))));
    RooflineWidget roof;
    roof.onFrame(s.frame(21, s.run(21, 0.01)));
    roof.flush();
    QVERIFY(roof.savePng(mDir->filePath("roof.png"), 500, 400));
    QVERIFY(distinctColours(QImage(mDir->filePath("roof.png"))) > 6);
}

void TestWorkbenchPlots::screenshots() {
    const QString dir = screenshotDir();
    if (dir.isEmpty()) QSKIP("set RL_SCREENSHOT_DIR to write screenshots");
    for (bool dark : {false, true}) {
        QPalette pal = QApplication::palette();
        if (dark) {
            pal.setColor(QPalette::Window, QColor(0x2b, 0x2b, 0x2b));
            pal.setColor(QPalette::Base, QColor(0x1e, 0x1e, 0x1e));
            pal.setColor(QPalette::Text, QColor(0xe0, 0xe0, 0xe0));
            pal.setColor(QPalette::WindowText, QColor(0xe0, 0xe0, 0xe0));
            pal.setColor(QPalette::Button, QColor(0x3a, 0x3a, 0x3a));
            pal.setColor(QPalette::ButtonText, QColor(0xe0, 0xe0, 0xe0));
            pal.setColor(QPalette::PlaceholderText, QColor(0x90, 0x90, 0x90));
        }
        const QString sfx = dark ? QStringLiteral("-dark") : QString();
        PlotsPanel panel;
        RooflineWidget roof;
        KvBlockMapWidget kv;
        DevicePanel dev;
        for (QWidget* w : std::initializer_list<QWidget*>{&panel, &roof, &kv, &dev}) w->setPalette(pal);
        panel.resize(1400, 900);
        roof.resize(640, 480);
        kv.resize(640, 360);
        dev.resize(560, 260);
        Synth s;
        s.feed(180.0, 0.012, &panel, &roof, &dev);
        kv.setMap(makeMap(4096, 5));
        panel.flush();
        roof.flush();
        for (QWidget* w : std::initializer_list<QWidget*>{&panel, &roof, &kv, &dev}) {
            w->show();
            QVERIFY(QTest::qWaitForWindowExposed(w));
        }
        QTest::qWait(100);
        QVERIFY(panel.grab().save(dir + "/plots" + sfx + ".png"));
        QVERIFY(roof.grab().save(dir + "/roofline" + sfx + ".png"));
        QVERIFY(kv.grab().save(dir + "/kvmap" + sfx + ".png"));
        QVERIFY(dev.grab().save(dir + "/device" + sfx + ".png"));
        kv.setMap(makeMap(100000, 9));
        QVERIFY(kv.grab().save(dir + "/kvmap-100k" + sfx + ".png"));
    }
}

void TestWorkbenchPlots::benchmarkReplot() {
    PlotsPanel panel;
    RooflineWidget roof;
    KvBlockMapWidget kv;
    panel.resize(1400, 900);
    roof.resize(640, 480);
    kv.resize(640, 400);
    Synth s;
    s.feed(600.0, 0.004, &panel, &roof);   // 10 minutes at ~250 steps/s
    panel.setWindowSeconds(600);
    panel.flush();
    roof.flush();
    auto map = makeMap(100000, 1);
    kv.setMap(map);
    for (QWidget* w : std::initializer_list<QWidget*>{&panel, &roof, &kv}) {
        w->show();
        QVERIFY(QTest::qWaitForWindowExposed(w));
    }
    QCOMPARE(panel.plot(PlotsPanel::Throughput)->graph(0)->dataCount(), 6000);
    qInfo("history: %lld bins, %d roofline points, %zu KV blocks", qlonglong(panel.history().size()),
          roof.pointCount(), map->blocks.size());
    QBENCHMARK {
        for (int p = 0; p < PlotsPanel::PlotCount; ++p) panel.plot(p)->replot(QCustomPlot::rpImmediateRefresh);
        roof.replot(QCustomPlot::rpImmediateRefresh);
        kv.setMap(map);   // re-renders the image
        kv.repaint();
    }
}

void TestWorkbenchPlots::liveEngine() {
    rl::engine_options o;
    o.model_path = RL_MODEL_PATH;
    o.serving.max_model_len = 512;
    o.calibrate = false;
    o.threads = 2;
    std::unique_ptr<rl::engine> eng = rl::engine::create(o);
    rl::scenario sc = rl::scenario_preset("chat");
    sc.users = 2;
    sc.output_tokens = 6;
    sc.prompt_tokens = 16;
    sc.think_mean_s = 0.1;
    auto gen = std::make_unique<rl::load_generator>(*eng, sc);
    PlotsPanel panel;
    RooflineWidget roof;
    KvBlockMapWidget kv;
    DevicePanel dev;
    MetricsPump pump;
    int frames = 0;
    connect(&pump, &MetricsPump::frameReady, &panel, &PlotsPanel::onFrame);
    connect(&pump, &MetricsPump::frameReady, &roof, &RooflineWidget::onFrame);
    connect(&pump, &MetricsPump::frameReady, &kv, &KvBlockMapWidget::onFrame);
    connect(&pump, &MetricsPump::frameReady, &dev, &DevicePanel::onFrame);
    connect(&pump, &MetricsPump::frameReady, this, [&frames] { ++frames; });
    pump.start(eng.get());
    gen->start();
    const auto* tp = panel.plot(PlotsPanel::Throughput);
    const auto* batch = panel.plot(PlotsPanel::Batch);
    double maxTok = 0, maxBatch = 0;
    auto scan = [&] {
        maxTok = maxBatch = 0;
        for (auto it = tp->graph(1)->data()->constBegin(); it != tp->graph(1)->data()->constEnd(); ++it) maxTok = std::max(maxTok, it->value);
        for (auto it = batch->graph(0)->data()->constBegin(); it != batch->graph(0)->data()->constEnd(); ++it) maxBatch = std::max(maxBatch, it->value);
        return maxTok > 0 && maxBatch >= 1 && roof.pointCount() > 0;
    };
    // At least 3 s of frames; longer when a busy machine is slow to produce the first decode steps.
    QTest::qWait(3000);
    QTRY_VERIFY_WITH_TIMEOUT(scan(), 60000);
    qInfo("live: %d frames, %d throughput points (max decode %.0f tok/s), %d batch points (max %.2f), %d roofline points",
          frames, tp->graph(0)->dataCount(), maxTok, batch->graph(0)->dataCount(), maxBatch, roof.pointCount());
    QVERIFY2(frames >= 15, qPrintable(QString::number(frames)));   // >= 10 Hz less start-up
    QVERIFY(tp->graph(0)->dataCount() > 0);
    QVERIFY(batch->graph(0)->dataCount() > 0);
    QVERIFY(maxTok > 0);
    QVERIFY(maxBatch >= 1);
    QVERIFY(roof.pointCount() > 0);
    QVERIFY(kv.image().width() > 1);
    QVERIFY(dev.field("device")->text() != QStringLiteral("–"));
    if (const QString dir = screenshotDir(); !dir.isEmpty()) {
        panel.resize(1400, 900);
        roof.resize(640, 480);
        kv.resize(640, 300);
        dev.resize(560, 260);
        panel.flush();
        roof.flush();
        panel.grab().save(dir + "/live-plots.png");
        roof.grab().save(dir + "/live-roofline.png");
        kv.grab().save(dir + "/live-kvmap.png");
        dev.grab().save(dir + "/live-device.png");
    }
    pump.stop();
    gen->stop();
    gen.reset();
    eng.reset();
}

QTEST_MAIN(TestWorkbenchPlots)
#include "test_workbench_plots.moc"
