// MainWindow: wiring of stores, bridge, controllers, panels and docks (see MainWindow.h).
#include "MainWindow.h"

#include "ChatController.h"
#include "ChatPanel.h"
#include "ConversationListPanel.h"
#include "ConversationModel.h"
#include "ConversationStore.h"
#include "DevicePanel.h"
#include "EngineBridge.h"
#include "EngineStatusBar.h"
#include "KvBlockMapWidget.h"
#include "LoadGeneratorPanel.h"
#include "MessageBanner.h"
#include "MetricsPump.h"
#include "ModelPanel.h"
#include "PlotsPanel.h"
#include "RemoteMetricsSource.h"
#include "RooflineWidget.h"
#include "SamplingPanel.h"
#include "ServerController.h"
#include "ServerPanel.h"
#include "ServingController.h"
#include "ServingPanel.h"
#include "StoryController.h"
#include "TimelineEvents.h"
#include "SessionFile.h"
#include "SettingsStore.h"
#include "WindowLayout.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDockWidget>
#include <QFileInfo>
#include <QScrollArea>
#include <QScrollBar>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>

namespace {
constexpr int kScrolledMinWidth = 240;   // a form dock's narrowest column before it scrolls
}

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(QStringLiteral("Ridgeline"));
    setDockNestingEnabled(true);

    mSettings = new SettingsStore(this);
    mStore = new ConversationStore(this);
    const QString settingsError = mSettings->load();
    // Before load(): conversations saved without settings, and new ones, start from the last-used.
    mStore->setNewSettings(mSettings->generation(GenerationSettings()));
    const QString conversationsError = mStore->load();
    mBridge = new EngineBridge(this);
    mBridge->setPeakStore(mSettings);   // the roof stays where it was measured, per device
    mChat = new ChatController(mBridge, mStore, this);
    mServing = new ServingController(mBridge, mSettings, this);
    mStories = new StoryController(mBridge, mServing, this);
    mApiServer = new ServerController(mBridge, mSettings, this);

    auto* central = new QWidget(this);
    mBanner = new MessageBanner(central);
    mConversationList = new ConversationListPanel(mStore, central);
    mChatPanel = new ChatPanel(conversation(), central);
    auto* split = new QSplitter(Qt::Horizontal, central);
    split->setObjectName(QStringLiteral("chatSplitter"));
    mSampling = new SamplingPanel(central);
    mSampling->hide();   // the chat's "Reply settings" button shows it
    split->addWidget(mConversationList);
    split->addWidget(mChatPanel);
    split->addWidget(mSampling);
    split->setStretchFactor(1, 1);
    split->setSizes({190, 600, 240});
    auto* layout = new QVBoxLayout(central);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(mBanner);
    layout->addWidget(split, 1);
    setCentralWidget(central);

    mStatus = new EngineStatusBar(this);
    setStatusBar(mStatus);
    buildDocks();
    buildMenus();
    connectChat();
    connectEngine();
    connectPanels();

    mChatPanel->setReady(false, tr("No model loaded. Use File ▸ Open Model… or the Model panel."));
    mLayout->restoreOrFit();

    const QString err = QStringList{settingsError, conversationsError}.join(QLatin1Char('\n')).trimmed();
    if (!err.isEmpty()) mBanner->showMessage(MessageBanner::Kind::Error, err);
}

MainWindow::~MainWindow() {
    mApiServer->shutdown();   // before the bridge (created earlier, destroyed earlier) drops the engine
    saveLayout();
    mBridge->stopLoadGenerator();
}

QDockWidget* MainWindow::addDock(const QString& title, const char* name, QWidget* w, Qt::DockWidgetArea area) {
    auto* d = new QDockWidget(title, this);
    d->setObjectName(QLatin1String(name));
    d->setWidget(w);
    addDockWidget(area, d);
    return d;
}

