// MainWindow's menus and the actions behind them (open model, export commands, remote mode,
// about). Split from MainWindow.cpp, which wires stores, bridge, controllers and docks; both
// implement the one MainWindow class (MainWindow.h).
#include "MainWindow.h"

#include "ChatController.h"
#include "ChatPanel.h"
#include "EngineBridge.h"
#include "ExportCommandDialog.h"
#include "MessageBanner.h"
#include "MetricsPump.h"
#include "PlotsPanel.h"
#include "RemoteMetricsSource.h"
#include "ServingController.h"
#include "SettingsStore.h"
#include "EngineStatusBar.h"
#include "WindowLayout.h"

#include <QAction>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QJsonObject>
#include <QLineEdit>
#include <QDockWidget>
#include <QFileDialog>
#include <QThread>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open Model…"), QKeySequence::Open, this, &MainWindow::openModelDialog);
    file->addSeparator();
    file->addAction(tr("&Save Session…"), QKeySequence::Save, this, [this] {
        const QString p = QFileDialog::getSaveFileName(this, tr("Save Session"), QString(), tr("Sessions (*.json)"));
        QString err;
        if (!p.isEmpty() && !saveSession(p, &err)) reportError(tr("Could not save the session: %1").arg(err));
    });
    file->addAction(tr("Open Sess&ion…"), this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, tr("Open Session"), QString(), tr("Sessions (*.json)"));
        QString err;
        if (!p.isEmpty() && !openSession(p, &err)) reportError(tr("Could not open the session: %1").arg(err));
    });
    file->addAction(tr("&Export Metrics CSV…"), this, [this] {
        const QString p = QFileDialog::getSaveFileName(this, tr("Export Metrics"), QString(), tr("CSV (*.csv)"));
        QString err;
        if (!p.isEmpty() && !exportMetricsCsv(p, &err)) reportError(tr("Could not export: %1").arg(err));
    });
    file->addAction(tr("Export as &vLLM / SGLang / llama-server Command…"), this, &MainWindow::showExportCommands)
        ->setObjectName(QStringLiteral("exportCommandsAction"));
    file->addSeparator();
    file->addAction(tr("&Watch Remote Server…"), this, &MainWindow::askWatchRemote)
        ->setObjectName(QStringLiteral("watchRemoteAction"));
    mLocalAction = file->addAction(tr("Back to &Local Engine"), this, &MainWindow::watchLocal);
    mLocalAction->setObjectName(QStringLiteral("watchLocalAction"));
    mLocalAction->setEnabled(false);
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* chat = menuBar()->addMenu(tr("&Chat"));
    chat->addAction(tr("&New Conversation"), QKeySequence::New, mChat, &ChatController::newConversation);
    chat->addAction(tr("&Stop Generating"), mChat, &ChatController::stop);
    chat->addAction(tr("&Regenerate Last Reply"), mChat, &ChatController::regenerate);
    chat->addAction(tr("&Copy Last Reply"), mChatPanel, &ChatPanel::copyLastReply);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (QDockWidget* d : findChildren<QDockWidget*>()) view->addAction(d->toggleViewAction());
    view->addSeparator();
    view->addAction(tr("&Reset Layout"), mLayout, &WindowLayout::applyDefault)
        ->setObjectName(QStringLiteral("resetLayoutAction"));
    view->addAction(tr("&Demo Layout"), mLayout, &WindowLayout::applyDemo)
        ->setObjectName(QStringLiteral("demoLayoutAction"));

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About Ridgeline"), this, &MainWindow::showAbout);
}

void MainWindow::showExportCommands() {
    const bool loaded = mBridge->isLoaded();
    const QString model = loaded ? mBridge->model().path : savedEngineSettings(EngineSettings()).modelPath;
    rl::export_input in =
        ExportCommandDialog::inputFor(mServing->config(), model, loaded ? mBridge->model().contextLength : 0);
    if (loaded) {
        // What the loaded engine resolved: its pool (kv_blocks "auto" included) becomes
        // llama-server's -c, and a CPU engine's thread count its -t.
        in.kv_pool_tokens = mBridge->model().kvBlocks * mBridge->model().blockSize;
        if (mBridge->source().backend == QLatin1String("cpu"))
            in.cpu_threads = mBridge->source().threads > 0 ? mBridge->source().threads : QThread::idealThreadCount();
    }
    auto* d = new ExportCommandDialog(in, this);
    d->setAttribute(Qt::WA_DeleteOnClose);
    d->show();
}

