// test_peak_cache: measured peaks kept per device (issue 20, "Calibrated peaks are cached per
// device and can be re-measured from the device panel"). PeakCache's JSON (round trip, unusable
// entries skipped); the engine using a known entry for its device instead of measuring, and
// measuring again on recalibrate(); EngineBridge writing a fresh measurement to the settings,
// reading it back on the next load (the roof does not move), and Re-measure replacing it; the
// device panel's button and its "measured <when>". Needs the default model (CPU backend).
// Run: QT_QPA_PLATFORM=offscreen ./build/tests/test_peak_cache   (label gui)
#include "rl_test.h"

#include "DevicePanel.h"
#include "EngineBridge.h"
#include "PeakCache.h"
#include "SettingsStore.h"
#include "metrics/calibrate.h"
#include "runtime/engine.h"

#include <QJsonObject>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>

namespace {
rl::engine_options cpuOptions() {
    rl::engine_options o;
    o.model_path = RL_MODEL_PATH;
    o.backend = "cpu";
    o.threads = 1;
    o.serving.kv_blocks = 64;
    o.serving.max_model_len = 512;   // 32 blocks a sequence: the small pool holds two
    return o;
}

EngineSettings cpuSettings() {
    EngineSettings s;
    s.modelPath = QStringLiteral(RL_MODEL_PATH);
    s.backend = QStringLiteral("cpu");
    s.threads = 1;
    s.serving.kv_blocks = 64;
    s.serving.max_model_len = 512;
    return s;
}

bool loadWith(EngineBridge& b) {
    QSignalSpy ok(&b, &EngineBridge::loaded), failed(&b, &EngineBridge::loadFailed);
    if (!b.loadModel(cpuSettings())) return false;
    return QTest::qWaitFor([&] { return ok.size() + failed.size() > 0; }, 120000) && ok.size() == 1;
}
} // namespace

class TestPeakCache : public QObject {
    Q_OBJECT
private slots:
    void jsonRoundTripSkipsUnusable() {
        rl::device_peaks p;
        p.flops = 9.1e10;
        p.bytes_per_s = 3.04e10;
        p.measured_at = 1796600000;
        QJsonObject o = PeakCache::withEntry({}, "cpu|Some CPU|2|fp32", p);
        o.insert(QStringLiteral("cuda|zero|132|bf16"), QJsonObject{{QStringLiteral("flops"), 0.0}, {QStringLiteral("bytes_per_s"), 1.0}});
        o.insert(QStringLiteral("cuda|text|132|bf16"), QJsonObject{{QStringLiteral("flops"), QStringLiteral("fast")}});
        o.insert(QStringLiteral("cuda|negative|132|bf16"), QJsonObject{{QStringLiteral("flops"), 1e12}, {QStringLiteral("bytes_per_s"), -3.0}});
        o.insert(QStringLiteral("not an object"), 5);
        const auto m = PeakCache::fromJson(o);
        QCOMPARE(int(m.size()), 1);
        const rl::device_peaks& q = m.at("cpu|Some CPU|2|fp32");
        QCOMPARE(q.flops, p.flops);
        QCOMPARE(q.bytes_per_s, p.bytes_per_s);
        QCOMPARE(q.measured_at, p.measured_at);
        // A second entry for the same key replaces the first.
        p.flops = 1e11;
        QCOMPARE(PeakCache::fromJson(PeakCache::withEntry(o, "cpu|Some CPU|2|fp32", p)).at("cpu|Some CPU|2|fp32").flops, 1e11);
    }

