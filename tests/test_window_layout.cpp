// test_window_layout: the window fits the screens people have (issue 20, "Fit"). At 1280x720,
// 1366x768 and 1920x1080 the window takes the size asked for, no dock is drawn over another dock
// or over the chat, the plots and the roofline stay on screen and the chat keeps a usable height;
// View ▸ Demo layout hides the form docks and grows the plots, View ▸ Reset layout brings them
// back; the layout reaches settings.json while the window runs (so it survives kill -9); a first
// run takes the screen's available size; the real binary's --screenshot honours --size; legends
// and titles are not clipped at 1280x720, the empty latency plot says why, and latency past 10 s
// reads in seconds.
// No model is needed except by the --screenshot case.
// Run: QT_QPA_PLATFORM=offscreen ./build/tests/test_window_layout   (label gui)
#include "rl_test.h"

#include "ChatPanel.h"
#include "ConversationModel.h"
#include "LivePlot.h"
#include "MainWindow.h"
#include "PlotsPanel.h"
#include "RooflineWidget.h"
#include "SettingsStore.h"
#include "TranscriptView.h"
#include "WindowLayout.h"

#include <QAction>
#include <QDockWidget>
#include <QFile>
#include <QJsonObject>
#include <QProcess>
#include <QScreen>
#include <QTemporaryDir>

#include <memory>

class TestWindowLayout : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup();
    void fitsScreen_data();
    void fitsScreen();
    void demoAndResetLayouts();
    void layoutSavedWhileRunning();
    void largerLayoutOnSmallerWindow();
    void firstRunTakesTheScreen();
    void screenshotHonoursSize();
    void plotsReadable();
    void latencyInSeconds();

private:
    void showAt(const QSize& size);
    /// The docks a person sees: shown, docked, the raised one of a tab group.
    QList<QDockWidget*> visibleDocks() const;
    /// "" when nothing overlaps and everything lies inside the window, else what overlaps what.
    QString overlaps() const;
    QAction* action(const char* name) const { return mWindow->findChild<QAction*>(QLatin1String(name)); }

    std::unique_ptr<QTemporaryDir> mDir;
    MainWindow* mWindow = nullptr;
};

void TestWindowLayout::init() {
    mDir = std::make_unique<QTemporaryDir>();
    QVERIFY(mDir->isValid());
    qputenv("RIDGELINE_DATA_DIR", mDir->path().toLocal8Bit());
    mWindow = new MainWindow;
}

void TestWindowLayout::cleanup() {
    delete mWindow;
    mWindow = nullptr;
    mDir.reset();
}

void TestWindowLayout::showAt(const QSize& size) {
    mWindow->resize(size);
    mWindow->show();
    QVERIFY(QTest::qWaitForWindowExposed(mWindow));
    // The dock sizes are applied from a zero timer after the show; then the layout settles.
    QTest::qWait(50);
    QCoreApplication::processEvents();
}

QList<QDockWidget*> TestWindowLayout::visibleDocks() const {
    QList<QDockWidget*> out;
    for (QDockWidget* d : mWindow->findChildren<QDockWidget*>())
        if (d->isVisible() && !d->isFloating() && !d->visibleRegion().isEmpty()) out << d;
    return out;
}

QString TestWindowLayout::overlaps() const {
    QList<QPair<QString, QRect>> parts;
    for (QDockWidget* d : visibleDocks()) parts.append({d->objectName(), d->geometry()});
    parts.append({QStringLiteral("chat"), mWindow->centralWidget()->geometry()});
    const QRect inside = mWindow->rect();
    QStringList out;
    for (int i = 0; i < parts.size(); ++i) {
        if (!inside.contains(parts[i].second))
            out << QStringLiteral("%1 leaves the window").arg(parts[i].first);
        for (int j = i + 1; j < parts.size(); ++j)
            if (parts[i].second.intersects(parts[j].second))
                out << QStringLiteral("%1 over %2").arg(parts[i].first, parts[j].first);
    }
    return out.join(QStringLiteral("; "));
}

void TestWindowLayout::fitsScreen_data() {
    QTest::addColumn<QSize>("size");
    QTest::newRow("1280x720") << QSize(1280, 720);
    QTest::newRow("1366x768") << QSize(1366, 768);
    QTest::newRow("1920x1080") << QSize(1920, 1080);
}