void MainWindow::openModelDialog() {
    const QString start = QFileInfo(mBridge->source().modelPath).absolutePath();
    const QString path = QFileDialog::getOpenFileName(this, tr("Open Model"), start,
                                                      tr("GGUF models (*.gguf);;All files (*)"));
    if (path.isEmpty()) return;
    EngineSettings s = nextLoadSettings();
    s.modelPath = path;
    loadModel(s);
}

void MainWindow::showAbout() {
    QMessageBox::about(this, tr("About Ridgeline"),
                       tr("<b>Ridgeline</b> %1<br>A desktop LLM inference workbench.")
                           .arg(QStringLiteral(RL_VERSION)));
}

void MainWindow::askWatchRemote() {
    // The last server watched and its scrape interval are remembered in settings.json ("remote").
    const QJsonObject saved = mSettings->value(QStringLiteral("remote")).toObject();
    QString last = saved.value(QStringLiteral("url")).toString();
    if (mRemote->url().isValid()) last = mRemote->url().toString();
    if (last.isEmpty()) last = QStringLiteral("http://127.0.0.1:8000/metrics");
    const int savedMs = saved.value(QStringLiteral("interval_ms")).toInt(RemoteMetricsSource::kDefaultIntervalMs);

    QDialog dlg(this);
    dlg.setWindowTitle(tr("Watch Remote Server"));
    auto* form = new QFormLayout(&dlg);
    auto* urlEdit = new QLineEdit(last, &dlg);
    urlEdit->setObjectName(QStringLiteral("remoteUrlEdit"));
    urlEdit->setMinimumWidth(420);
    urlEdit->setToolTip(tr("Prometheus /metrics URL of a vLLM, SGLang, llama-server or ridgeline-serve"));
    auto* every = new QDoubleSpinBox(&dlg);
    every->setObjectName(QStringLiteral("remoteIntervalSpin"));
    every->setRange(0.1, 600);
    every->setDecimals(1);
    every->setSuffix(tr(" s"));
    every->setValue(savedMs / 1000.0);
    form->addRow(tr("/metrics URL"), urlEdit);
    form->addRow(tr("Scrape every"), every);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, &dlg);
    connect(buttons, &QDialogButtonBox::accepted, &dlg, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &dlg, &QDialog::reject);
    form->addRow(buttons);
    if (dlg.exec() != QDialog::Accepted) return;
    const QUrl url = RemoteMetricsSource::normalizeUrl(urlEdit->text());
    if (!url.isValid()) return reportError(tr("Not an http(s) URL: %1").arg(urlEdit->text()));
    watchRemote(url, int(every->value() * 1000));
}

void MainWindow::watchRemote(const QUrl& url, int intervalMs) {
    disconnect(mBridge->metricsPump(), &MetricsPump::frameReady, mPlots, &PlotsPanel::onFrame);
    mPlots->clear();   // remote time starts at 0 when watching starts
    mBanner->hide();
    if (intervalMs > 0) mRemote->setIntervalMs(intervalMs);
    mRemote->start(url);
    mStatus->setRemoteActive(true);
    mSettings->setValue(QStringLiteral("remote"), QJsonObject{{QStringLiteral("url"), url.toString()},
                                                              {QStringLiteral("interval_ms"), mRemote->intervalMs()}});
    mLocalAction->setEnabled(true);
}

void MainWindow::watchLocal() {
    if (!mRemote->isRunning()) return;
    mRemote->stop();
    mStatus->setRemoteActive(false);
    mPlots->setRemoteMarker(QString());
    mPlots->clear();
    connect(mBridge->metricsPump(), &MetricsPump::frameReady, mPlots, &PlotsPanel::onFrame, Qt::UniqueConnection);
    mLocalAction->setEnabled(false);
}
