// MainWindow: composes the workbench; it holds no logic of its own beyond connecting parts.
// Owns the stores (SettingsStore, ConversationStore: persisted under JsonFile::dataDir()), the
// EngineBridge (engine, load generator, metrics pump), the ChatController and ServingController.
// Central: the message banner over the conversation list, the chat and (shown on demand) the
// reply settings (SamplingPanel, saved in settings.json "generation"). Docks: Model, Serving,
// Load generator, API server (ServerController), Plots, Roofline, KV blocks, Device; where they go,
// the Reset and Demo layouts and the layout's autosave are WindowLayout's. File menu: open model, save/open session, export metrics CSV, export the
// serving settings as vLLM / SGLang / llama-server commands.
// Keys: Enter sends (Shift+Enter: new line), Esc stops, Ctrl+N new.
// Exercise: tests/test_chat_window.cpp, tests/test_workbench_window.cpp.
#pragma once
#include "EngineTypes.h"
#include "runtime/load_generator.h"

#include <QMainWindow>

class ChatController;
class ChatPanel;
class ConversationListPanel;
class ConversationModel;
class ConversationStore;
class DevicePanel;
class EngineBridge;
class EngineStatusBar;
class KvBlockMapWidget;
class LoadGeneratorPanel;
class MessageBanner;
class ModelPanel;
class PlotsPanel;
class QAction;
class QDockWidget;
class QUrl;
class RemoteMetricsSource;
class RooflineWidget;
class SamplingPanel;
class ServerController;
class ServerPanel;
class ServingController;
class ServingPanel;
class SettingsStore;
class StoryController;
class WindowLayout;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Loads a model off the GUI thread; errors appear in the banner and the window keeps running.
    void loadModel(const EngineSettings& settings);
    /// The model and backend saved from the last session over defaults, with the serving config
    /// its owner (the ServingController, which starts from the saved one) wants.
    EngineSettings savedEngineSettings(const EngineSettings& defaults) const;
    /// Sends text as if typed into the input box and sent. False if not ready or busy.
    bool sendPrompt(const QString& text);
    /// The current conversation's reply settings (saved with it) and those new conversations of
    /// this run start from; shown in the Reply settings panel. settings.json's last-used ones
    /// change only by the panel's edits, so a command-line --max-tokens does not outlive the run
    /// there (the conversation it was used in keeps it).
    void setGenerationSettings(const GenerationSettings& settings);
    GenerationSettings generationSettings() const;
    /// Starts the virtual users of a scenario preset (name "" = the panel's scenario). "" or why not.
    QString startScenario(const QString& name = QString());

    bool saveSession(const QString& path, QString* error = nullptr);
    bool openSession(const QString& path, QString* error = nullptr);
    bool exportMetricsCsv(const QString& path, QString* error = nullptr);
    /// Opens the non-modal dialog with the config in force as vLLM / SGLang / llama-server commands.
    void showExportCommands();
    /// Remote mode: the plots show the /metrics of another server (vLLM, SGLang, llama-server,
    /// ridgeline-serve) instead of this engine's; watchLocal() goes back. The local engine keeps running.
    /// intervalMs > 0 sets the scrape interval; the URL and interval are remembered in settings.
    void watchRemote(const QUrl& url, int intervalMs = -1);
    void watchLocal();
    RemoteMetricsSource* remoteSource() const { return mRemote; }

    EngineBridge* bridge() const { return mBridge; }
    ChatController* chat() const { return mChat; }
    /// The current conversation.
    ConversationModel* conversation() const;
    ConversationStore* conversations() const { return mStore; }
    SettingsStore* settings() const { return mSettings; }
    ServingController* serving() const { return mServing; }
    StoryController* stories() const { return mStories; }
    ServerController* apiServer() const { return mApiServer; }
    ChatPanel* chatPanel() const { return mChatPanel; }
    SamplingPanel* samplingPanel() const { return mSampling; }
    ServingPanel* servingPanel() const { return mServingPanel; }
    LoadGeneratorPanel* loadPanel() const { return mLoadPanel; }
    ModelPanel* modelPanel() const { return mModelPanel; }
    PlotsPanel* plotsPanel() const { return mPlots; }
    MessageBanner* banner() const { return mBanner; }
    EngineStatusBar* engineStatus() const { return mStatus; }
    QDockWidget* dock(const QString& objectName) const;
    WindowLayout* layoutKeeper() const { return mLayout; }

protected:
    void closeEvent(QCloseEvent* e) override;

private:
    QDockWidget* addDock(const QString& title, const char* name, QWidget* w, Qt::DockWidgetArea area);
    void buildDocks();
    void buildMenus();
    void connectChat();
    void connectEngine();
    void connectPanels();
    void saveLayout();
    void openModelDialog();
    /// What a load from the model panel or File > Open starts from: the loaded model's source
    /// (else the saved one) and the serving config its owner wants.
    EngineSettings nextLoadSettings() const;
    void showAbout();
    void showCurrentConversation();
    void onLoaded(const ModelSummary& model);
    void onLoadFailed(const QString& message);
    void reportError(const QString& message);
    void askWatchRemote();

    SettingsStore* mSettings;
    ConversationStore* mStore;
    EngineBridge* mBridge;
    ChatController* mChat;
    ServingController* mServing;
    StoryController* mStories;
    ServerController* mApiServer;   // the OpenAI-compatible API on mBridge's engine
    ConversationListPanel* mConversationList;
    ChatPanel* mChatPanel;
    SamplingPanel* mSampling;   // the reply settings beside the chat
    ServingPanel* mServingPanel;
    LoadGeneratorPanel* mLoadPanel;
    ModelPanel* mModelPanel;
    PlotsPanel* mPlots;
    RooflineWidget* mRoofline;
    KvBlockMapWidget* mKvMap;
    DevicePanel* mDevice;
    MessageBanner* mBanner;
    EngineStatusBar* mStatus;
    WindowLayout* mLayout = nullptr;
    RemoteMetricsSource* mRemote = nullptr;
    QAction* mLocalAction = nullptr;
    bool mLayoutSaved = false;
};
