// test_story_window: each built-in story, driven from the Serving panel's Presets list as a person
// would (pick it, press Load), on the CPU backend with the default model: its knobs reach the
// engine (restarting the pool where the shape changes), its virtual users start, its caption
// shows, and its counter moves within 60 s of the users starting (the issue's own bound). One
// window, one first load; the stories run in turn. Also: the virtual users survive a pool restart.
// Run: QT_QPA_PLATFORM=offscreen ./build/tests/test_story_window   (label gui)
#include "rl_test.h"

#include "EngineBridge.h"
#include "LivePlot.h"
#include "MainWindow.h"
#include "PlotsPanel.h"
#include "RooflineWidget.h"
#include "ServingController.h"
#include "ServingPanel.h"
#include "StoryController.h"
#include "runtime/engine.h"

#include <QComboBox>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>

#include <memory>

class TestStoryWindow : public QObject {
    Q_OBJECT
private slots:
    void initTestCase();
    void cleanupTestCase();
    void presetsListStoriesForANewUser();
    void eachStoryMovesItsCounter();
    void hoveringARooflinePointReadsItOut();
    void usersSurviveAPoolRestart();

private:
    template <class T> T* child(const char* name) const { return mWindow->findChild<T*>(QLatin1String(name)); }
    std::unique_ptr<QTemporaryDir> mDir;
    MainWindow* mWindow = nullptr;
};

void TestStoryWindow::initTestCase() {
    mDir = std::make_unique<QTemporaryDir>();
    QVERIFY(mDir->isValid());
    qputenv("RIDGELINE_DATA_DIR", mDir->path().toLocal8Bit());
    mWindow = new MainWindow;
    mWindow->resize(1366, 768);
    mWindow->show();
    QVERIFY(QTest::qWaitForWindowExposed(mWindow));
    EngineSettings s;
    s.modelPath = QStringLiteral(RL_MODEL_PATH);
    s.backend = QStringLiteral("cpu");
    s.calibrate = false;
    s.serving = mWindow->serving()->config();
    QSignalSpy done(mWindow->bridge(), &EngineBridge::loaded);
    mWindow->loadModel(s);
    QVERIFY(done.wait(60000));
}

void TestStoryWindow::cleanupTestCase() {
    delete mWindow;
    mWindow = nullptr;
    mDir.reset();
}

void TestStoryWindow::presetsListStoriesForANewUser() {
    // A fresh data folder has no saved presets; the list still holds every story, enabled.
    auto* presets = child<QComboBox>("presets");
    QVERIFY(presets);
    QVERIFY(presets->isEnabled());
    QCOMPARE(presets->count(), int(rl::story_names().size()));
    for (int i = 0; i < presets->count(); ++i)
        QCOMPARE(presets->itemData(i).toString().toStdString(), rl::story_names()[size_t(i)]);
}