void MainWindow::buildDocks() {
    auto scrolled = [this](QWidget* w) {
        auto* s = new QScrollArea(this);
        s->setWidget(w);
        s->setWidgetResizable(true);
        s->setFrameShape(QFrame::NoFrame);
        // Up to a form's own width the column shrinks; past that it scrolls, so a wide form
        // never forces the window wider than a 1280-px screen.
        s->setHorizontalScrollBarPolicy(Qt::ScrollBarAsNeeded);
        s->setMinimumWidth(std::min(kScrolledMinWidth, w->minimumSizeHint().width() + s->verticalScrollBar()->sizeHint().width()));
        return s;
    };
    mModelPanel = new ModelPanel(this);
    mServingPanel = new ServingPanel(this);
    mLoadPanel = new LoadGeneratorPanel(this);
    mPlots = new PlotsPanel(this);
    mRoofline = new RooflineWidget(this);
    mKvMap = new KvBlockMapWidget(this);
    mDevice = new DevicePanel(this);

    // Where each dock goes and how big: WindowLayout (default and Demo arrangements, autosave).
    QDockWidget* model = addDock(tr("Model"), "modelDock", scrolled(mModelPanel), Qt::LeftDockWidgetArea);
    QDockWidget* device = addDock(tr("Device"), "deviceDock", scrolled(mDevice), Qt::LeftDockWidgetArea);
    QDockWidget* kv = addDock(tr("KV blocks"), "kvDock", mKvMap, Qt::LeftDockWidgetArea);
    QDockWidget* serving = addDock(tr("Serving"), "servingDock", scrolled(mServingPanel), Qt::RightDockWidgetArea);
    QDockWidget* load = addDock(tr("Load generator"), "loadDock", scrolled(mLoadPanel), Qt::RightDockWidgetArea);
    QDockWidget* roof = addDock(tr("Roofline"), "rooflineDock", mRoofline, Qt::RightDockWidgetArea);
    QDockWidget* plots = addDock(tr("Plots"), "plotsDock", mPlots, Qt::BottomDockWidgetArea);
    QDockWidget* server = addDock(tr("API server"), "serverDock", scrolled(new ServerPanel(mApiServer, this)),
                                  Qt::RightDockWidgetArea);
    mLayout = new WindowLayout(this, {model, device, kv, serving, load, server, roof, plots}, mSettings);
}

QDockWidget* MainWindow::dock(const QString& objectName) const { return findChild<QDockWidget*>(objectName); }

void MainWindow::connectChat() {
    connect(mChatPanel, &ChatPanel::sendRequested, mChat, &ChatController::send);
    connect(mChatPanel, &ChatPanel::stopRequested, mChat, &ChatController::stop);
    connect(mChatPanel, &ChatPanel::newConversationRequested, mChat, &ChatController::newConversation);
    connect(mChatPanel, &ChatPanel::regenerateRequested, mChat, &ChatController::regenerate);
    connect(mChatPanel, &ChatPanel::editResendRequested, mChat, &ChatController::editAndResend);
    connect(mConversationList, &ConversationListPanel::newRequested, mChat, &ChatController::newConversation);
    connect(mConversationList, &ConversationListPanel::deleteRequested, mChat, &ChatController::deleteConversation);
    connect(mStore, &ConversationStore::currentChanged, this, &MainWindow::showCurrentConversation);
    connect(mStore, &ConversationStore::saveFailed, this, &MainWindow::reportError);
    connect(mSettings, &SettingsStore::saveFailed, this, &MainWindow::reportError);
    connect(mApiServer, &ServerController::failed, this, &MainWindow::reportError);
    connect(mChat, &ChatController::busyChanged, mChatPanel, &ChatPanel::setBusy);
    // Reply settings: the current conversation's, saved with it as they are edited and used from
    // its next reply on; settings.json keeps the last-used ones for the next new conversation.
    connect(mChatPanel, &ChatPanel::replySettingsToggled, mSampling, &QWidget::setVisible);
    connect(mSampling, &SamplingPanel::settingsEdited, this, [this](const GenerationSettings& g) {
        mChat->setGenerationSettings(g);
        mSettings->setGeneration(g);
    });
    mSampling->setSettings(mChat->generationSettings());
    connect(mChat, &ChatController::replyStarted, mStatus, [this] { mStatus->showGenerating(); });
    connect(mChat, &ChatController::replyProgress, mStatus, &EngineStatusBar::showGenerating);
    connect(mChat, &ChatController::replyFinished, mStatus, &EngineStatusBar::showReply);
}