void TestWindowLayout::fitsScreen() {
    QFETCH(QSize, size);
    showAt(size);
    QCOMPARE(mWindow->size(), size);
    const QString overlap = overlaps();
    QVERIFY2(overlap.isEmpty(), qPrintable(overlap));
    for (const char* name : {"plotsDock", "rooflineDock", "servingDock", "modelDock"}) {
        QDockWidget* d = mWindow->dock(QLatin1String(name));
        QVERIFY2(visibleDocks().contains(d), name);
    }
    // Usable: the roofline keeps its plot, the plots two rows, the chat several lines of text.
    QVERIFY(mWindow->dock(QStringLiteral("rooflineDock"))->widget()->height() >= 180);
    QVERIFY(mWindow->dock(QStringLiteral("plotsDock"))->widget()->height() >= 250);
    const int line = mWindow->fontMetrics().lineSpacing();
    QVERIFY2(mWindow->chatPanel()->transcript()->height() >= 8 * line,
             qPrintable(QString::number(mWindow->chatPanel()->transcript()->height())));
}

void TestWindowLayout::demoAndResetLayouts() {
    showAt(QSize(1366, 768));
    QDockWidget* plots = mWindow->dock(QStringLiteral("plotsDock"));
    const int plotsBefore = plots->height();
    QVERIFY(action("demoLayoutAction"));
    action("demoLayoutAction")->trigger();
    QCoreApplication::processEvents();
    QTest::qWait(50);
    QList<QDockWidget*> shown = visibleDocks();
    QCOMPARE(shown.size(), 2);
    QVERIFY(shown.contains(plots));
    QVERIFY(shown.contains(mWindow->dock(QStringLiteral("rooflineDock"))));
    QVERIFY2(plots->height() > plotsBefore, qPrintable(QStringLiteral("%1 -> %2").arg(plotsBefore).arg(plots->height())));
    QString overlap = overlaps();
    QVERIFY2(overlap.isEmpty(), qPrintable(overlap));

    // Reset after a dock was floated and one closed: every dock back in place, nothing over another.
    action("demoLayoutAction")->trigger();
    mWindow->dock(QStringLiteral("kvDock"))->show();
    mWindow->dock(QStringLiteral("kvDock"))->setFloating(true);
    action("resetLayoutAction")->trigger();
    QCoreApplication::processEvents();
    QTest::qWait(50);
    for (QDockWidget* d : mWindow->findChildren<QDockWidget*>()) {
        QVERIFY2(!d->isFloating(), qPrintable(d->objectName()));
        QVERIFY2(!d->isHidden(), qPrintable(d->objectName()));
    }
    QVERIFY(visibleDocks().contains(mWindow->dock(QStringLiteral("servingDock"))));
    overlap = overlaps();
    QVERIFY2(overlap.isEmpty(), qPrintable(overlap));
}

void TestWindowLayout::layoutSavedWhileRunning() {
    showAt(QSize(1366, 768));
    mWindow->dock(QStringLiteral("deviceDock"))->hide();
    const QByteArray want = mWindow->saveState(WindowLayout::kStateVersion);
    // Read the file as another process would after a kill -9: nothing here closes the window.
    SettingsStore other(nullptr, mDir->path());
    auto savedState = [&] {
        other.load();
        return other.windowBytes("state");
    };
    QTRY_VERIFY_WITH_TIMEOUT(savedState() == want, 4 * WindowLayout::kAutosaveMs);

    // A second window over the same data dir comes back with that dock hidden.
    delete mWindow;
    mWindow = new MainWindow;
    showAt(QSize(1366, 768));
    QVERIFY(mWindow->dock(QStringLiteral("deviceDock"))->isHidden());
    QVERIFY(!mWindow->dock(QStringLiteral("modelDock"))->isHidden());
}

void TestWindowLayout::largerLayoutOnSmallerWindow() {
    // A layout saved at 1920x1080 (another screen, or --screenshot's default size) restored into
    // 1366x768: the docks take the default shares, the chat keeps its lines, and the arrangement
    // (here: KV blocks closed) stays.
    showAt(QSize(1920, 1080));
    mWindow->dock(QStringLiteral("kvDock"))->hide();
    mWindow->layoutKeeper()->saveIfChanged();
    delete mWindow;
    mWindow = new MainWindow;
    showAt(QSize(1366, 768));
    QCOMPARE(mWindow->size(), QSize(1366, 768));
    const QString overlap = overlaps();
    QVERIFY2(overlap.isEmpty(), qPrintable(overlap));
    const int line = mWindow->fontMetrics().lineSpacing();
    QVERIFY2(mWindow->chatPanel()->transcript()->height() >= 8 * line,
             qPrintable(QString::number(mWindow->chatPanel()->transcript()->height())));
    QVERIFY(mWindow->dock(QStringLiteral("kvDock"))->isHidden());
}

