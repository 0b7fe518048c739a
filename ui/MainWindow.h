// MainWindow: composes the workbench. It owns the EngineBridge, one ConversationModel with its
// ChatController, and lays out the MessageBanner, ChatPanel and EngineStatusBar; it holds no
// logic of its own beyond connecting them. A later issue adds dock panels (plots, KV map) and
// several conversations around the same bridge.
#pragma once
#include "EngineTypes.h"

#include <QMainWindow>

class ChatController;
class ChatPanel;
class ConversationModel;
class EngineBridge;
class EngineStatusBar;
class MessageBanner;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Loads a model off the GUI thread; errors appear in the banner and the window keeps running.
    void loadModel(const EngineSettings& settings);
    /// Sends text as if typed into the input box and sent. False if not ready or busy.
    bool sendPrompt(const QString& text);
    void setGenerationSettings(const GenerationSettings& settings);

    EngineBridge* bridge() const { return mBridge; }
    ChatController* chat() const { return mChat; }
    ConversationModel* conversation() const { return mConversation; }
    ChatPanel* chatPanel() const { return mChatPanel; }
    MessageBanner* banner() const { return mBanner; }
    EngineStatusBar* engineStatus() const { return mStatus; }

private:
    void buildMenus();
    void openModelDialog();
    void showAbout();
    void onLoaded(const ModelSummary& model);
    void onLoadFailed(const QString& message);

    EngineBridge* mBridge;
    ConversationModel* mConversation;
    ChatController* mChat;
    ChatPanel* mChatPanel;
    MessageBanner* mBanner;
    EngineStatusBar* mStatus;
};