void MainWindow::connectEngine() {
    connect(mBridge, &EngineBridge::loadStarted, this, [this](const QString& path) {
        mBanner->hide();
        mStatus->showLoading(path);
        mModelPanel->showLoading(path);
        if (!mBridge->isLoaded())
            mChatPanel->setReady(false, tr("Loading %1…").arg(QFileInfo(path).fileName()));
    });
    connect(mBridge, &EngineBridge::loaded, this, &MainWindow::onLoaded);
    connect(mBridge, &EngineBridge::loadFailed, this, &MainWindow::onLoadFailed);
    connect(mBridge, &EngineBridge::loadCancelled, this, [this] {
        mModelPanel->showIdle(tr("Load cancelled."));
        if (mBridge->isLoaded()) mStatus->showModel(mBridge->model());
        else mStatus->showLoadError(tr("load cancelled"));
        if (!mBridge->isLoaded()) mChatPanel->setReady(false, tr("No model loaded."));
    });
    connect(mBridge, &EngineBridge::aboutToUnload, this, [this] {
        mStatus->clearLive();
        mLoadPanel->setEngineReady(false);
    });
    MetricsPump* pump = mBridge->metricsPump();
    connect(pump, &MetricsPump::frameReady, mPlots, &PlotsPanel::onFrame);
    // Remote mode: the same plots fed by another server's /metrics (watchRemote, watchLocal).
    mRemote = new RemoteMetricsSource(this);
    connect(mRemote, &RemoteMetricsSource::frameReady, mPlots, &PlotsPanel::onFrame);
    connect(mRemote, &RemoteMetricsSource::markerChanged, mPlots, &PlotsPanel::setRemoteMarker);
    connect(mRemote, &RemoteMetricsSource::notesChanged, mPlots, &PlotsPanel::setRemoteNotes);
    connect(mRemote, &RemoteMetricsSource::failed, this, [this](const QString& m) { reportError(tr("Remote metrics: %1").arg(m)); });
    connect(mRemote, &RemoteMetricsSource::recovered, mBanner, &QWidget::hide);
    connect(pump, &MetricsPump::frameReady, mRoofline, &RooflineWidget::onFrame);
    connect(pump, &MetricsPump::frameReady, mKvMap, &KvBlockMapWidget::onFrame);
    connect(pump, &MetricsPump::frameReady, mDevice, &DevicePanel::onFrame);
    connect(mDevice, &DevicePanel::remeasureRequested, this, [this] {
        if (!mBridge->remeasurePeaks()) mDevice->setMeasuring(false, tr("No model is loaded."));
    });
    connect(mBridge, &EngineBridge::peaksMeasured, this, [this](double flops, double bytes) {
        mDevice->setMeasuring(false, tr("Measured %1 · %2; kept for this device.")
                                         .arg(DevicePanel::rate(flops, QStringLiteral("FLOP/s")),
                                              DevicePanel::rate(bytes, QStringLiteral("B/s"))));
    });
    connect(mBridge, &EngineBridge::peaksMeasureFailed, this, [this](const QString& m) {
        mDevice->setMeasuring(false);
        reportError(tr("Measuring the peaks failed: %1").arg(m));
    });
    connect(pump, &MetricsPump::frameReady, this, [this](const MetricsFrame& f) {
        mStatus->showLive(f.snap.decode_tok_s, f.snap.num_requests_running, f.snap.kv_cache_usage_perc);
    });
}

