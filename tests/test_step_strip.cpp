// test_step_strip: the engine-step timeline under the plots. StepStripModel's layout against
// hand-computed pixels (wide steps, sub-pixel steps gathered into columns with their busy share
// and majority kind, clipping at the left edge), its bounds and its hover lookup; the widget's
// pixels for a known set of steps (a prefill bar with the waiting rule over it, decode bars, an
// idle gap), zoom and pause; PlotsPanel feeding it, across a new engine's clock and in remote mode.
// Run: QT_QPA_PLATFORM=offscreen ./build/tests/test_step_strip   (label gui)
#include "rl_test.h"

#include "PlotStyle.h"
#include "PlotsPanel.h"
#include "StepStrip.h"
#include "StepStripModel.h"
#include "workbench_synth.h"

#include <QApplication>
#include <QImage>
#include <QWheelEvent>

#include <cmath>

namespace {

// workbench_synth's step(), numbered (hover names the step by its index).
rl::step_record numbered(double t, double dur, int prefill, int decode, int batch, int waiting = 0) {
    static uint64_t index = 0;
    rl::step_record r = step(t, dur, prefill, decode, batch, waiting);
    r.index = ++index;
    return r;
}

bool near(double a, double b, double tol = 1e-9) { return std::abs(a - b) <= tol; }

bool sameColour(QRgb px, const QColor& c) {
    return std::abs(qRed(px) - c.red()) <= 2 && std::abs(qGreen(px) - c.green()) <= 2 && std::abs(qBlue(px) - c.blue()) <= 2;
}

} // namespace

class TestStepStrip : public QObject {
    Q_OBJECT
private slots:
    void kinds() {
        QCOMPARE(StepStripModel::kindOf(numbered(0, 1, 10, 0, 1)), StepStripModel::Prefill);
        QCOMPARE(StepStripModel::kindOf(numbered(0, 1, 0, 4, 4)), StepStripModel::Decode);
        QCOMPARE(StepStripModel::kindOf(numbered(0, 1, 10, 4, 5)), StepStripModel::Mixed);
    }

    void wideStepsAreTheirOwnBars() {
        StepStripModel m;
        m.add({numbered(0, 1, 512, 0, 1, 3), numbered(1, 0.5, 0, 4, 4), numbered(2, 1, 100, 3, 4)});
        const auto bars = m.layout(4, 4, 400);   // 100 px a second
        QCOMPARE(int(bars.size()), 3);
        QVERIFY(near(bars[0].x0, 0) && near(bars[0].x1, 100));
        QCOMPARE(bars[0].kind, StepStripModel::Prefill);
        QCOMPARE(bars[0].waiting, 3);
        QCOMPARE(bars[0].prefillTokens, 512);
        QVERIFY(near(bars[1].x0, 100) && near(bars[1].x1, 150));
        QCOMPARE(bars[1].kind, StepStripModel::Decode);
        QCOMPARE(bars[1].batch, 4);
        QVERIFY(near(bars[2].x0, 200) && near(bars[2].x1, 300));
        QCOMPARE(bars[2].kind, StepStripModel::Mixed);
        for (const auto& b : bars) QCOMPARE(b.steps, 1);
        QVERIFY(near(m.latestEnd(), 3));

        // The view starts inside the first step: it is clipped at the left edge; a view that
        // ends before the last step starts leaves it out.
        const auto clipped = m.layout(2.5, 2, 200);   // [0.5, 2.5], 100 px a second
        QCOMPARE(int(clipped.size()), 3);
        QVERIFY(near(clipped[0].x0, 0) && near(clipped[0].x1, 50));
        QVERIFY(near(clipped[2].x0, 150) && near(clipped[2].x1, 200));
        QCOMPARE(int(m.layout(1.9, 1.5, 150).size()), 2);
    }

