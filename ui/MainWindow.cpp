// MainWindow: wiring of bridge, conversation, chat panel, banner and status bar (see MainWindow.h).
#include "MainWindow.h"

#include "ChatController.h"
#include "ChatPanel.h"
#include "ConversationModel.h"
#include "EngineBridge.h"
#include "EngineStatusBar.h"
#include "MessageBanner.h"

#include <QApplication>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>
#include <QVBoxLayout>

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setObjectName(QStringLiteral("mainWindow"));
    setWindowTitle(QStringLiteral("Ridgeline"));

    mBridge = new EngineBridge(this);
    mConversation = new ConversationModel(this);
    mChat = new ChatController(mBridge, mConversation, this);

    auto* central = new QWidget(this);
    mBanner = new MessageBanner(central);
    mChatPanel = new ChatPanel(mConversation, central);
    auto* layout = new QVBoxLayout(central);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(mBanner);
    layout->addWidget(mChatPanel, 1);
    setCentralWidget(central);

    mStatus = new EngineStatusBar(this);
    setStatusBar(mStatus);
    buildMenus();

    // user -> chat logic
    connect(mChatPanel, &ChatPanel::sendRequested, mChat, &ChatController::send);
    connect(mChatPanel, &ChatPanel::stopRequested, mChat, &ChatController::stop);
    connect(mChatPanel, &ChatPanel::newConversationRequested, mChat, &ChatController::newConversation);
    // chat logic -> view state
    connect(mChat, &ChatController::busyChanged, mChatPanel, &ChatPanel::setBusy);
    connect(mChat, &ChatController::replyStarted, mStatus, &EngineStatusBar::showGenerating);
    connect(mChat, &ChatController::replyFinished, mStatus, &EngineStatusBar::showReply);
    // engine lifecycle -> view state
    connect(mBridge, &EngineBridge::loadStarted, this, [this](const QString& path) {
        mBanner->hide();
        mStatus->showLoading(path);
        mChatPanel->setReady(false, tr("Loading %1…").arg(QFileInfo(path).fileName()));
    });
    connect(mBridge, &EngineBridge::loaded, this, &MainWindow::onLoaded);
    connect(mBridge, &EngineBridge::loadFailed, this, &MainWindow::onLoadFailed);

    mChatPanel->setReady(false, tr("No model loaded. Use File ▸ Open Model…"));
    resize(880, 640);
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open Model…"), QKeySequence::Open, this, &MainWindow::openModelDialog);
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* chat = menuBar()->addMenu(tr("&Chat"));
    chat->addAction(tr("&New Conversation"), QKeySequence::New, mChat, &ChatController::newConversation);
    chat->addAction(tr("&Stop Generating"), mChat, &ChatController::stop);

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About Ridgeline"), this, &MainWindow::showAbout);
}

void MainWindow::loadModel(const EngineSettings& settings) {
    if (!mBridge->loadModel(settings))
        mBanner->showMessage(MessageBanner::Kind::Warning, tr("A model is already loading."));
}

bool MainWindow::sendPrompt(const QString& text) {
    return mChat->send(text);
}

void MainWindow::setGenerationSettings(const GenerationSettings& settings) {
    mChat->setGenerationSettings(settings);
}

void MainWindow::onLoaded(const ModelSummary& model) {
    setWindowTitle(tr("%1 — Ridgeline").arg(model.name));
    mStatus->showModel(model);
    mChatPanel->setReady(true, tr("Ask %1 something.\nCtrl+Enter sends, Esc stops.").arg(model.name));
    mChatPanel->setFocus();
    if (!model.templateWarning.isEmpty())
        mBanner->showMessage(MessageBanner::Kind::Warning, model.templateWarning);
}

void MainWindow::onLoadFailed(const QString& message) {
    setWindowTitle(QStringLiteral("Ridgeline"));
    mStatus->showLoadError(message);
    mBanner->showMessage(MessageBanner::Kind::Error, tr("Could not load the model: %1").arg(message));
    mChatPanel->setReady(false, tr("No model loaded. Use File ▸ Open Model…"));
}

void MainWindow::openModelDialog() {
    const QString start = mBridge->settings().modelPath.isEmpty()
                              ? QString()
                              : QFileInfo(mBridge->settings().modelPath).absolutePath();
    const QString path = QFileDialog::getOpenFileName(this, tr("Open Model"), start,
                                                      tr("GGUF models (*.gguf);;All files (*)"));
    if (path.isEmpty()) return;
    EngineSettings s = mBridge->settings();
    s.modelPath = path;
    loadModel(s);
}

void MainWindow::showAbout() {
    QMessageBox::about(this, tr("About Ridgeline"),
                       tr("<b>Ridgeline</b> %1<br>A desktop LLM inference workbench.")
                           .arg(QStringLiteral(RL_VERSION)));
}