void TestWindowLayout::firstRunTakesTheScreen() {
    // Nothing saved in the fresh data dir: the window takes the available area (or its minimum,
    // on a screen smaller than 1280x720, like the offscreen platform's 800x600).
    mWindow->show();
    QVERIFY(QTest::qWaitForWindowExposed(mWindow));
    const QRect avail = mWindow->screen()->availableGeometry();
    const QSize least = mWindow->minimumSizeHint();
    QCOMPARE(mWindow->width(), std::max(avail.width(), least.width()));
    QVERIFY(mWindow->height() <= std::max(avail.height(), least.height()));
    QVERIFY(mWindow->height() >= std::min(avail.height() * 9 / 10, least.height()));
}

void TestWindowLayout::screenshotHonoursSize() {
    const QString exe = QCoreApplication::applicationDirPath() + QStringLiteral("/../app/ridgeline");
    if (!QFile::exists(exe)) QSKIP("the ridgeline binary is not built next to the tests");
    delete mWindow;   // free the cores for the child
    mWindow = nullptr;
    const QString png = mDir->filePath(QStringLiteral("shot.png"));
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
    env.insert(QStringLiteral("RIDGELINE_DATA_DIR"), mDir->filePath(QStringLiteral("shotdata")));
    p.setProcessEnvironment(env);
    p.start(exe, {QStringLiteral("--model"), QStringLiteral(RL_MODEL_PATH), QStringLiteral("--screenshot"), png,
                  QStringLiteral("--prompt"), QStringLiteral("Say hi."), QStringLiteral("--max-tokens"),
                  QStringLiteral("4"), QStringLiteral("--size"), QStringLiteral("1366x768")});
    QVERIFY(p.waitForFinished(120000));
    QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
    QCOMPARE(QImage(png).size(), QSize(1366, 768));
}

void TestWindowLayout::plotsReadable() {
    // At the smallest screen every legend gets the width it needs (QCustomPlot would squeeze
    // and clip it), every plot title too, and the empty latency plot says why it is empty.
    showAt(QSize(1280, 720));
    QCoreApplication::processEvents();
    QList<QCustomPlot*> plots;
    for (int i = 0; i < PlotsPanel::PlotCount; ++i) plots << mWindow->plotsPanel()->plot(i);
    plots << mWindow->findChild<RooflineWidget*>();
    for (QCustomPlot* p : plots) {
        p->replot();
        const QRect legend = p->legend->outerRect();
        QVERIFY2(legend.width() >= p->legend->minimumOuterSizeHint().width(),
                 qPrintable(QStringLiteral("%1: legend %2 px, needs %3")
                                .arg(p->objectName()).arg(legend.width()).arg(p->legend->minimumOuterSizeHint().width())));
        QVERIFY(p->rect().contains(legend));
    }
    for (int i = 0; i < PlotsPanel::PlotCount; ++i) {
        LivePlot* p = mWindow->plotsPanel()->plot(i);
        auto* title = qobject_cast<QCPTextElement*>(qobject_cast<QCPLayoutGrid*>(p->plotLayout()->element(0, 0))->element(0, 0));
        QVERIFY(title);
        QVERIFY2(QFontMetrics(title->font()).horizontalAdvance(title->text()) <= p->width(), qPrintable(title->text()));
    }
    LivePlot* latency = mWindow->plotsPanel()->plot(PlotsPanel::Latency);
    bool saysEmpty = false;
    for (int i = 0; i < latency->itemCount(); ++i)
        if (auto* t = qobject_cast<QCPItemText*>(latency->item(i)))
            saysEmpty = saysEmpty || (t->visible() && t->text().contains(QStringLiteral("no finished")));
    QVERIFY(saysEmpty);
}

void TestWindowLayout::latencyInSeconds() {
    // Milliseconds past 10,000 read in seconds, so the axis title is not pushed out; and back.
    LivePlot p(QStringLiteral("Latency"), QStringLiteral("TTFT (ms)"));
    p.setMilliseconds(true);
    p.addSeries(QStringLiteral("TTFT p50"), Qt::blue, [](const HistoryBin&) { return 0.0; });
    p.graph(0)->addData(5, 42000);
    p.refresh(10, 30, true);
    QCOMPARE(p.yAxis->label(), QStringLiteral("TTFT (s)"));
    QVector<double> ticks;
    QVector<QString> labels;
    p.yAxis->ticker()->generate(p.yAxis->range(), QLocale::c(), QLatin1Char('g'), 6, ticks, nullptr, &labels);
    QVERIFY(labels.contains(QStringLiteral("20")));   // 20,000 ms
    p.graph(0)->data()->clear();
    p.graph(0)->addData(5, 800);
    p.refresh(10, 30, true);
    QCOMPARE(p.yAxis->label(), QStringLiteral("TTFT (ms)"));
}

QTEST_MAIN(TestWindowLayout)
#include "test_window_layout.moc"