    void subPixelStepsGatherIntoColumns() {
        StepStripModel m;
        std::vector<rl::step_record> s;
        // 100 decode steps of 1 ms back to back from t = 0: a full first 100 ms column.
        for (int i = 0; i < 100; ++i) s.push_back(numbered(i * 0.001, 0.001, 0, 8, 8));
        // In the column [0.5, 0.6): 10 decode steps of 1 ms (busy 10 %) ...
        for (int i = 0; i < 10; ++i) s.push_back(numbered(0.5 + i * 0.01, 0.001, 0, 2, 2));
        // ... in [0.7, 0.8): 3 prefill steps of 2 ms and 10 decode steps of 1 ms: decode's time wins.
        for (int i = 0; i < 3; ++i) s.push_back(numbered(0.7 + i * 0.002, 0.002, 16, 0, 1, 5));
        for (int i = 0; i < 10; ++i) s.push_back(numbered(0.71 + i * 0.005, 0.001, 0, 3, 3));
        m.add(s);
        const auto bars = m.layout(1, 1, 10);   // 100 ms a pixel
        QCOMPARE(int(bars.size()), 3);
        QCOMPARE(bars[0].steps, 100);
        QVERIFY(near(bars[0].x0, 0) && near(bars[0].x1, 1, 1e-6));
        QVERIFY(near(bars[0].busy, 1, 1e-6));
        QCOMPARE(bars[0].batch, 8);
        QCOMPARE(bars[0].decodeTokens, 800);
        QCOMPARE(bars[1].steps, 10);
        QVERIFY(near(bars[1].x0, 5));
        QVERIFY(near(bars[1].busy, 0.1, 1e-6));
        QCOMPARE(bars[2].steps, 13);
        QCOMPARE(bars[2].kind, StepStripModel::Decode);
        QCOMPARE(bars[2].prefillTokens, 48);
        QCOMPARE(bars[2].waiting, 5);
        QVERIFY(near(bars[2].busy, 0.16, 1e-6));
        // Zoomed in on the second column, each of its steps is a bar of its own again.
        const auto zoomed = m.layout(0.6, 0.1, 1000);   // 0.1 ms a pixel
        QCOMPARE(int(zoomed.size()), 10);
        for (const auto& b : zoomed) QCOMPARE(b.steps, 1);
    }

    // A saturated engine whose steps are 0.9 px wide: every column is busy all its time, and the
    // columns tile the strip without overlapping (a step crossing a pixel edge shares its time).
    void saturatedColumnsAreFull() {
        StepStripModel m;
        std::vector<rl::step_record> s;
        for (int i = 0; i < 200; ++i) s.push_back(numbered(i * 0.009, 0.009, 0, 16, 16));   // 1.8 s busy
        m.add(s);
        const auto bars = m.layout(1.8, 2.0, 200);   // 10 ms a pixel: each step 0.9 px
        QVERIFY(bars.size() >= 170);
        for (size_t i = 0; i < bars.size(); ++i) {
            QVERIFY(bars[i].column);
            QVERIFY(near(bars[i].x1 - bars[i].x0, 1.0, 1e-9));
            if (i > 0) QVERIFY(bars[i].x0 >= bars[i - 1].x1 - 1e-9);
            // Inside the busy stretch (not its two edge columns) every column is full.
            if (bars[i].x0 >= 21 && bars[i].x1 <= 199)
                QVERIFY2(near(bars[i].busy, 1.0, 1e-6), qPrintable(QString::number(bars[i].busy)));
        }
        double total = 0;
        for (const auto& b : bars) total += b.durationS;
        QVERIFY(near(total, 1.8, 1e-6));   // every step's time counted once, split or not
        // A zero-length step at the right edge draws nothing past it.
        m.add({numbered(1.8, 0.0, 0, 1, 1)});
        for (const auto& b : m.layout(1.8, 2.0, 200)) QVERIFY(b.x1 <= 200.0 + 1e-9 && b.x0 < 200.0);
    }

    void boundedAndRestartable() {
        StepStripModel m;
        for (int i = 0; i <= 700; ++i) m.add({numbered(double(i), 0.01, 0, 1, 1)});
        QCOMPARE(int(m.size()), 601);   // t = 100 .. 700: the last 600 s
        QVERIFY(m.layout(50, 10, 100).empty());
        // A step far earlier than the newest (a new engine's clock) starts the record over.
        // A step slightly before the newest (a new engine's first, overlapping) is dropped:
        // the record stays in time order.
        m.add({numbered(699.5, 0.01, 0, 1, 1)});
        QCOMPARE(int(m.size()), 601);
        m.add({numbered(2, 0.5, 4, 0, 1)});
        QCOMPARE(int(m.size()), 1);
        QVERIFY(near(m.latestEnd(), 2.5));
    }