void MainWindow::connectPanels() {
    // Serving: the panel asks, the controller decides, the panel shows the outcome.
    connect(mServingPanel, &ServingPanel::changeRequested, mServing,
            [this](const rl::serving_config& c) { mServing->change(c); });
    connect(mServing, &ServingController::configChanged, this,
            [this] { mServingPanel->setConfig(mServing->wanted(), mServing->resolved()); });
    connect(mServing, &ServingController::refused, mServingPanel, &ServingPanel::showRefusal);
    connect(mServing, &ServingController::poolRestartNeeded, mServingPanel, &ServingPanel::setRestartPending);
    connect(mServingPanel, &ServingPanel::restartConfirmed, mServing, [this] { mServing->restartPool(); });
    connect(mServingPanel, &ServingPanel::restartDiscarded, mServing, &ServingController::discardPoolChange);
    connect(mServingPanel, &ServingPanel::presetLoadRequested, mServing, &ServingController::loadPreset);
    connect(mServingPanel, &ServingPanel::presetSaveRequested, mServing, &ServingController::savePreset);
    connect(mServingPanel, &ServingPanel::presetDeleteRequested, mSettings, &SettingsStore::removePreset);
    connect(mSettings, &SettingsStore::presetsChanged, this,
            [this] { mServingPanel->setPresetNames(mSettings->presetNames()); });
    mServingPanel->setPresetNames(mSettings->presetNames());
    // Stories: the built-in presets, listed before the saved ones.
    mServingPanel->setStories(StoryController::stories());
    connect(mServingPanel, &ServingPanel::storyRequested, this, [this](const QString& name) {
        if (const QString why = mStories->play(name); !why.isEmpty()) reportError(tr("Story: %1").arg(why));
    });
    connect(mStories, &StoryController::storyStarted, mServingPanel, &ServingPanel::showStory);
    connect(mStories, &StoryController::progress, mServingPanel, &ServingPanel::showStoryProgress);
    connect(mStories, &StoryController::failed, this, [this](const QString& m) { reportError(tr("Story: %1").arg(m)); });
    connect(mBridge->metricsPump(), &MetricsPump::frameReady, mStories, &StoryController::onFrame);
    // The timeline: knob changes, stories, restarts and loads marked on every plot.
    connect(new TimelineEvents(mBridge, mServing, mStories, this), &TimelineEvents::event, mPlots, &PlotsPanel::addEvent);
    mServingPanel->setConfig(mServing->wanted(), mServing->resolved());

    // Load generator: owned by the bridge, counters polled there.
    mLoadPanel->setScenario(mSettings->scenario());
    connect(mLoadPanel, &LoadGeneratorPanel::scenarioEdited, mSettings, &SettingsStore::setScenario);
    connect(mLoadPanel, &LoadGeneratorPanel::startRequested, this, [this](const rl::scenario& s) {
        mSettings->setScenario(s);
        if (const QString err = mBridge->startLoadGenerator(s); !err.isEmpty()) mLoadPanel->showError(err);
    });
    connect(mLoadPanel, &LoadGeneratorPanel::pauseRequested, mBridge, &EngineBridge::setLoadGeneratorPaused);
    connect(mLoadPanel, &LoadGeneratorPanel::stopRequested, mBridge, &EngineBridge::stopLoadGenerator);
    connect(mBridge, &EngineBridge::loadCountersChanged, mLoadPanel, &LoadGeneratorPanel::showCounters);

    // Model: load / cancel; the recent list lives in the settings.
    mModelPanel->setRecentModels(mSettings->recentModels());
    const EngineSettings saved = savedEngineSettings(EngineSettings());
    mModelPanel->setSelection(saved.modelPath, saved.backend, saved.weights);
    connect(mModelPanel, &ModelPanel::loadRequested, this, [this](const QString& source, const QString& backend) {
        EngineSettings s = nextLoadSettings();
        s.modelPath = source;
        s.backend = backend;
        s.weights = mModelPanel->selectedWeights();
        loadModel(s);
    });
    connect(mModelPanel, &ModelPanel::cancelRequested, mBridge, &EngineBridge::cancelLoad);
}

void MainWindow::showCurrentConversation() {
    mChatPanel->setModel(conversation());
    mChatPanel->setBusy(mChat->isBusy());
    mSampling->setSettings(mChat->generationSettings());
}

ConversationModel* MainWindow::conversation() const { return mChat->model(); }

EngineSettings MainWindow::savedEngineSettings(const EngineSettings& defaults) const {
    // The model from the settings file, the serving config from its owner.
    return EngineSettings{mSettings->modelSource(defaults), mServing->wanted()};
}

EngineSettings MainWindow::nextLoadSettings() const {
    if (!mBridge->isLoaded()) return savedEngineSettings(EngineSettings());
    return EngineSettings{mBridge->source(), mServing->wanted()};
}

void MainWindow::loadModel(const EngineSettings& settings) {
    if (!mBridge->loadModel(settings))
        mBanner->showMessage(MessageBanner::Kind::Warning, tr("A model is still loading; try again when it is done."));
}

bool MainWindow::sendPrompt(const QString& text) { return mChat->send(text); }

void MainWindow::setGenerationSettings(const GenerationSettings& settings) {
    mChat->setGenerationSettings(settings);
    mSampling->setSettings(settings);
}

GenerationSettings MainWindow::generationSettings() const { return mChat->generationSettings(); }

