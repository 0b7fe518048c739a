// ChatController: the chat logic over every conversation in a ConversationStore. Sends the
// person's text with the conversation's history through the EngineBridge (priority 10, so the
// priority policy puts it ahead of virtual users), streams each reply into its own conversation
// (switching conversations does not stop a reply), stops, regenerates the last reply, and
// edit-and-resends a past user message (the tail after it is dropped). It also decides whether a
// reply was "recomputed after eviction": see wasRecomputed(). While a reply waits for its first
// token its row says why: "queued: 3rd in line" (its place from the metrics snapshot the
// MetricsPump already delivers ~10 times a second: no extra engine work), then "processing prompt
// N%" from the engine's progress events.
// Each reply is asked with its own conversation's settings (ConversationModel::settings()); a
// non-empty system prompt in them goes first.
// Qt-Core only (no widgets): ChatPanel asks, MainWindow connects.
// Exercise: tests/test_chat_window.cpp, tests/test_workbench_window.cpp.
#pragma once
#include "ConversationModel.h"
#include "EngineTypes.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QPointer>

class ConversationStore;
class EngineBridge;
struct MetricsFrame;

class ChatController : public QObject {
    Q_OBJECT
public:
    ChatController(EngineBridge* bridge, ConversationStore* store, QObject* parent = nullptr);

    /// Sets the current conversation's reply settings, and makes them the ones a new
    /// conversation starts from (the last-used).
    void setGenerationSettings(const GenerationSettings& s);
    /// The current conversation's reply settings (the next reply is asked with them).
    GenerationSettings generationSettings() const;
    /// Whether the current conversation has a reply streaming.
    bool isBusy() const;
    /// The current conversation.
    ConversationModel* model() const;
    quint64 conversationId() const;
    ConversationStore* store() const { return mStore; }

    /// True when the engine recomputed tokens this conversation had already computed: the cached
    /// prompt is shorter than what the previous turn left in the KV cache (previousComputed,
    /// capped by this prompt), counting only full blocks and allowing one block for the template
    /// re-tokenizing the turn boundary. previousComputed <= 0: no baseline (first turn, new model).
    static bool wasRecomputed(int cachedPromptTokens, int promptTokens, int previousComputed, int blockSize);
    /// "queued: next in line", "queued: 3rd in line (5 waiting)".
    static QString queuedText(int place, int waiting);

public slots:
    /// Appends the user's message and starts a reply. False if empty, busy or no model.
    bool send(const QString& text);
    /// Cancels the current conversation's reply (it finishes as "cancelled", keeping its text).
    void stop();
    /// Creates an empty conversation and makes it current.
    void newConversation();
    /// Drops the last reply of the current conversation and asks again. False if not possible.
    bool regenerate();
    /// Replaces user message `row` with text, drops everything after it, and sends it again.
    bool editAndResend(int row, const QString& text);
    /// Deletes a conversation, cancelling its reply if one is streaming.
    void deleteConversation(int row);

signals:
    void busyChanged(bool busy);
    /// A reply was submitted (or failed at once), asked with these settings.
    void replyStarted(const GenerationSettings& settings);
    /// The current conversation's reply: "queued…", "processing prompt N% …", then its live
    /// speed ("23 tokens · 14.2 tok/s") as tokens stream.
    void replyProgress(const QString& detail);
    void replyFinished(const ReplyStats& stats);

private:
    struct Pending {
        quint64 conversationId = 0;
        QPointer<ConversationModel> model;
        int row = -1;
        int tokens = 0;
        bool scheduled = false;     // a progress event or a token came: no longer queued
        QElapsedTimer sinceFirst;   // started at the first token: the live tok/s
    };

    bool submit(bool resetBaseline);
    quint64 pendingFor(quint64 conversationId) const;
    void onToken(quint64 requestId, const QString& text);
    void onProgress(quint64 requestId, int computed, int total);
    void onFrame(const MetricsFrame& frame);
    void onFinished(quint64 requestId, const ReplyStats& stats);
    void updateBusy();

    EngineBridge* mBridge;
    ConversationStore* mStore;
    QHash<quint64, Pending> mPending;      // by request id
    QHash<quint64, int> mComputed;         // conversation id -> tokens its last turn computed
    bool mBusy = false;
};