    void engineUsesKnownPeaksAndRemeasures() {
        auto first = rl::engine::create(cpuOptions());
        const std::string key = first->info().peaks_key;
        QVERIFY(key.rfind("cpu|", 0) == 0 && key.size() > 8);
        QVERIFY(key.find("|1|f32") != std::string::npos);   // one thread, fp32 compute
        QVERIFY(!first->info().peaks_known);
        QVERIFY(first->peaks().flops > 0 && first->peaks().measured_at > 0);
        first.reset();

        rl::engine_options o = cpuOptions();
        rl::device_peaks known;
        known.flops = 1.25e9;        // far from anything this CPU measures, so a measurement shows
        known.bytes_per_s = 2.5e9;
        known.measured_at = 1700000000;
        o.known_peaks[key] = known;
        o.known_peaks["cpu|another CPU|64|fp32"] = rl::device_peaks{7e12, 9e11, "measured", 1};
        auto e = rl::engine::create(o);
        QVERIFY(e->info().peaks_known);
        QCOMPARE(e->peaks().flops, known.flops);
        QCOMPARE(e->peaks().bytes_per_s, known.bytes_per_s);

        const rl::device_peaks fresh = e->recalibrate().get();
        QVERIFY(fresh.flops > 0 && fresh.flops != known.flops);
        QVERIFY(fresh.measured_at >= known.measured_at);
        QCOMPARE(e->peaks().flops, fresh.flops);
        QCOMPARE(e->peaks().bytes_per_s, fresh.bytes_per_s);
    }

    void bridgeKeepsAndReusesPeaks() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        SettingsStore store(nullptr, dir.path());
        store.load();
        std::string key;
        rl::device_peaks kept;
        {
            EngineBridge b;
            b.setPeakStore(&store);
            QVERIFY(loadWith(b));
            key = b.engine()->info().peaks_key;
            const auto m = PeakCache::read(store);
            QVERIFY(m.count(key));
            kept = m.at(key);
            QCOMPARE(kept.flops, b.engine()->peaks().flops);
        }
        // The next launch: a planted value shows it is read, not measured again.
        kept.flops = 3.5e9;
        PeakCache::remember(store, key, kept);
        EngineBridge b;
        b.setPeakStore(&store);
        QVERIFY(loadWith(b));
        QVERIFY(b.engine()->info().peaks_known);
        QCOMPARE(b.engine()->peaks().flops, 3.5e9);

        QSignalSpy done(&b, &EngineBridge::peaksMeasured), failed(&b, &EngineBridge::peaksMeasureFailed);
        QVERIFY(b.remeasurePeaks());
        QVERIFY(b.isMeasuringPeaks());
        QVERIFY(!b.remeasurePeaks());   // one at a time
        QVERIFY(QTest::qWaitFor([&] { return done.size() + failed.size() > 0; }, 60000));
        QCOMPARE(failed.size(), 0);
        const double flops = done.at(0).at(0).toDouble();
        QVERIFY(flops > 0 && flops != 3.5e9);
        QCOMPARE(b.engine()->peaks().flops, flops);
        QCOMPARE(PeakCache::read(store).at(key).flops, flops);
        QVERIFY(!b.isMeasuringPeaks());
    }

    void panelButtonAndWhen() {
        DevicePanel panel;
        QSignalSpy asked(&panel, &DevicePanel::remeasureRequested);
        QVERIFY(!panel.remeasureButton()->isEnabled());   // nothing loaded yet
        MetricsFrame f;
        f.backendName = QStringLiteral("cpu (1 thread)");
        f.measured.flops = 9.16e10;
        f.measured.bytes_per_s = 3.04e10;
        f.measured.measured_at = QDateTime(QDate(2026, 12, 7), QTime(10, 15)).toSecsSinceEpoch();
        panel.onFrame(f);
        QVERIFY(panel.field(QStringLiteral("measured"))->text().contains(QStringLiteral("measured 2026-12-07 10:15")));
        QVERIFY(panel.remeasureButton()->isEnabled());
        panel.remeasureButton()->click();
        QCOMPARE(asked.size(), 1);
        QVERIFY(!panel.remeasureButton()->isEnabled());
        panel.onFrame(f);   // frames while measuring leave it disabled
        QVERIFY(!panel.remeasureButton()->isEnabled());
        panel.setMeasuring(false, QStringLiteral("done"));
        QVERIFY(panel.remeasureButton()->isEnabled());
    }
};

QTEST_MAIN(TestPeakCache)
#include "test_peak_cache.moc"