QString MainWindow::startScenario(const QString& name) {
    if (!name.isEmpty()) {
        try {
            mLoadPanel->setScenario(rl::scenario_preset(name.toStdString()));
        } catch (const std::exception& ex) {
            return QString::fromStdString(ex.what());
        }
    }
    const rl::scenario s = mLoadPanel->scenario();
    mSettings->setScenario(s);
    return mBridge->startLoadGenerator(s);
}

void MainWindow::onLoaded(const ModelSummary& model) {
    setWindowTitle(tr("%1 — Ridgeline").arg(model.name));
    mStatus->showModel(model);
    mModelPanel->showModel(model);
    mLoadPanel->setEngineReady(true);
    mSettings->setModelSource(mBridge->source());   // the serving config is saved by its owner
    if (!model.path.startsWith(QLatin1String("synthetic:"))) mSettings->addRecentModel(model.path);
    mModelPanel->setRecentModels(mSettings->recentModels());
    mModelPanel->setSelection(model.path, mBridge->source().backend, mBridge->source().weights);
    mChatPanel->setReady(true, tr("Ask %1 something.\nEnter sends, Shift+Enter starts a new line, Esc stops.").arg(model.name));
    mChatPanel->setFocus();
    if (!model.templateWarning.isEmpty()) mBanner->showMessage(MessageBanner::Kind::Warning, model.templateWarning);
}

void MainWindow::onLoadFailed(const QString& message) {
    mModelPanel->showIdle(tr("Could not load: %1").arg(message));
    mBanner->showMessage(MessageBanner::Kind::Error, tr("Could not load the model: %1").arg(message));
    if (mBridge->isLoaded()) {   // the previous model is still serving
        mStatus->showModel(mBridge->model());
        return;
    }
    setWindowTitle(QStringLiteral("Ridgeline"));
    mStatus->showLoadError(message);
    mChatPanel->setReady(false, tr("No model loaded. Use File ▸ Open Model… or the Model panel."));
}

void MainWindow::reportError(const QString& message) { mBanner->showMessage(MessageBanner::Kind::Error, message); }

bool MainWindow::saveSession(const QString& path, QString* error) {
    Session s;
    const ModelSource e = mBridge->isLoaded() ? mBridge->source() : savedEngineSettings(EngineSettings());
    s.modelPath = e.modelPath;
    s.backend = e.backend;
    s.weights = e.weights;
    s.serving = mServing->config();
    s.scenario = mLoadPanel->scenario();
    mStore->saveNow();
    s.conversations = mStore->toJson();
    s.metricsCsv = mPlots->history().size() > 0 ? mPlots->history().toCsv() : QString();
    return SessionFile::save(path, s, error);
}

bool MainWindow::openSession(const QString& path, QString* error) {
    Session s;
    if (!SessionFile::open(path, &s, error)) return false;
    QString why = s.servingError;
    if (why.isEmpty()) mServing->change(s.serving, &why);
    if (!why.isEmpty()) reportError(tr("The session's serving settings were refused: %1").arg(why));
    mLoadPanel->setScenario(s.scenario);
    mSettings->setScenario(s.scenario);
    const int first = mStore->count();
    mStore->importJson(s.conversations, tr("[%1] ").arg(QFileInfo(path).completeBaseName()));
    if (mStore->count() > first) mStore->setCurrent(first);
    mModelPanel->setSelection(s.modelPath, s.backend, s.weights);
    mBanner->showMessage(MessageBanner::Kind::Info,
                         tr("Opened session %1 (saved %2): %3 conversations, model %4%5.")
                             .arg(QFileInfo(path).fileName(), s.savedAt)
                             .arg(mStore->count() - first)
                             .arg(QFileInfo(s.modelPath).fileName(),
                                  s.metricsCsv.isEmpty() ? QString() : tr(", metrics history included")));
    return true;
}

bool MainWindow::exportMetricsCsv(const QString& path, QString* error) { return mPlots->saveCsv(path, error); }

void MainWindow::saveLayout() {
    if (mLayoutSaved) return;
    mLayoutSaved = true;
    mLayout->saveIfChanged();
    mSettings->saveNow();
    mStore->saveNow();
}

void MainWindow::closeEvent(QCloseEvent* e) {
    saveLayout();
    mLayoutSaved = false;   // the window may be shown again
    QMainWindow::closeEvent(e);
}
