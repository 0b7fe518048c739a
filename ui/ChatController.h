// ChatController: the logic of one chat. Sends the user's text with the conversation history
// through the EngineBridge, streams the reply into a ConversationModel, stops it on request.
// Qt-Core only (no widgets): ChatPanel calls send()/stop(), MainWindow just connects them.
// A later issue runs several of these, one per conversation, over one bridge.
#pragma once
#include "EngineTypes.h"

#include <QObject>

class ConversationModel;
class EngineBridge;

class ChatController : public QObject {
    Q_OBJECT
public:
    ChatController(EngineBridge* bridge, ConversationModel* model, QObject* parent = nullptr);

    void setGenerationSettings(const GenerationSettings& s) { mSettings = s; }
    const GenerationSettings& generationSettings() const { return mSettings; }
    bool isBusy() const { return mRequestId != 0 || mReplyRow >= 0; }
    ConversationModel* model() const { return mModel; }

public slots:
    /// Appends the user's message and starts a reply. False if empty, busy or no model.
    bool send(const QString& text);
    /// Cancels the reply in progress (it finishes as "cancelled", keeping its text).
    void stop();
    /// Clears the conversation (stops a running reply first).
    void newConversation();

signals:
    void busyChanged(bool busy);
    void replyStarted();
    void replyFinished(const ReplyStats& stats);

private:
    void onToken(quint64 requestId, const QString& text);
    void onFinished(quint64 requestId, const ReplyStats& stats);
    void finishReply(const ReplyStats& stats);

    EngineBridge* mBridge;
    ConversationModel* mModel;
    GenerationSettings mSettings;
    quint64 mConversationId;   // the engine keeps this conversation's prefix between turns
    quint64 mRequestId = 0;
    int mReplyRow = -1;
};