    void hoverFindsTheStep() {
        StepStripModel m;
        m.add({numbered(1, 0.5, 64, 0, 1), numbered(3, 0.1, 0, 2, 2)});
        const rl::step_record* r = m.stepAt(1.2, 0.01);
        QVERIFY(r && r->prefill_tokens == 64);
        QVERIFY(m.stepAt(2.0, 0.01) == nullptr);            // idle between them
        r = m.stepAt(2.995, 0.01);                            // just before the second, within slack
        QVERIFY(r && r->decode_tokens == 2);
        r = m.stepAt(1.505, 0.01);                            // just after the first ends
        QVERIFY(r && r->prefill_tokens == 64);
        QVERIFY(m.stepAt(0.5, 0.01) == nullptr);
    }

    void widgetDrawsBarsRuleAndGap() {
        StepStrip w;
        w.resize(404, 64);   // a bar area 400 px wide: 100 px a second over 4 s
        w.setSpanSeconds(4);
        w.addSteps({numbered(0, 1, 512, 0, 1, 3), numbered(2, 1, 0, 8, 8)}, 4);
        QVERIFY(near(w.endTime(), 4));
        const QImage img = w.grab().toImage();
        const int bottom = 64 - 4;
        auto at = [&](double t) { return 2 + int(t * 100); };
        QVERIFY2(sameColour(img.pixel(at(0.5), bottom), PlotStyle::prefill()), "the prefill bar");
        QVERIFY2(sameColour(img.pixel(at(2.5), bottom), PlotStyle::decode()), "the decode bar");
        QVERIFY2(sameColour(img.pixel(at(1.5), bottom), w.palette().color(QPalette::Base)), "the idle gap");
        QVERIFY2(sameColour(img.pixel(at(0.5), 16), PlotStyle::waiting()), "requests waited after the prefill");
        QVERIFY2(!sameColour(img.pixel(at(2.5), 16), PlotStyle::waiting()), "nothing waited after the decode");
        // The batch-1 prefill bar is lower than the batch-8 decode bar.
        auto top = [&](int x) {
            int y = bottom;
            while (y > 18 && !sameColour(img.pixel(x, y - 1), w.palette().color(QPalette::Base))) --y;
            return y;
        };
        QVERIFY(top(at(0.5)) > top(at(2.5)));
        QVERIFY(w.describeAt(at(0.5)).contains(QStringLiteral("512 prefill")));
        QVERIFY(w.describeAt(at(2.5)).contains(QStringLiteral("batch 8")));
        QVERIFY(w.describeAt(at(1.5)).isEmpty());

        // The wheel zooms in; a pause keeps the right edge where it was while steps arrive.
        QWheelEvent wheel(QPointF(100, 30), w.mapToGlobal(QPointF(100, 30)), QPoint(), QPoint(0, 120), Qt::NoButton,
                          Qt::NoModifier, Qt::NoScrollPhase, false);
        QApplication::sendEvent(&w, &wheel);
        QVERIFY(near(w.spanSeconds(), 4 / 1.25));
        w.setPaused(true);
        w.addSteps({numbered(5, 0.1, 0, 2, 2)}, 6);
        QVERIFY(near(w.endTime(), 4));
        w.setPaused(false);
        w.addSteps({}, 7);
        QVERIFY(near(w.endTime(), 7));
    }

    void plotsPanelFeedsTheStrip() {
        PlotsPanel panel;
        panel.resize(900, 600);
        MetricsFrame f;
        f.snap.t_s = 10;
        f.snap.new_steps = {numbered(9, 0.5, 128, 0, 1), numbered(9.6, 0.01, 0, 1, 1)};
        panel.onFrame(f);
        QCOMPARE(int(panel.stepStrip()->model().size()), 2);
        // A new engine: its clock restarts at 0; the panel shifts it onto the history's, so the
        // strip keeps the old steps and the new ones follow them.
        MetricsFrame g;
        g.snap.t_s = 0.5;
        g.snap.new_steps = {numbered(0.2, 0.1, 32, 0, 1)};
        panel.onFrame(g);
        QCOMPARE(int(panel.stepStrip()->model().size()), 3);
        // The history's clock stood at 10 when the new engine's said 0.5: its step at 0.2 lands at 9.7.
        QVERIFY(near(panel.stepStrip()->model().latestEnd(), 9.8, 1e-9));
        panel.setRemoteMarker(QStringLiteral("REMOTE: http://x · scrape every 2 s"));
        QVERIFY(panel.stepStrip()->isHidden());
        panel.setRemoteMarker(QString());
        QVERIFY(!panel.stepStrip()->isHidden());
        panel.clear();
        QVERIFY(panel.stepStrip()->model().empty());
    }
};

QTEST_MAIN(TestStepStrip)
#include "test_step_strip.moc"