void TestStoryWindow::eachStoryMovesItsCounter() {
    auto* presets = child<QComboBox>("presets");
    QPushButton* load = nullptr;
    for (auto* b : mWindow->servingPanel()->findChildren<QPushButton*>())
        if (b->text() == QLatin1String("Load")) load = b;
    QVERIFY(load);
    StoryController* stories = mWindow->stories();
    for (int i = 0; i < presets->count(); ++i) {
        const QString name = presets->itemData(i).toString();
        presets->setCurrentIndex(i);
        QTest::mouseClick(load, Qt::LeftButton);
        QVERIFY2(stories->current() && stories->current()->name == name.toStdString(), qPrintable(name));
        // The story is marked on every plot's timeline.
        const QString title = QString::fromStdString(stories->current()->title);
        for (int p = 0; p < PlotsPanel::PlotCount; ++p) {
            bool marked = false;
            LivePlot* plot = mWindow->plotsPanel()->plot(p);
            for (int e = 0; e < plot->eventCount(); ++e) marked = marked || plot->eventLabel(e) == QStringLiteral("story: ") + title;
            QVERIFY2(marked, qPrintable(title));
        }
        // The pool restart (if the shape changed) and the users' start.
        QTRY_VERIFY_WITH_TIMEOUT(!stories->starting(), 60000);
        QVERIFY2(mWindow->bridge()->isLoadGeneratorRunning(), qPrintable(name));
        auto* caption = child<QLabel>("storyCaption");
        QVERIFY(caption->isVisible());
        QVERIFY(caption->text().contains(QString::fromStdString(stories->current()->title).toHtmlEscaped()));
        // Every knob of the story is the one in force (the pool resolved where it was auto).
        const rl::serving_config want = stories->current()->serving;
        const rl::serving_config got = mWindow->bridge()->engine()->current_config();
        for (const rl::knob_info& k : rl::serving_knobs())
            QVERIFY2(k.get(want) == k.get(got), qPrintable(name + QLatin1Char(' ') + QLatin1String(k.name.data(), int(k.name.size()))));
        QTRY_VERIFY2_WITH_TIMEOUT(stories->counter() > 0, qPrintable(name), 60000);
        QVERIFY(child<QLabel>("storyProgress")->text().startsWith(QLatin1String("Seen: ")));
        qInfo("%s: %llu %s", qPrintable(name), (unsigned long long)stories->counter(), stories->current()->watch.c_str());
    }
}

void TestStoryWindow::hoveringARooflinePointReadsItOut() {
    auto* roofline = mWindow->findChild<RooflineWidget*>();
    QVERIFY(roofline);
    QTRY_VERIFY_WITH_TIMEOUT(roofline->pointCount() > 0, 30000);
    roofline->flush();
    const QRect r = roofline->axisRect()->rect();
    QString text;
    for (int y = r.top(); y <= r.bottom() && text.isEmpty(); y += 3)
        for (int x = r.left(); x <= r.right() && text.isEmpty(); x += 3) text = roofline->describeAt(QPointF(x, y));
    QVERIFY2(text.contains(QStringLiteral(" step · batch ")) && text.contains(QStringLiteral("GFLOP/s")), qPrintable(text));
    QCOMPARE(roofline->describeAt(QPointF(-100, -100)), QString());
}

void TestStoryWindow::usersSurviveAPoolRestart() {
    QVERIFY(mWindow->bridge()->isLoadGeneratorRunning());
    const std::string before = mWindow->bridge()->loadCounters().scenario.toStdString();
    rl::serving_config c = mWindow->serving()->wanted();
    c.block_size = c.block_size == 16 ? 32 : 16;
    QCOMPARE(mWindow->serving()->change(c), ServingController::Result::NeedsRestart);
    LivePlot* plot = mWindow->plotsPanel()->plot(PlotsPanel::Throughput);
    QVERIFY(plot->eventLabel(plot->eventCount() - 1).startsWith(QStringLiteral("block_size ")));
    const double before_t = mWindow->plotsPanel()->history().now();
    QSignalSpy done(mWindow->bridge(), &EngineBridge::loaded);
    QVERIFY(mWindow->serving()->restartPool());
    QVERIFY(done.wait(60000));
    QVERIFY(plot->eventLabel(plot->eventCount() - 1).startsWith(QStringLiteral("pool restart")));
    // The history goes on after the restart instead of starting again at 0.
    QTRY_VERIFY_WITH_TIMEOUT(mWindow->plotsPanel()->history().now() > before_t + 1, 30000);
    QVERIFY(double(mWindow->plotsPanel()->history().begin()) * MetricsHistory::kBinS < before_t - 1);
    QCOMPARE(mWindow->bridge()->engine()->info().block_size, c.block_size);
    QVERIFY(mWindow->bridge()->isLoadGeneratorRunning());
    QCOMPARE(mWindow->bridge()->loadCounters().scenario.toStdString(), before);
    QTRY_VERIFY_WITH_TIMEOUT(mWindow->bridge()->loadCounters().submitted > 0, 30000);
}

QTEST_MAIN(TestStoryWindow)
#include "test_story_window.moc"
