// ChatController: one chat's send / stream / stop logic (see ChatController.h).
#include "ChatController.h"

#include "ConversationModel.h"
#include "EngineBridge.h"

#include <atomic>

namespace {
quint64 nextConversationId() {
    static std::atomic<quint64> next{1};
    return next++;
}
} // namespace

ChatController::ChatController(EngineBridge* bridge, ConversationModel* model, QObject* parent)
    : QObject(parent), mBridge(bridge), mModel(model), mConversationId(nextConversationId()) {
    connect(mBridge, &EngineBridge::tokenReceived, this, &ChatController::onToken);
    connect(mBridge, &EngineBridge::requestFinished, this, &ChatController::onFinished);
}

bool ChatController::send(const QString& text) {
    const QString prompt = text.trimmed();
    if (prompt.isEmpty() || isBusy() || !mBridge->isLoaded()) return false;

    mModel->appendUser(prompt);
    const QList<ChatTurn> turns = mModel->history();
    mReplyRow = mModel->beginAssistant();
    emit busyChanged(true);
    emit replyStarted();

    QString error;
    mRequestId = mBridge->submitChat(turns, mSettings, mConversationId, &error);
    if (mRequestId == 0) {
        ReplyStats s;
        s.finishReason = QStringLiteral("error");
        s.error = error;
        finishReply(s);
    }
    return true;
}

void ChatController::stop() {
    if (mRequestId != 0) mBridge->cancel(mRequestId);
}

void ChatController::newConversation() {
    if (isBusy()) {
        ReplyStats s;
        s.finishReason = QStringLiteral("cancelled");
        mBridge->cancel(mRequestId);
        finishReply(s);   // its late events no longer match mRequestId
    }
    mModel->clear();
    mConversationId = nextConversationId();
}

void ChatController::onToken(quint64 requestId, const QString& text) {
    if (requestId != 0 && requestId == mRequestId) mModel->appendText(mReplyRow, text);
}

void ChatController::onFinished(quint64 requestId, const ReplyStats& stats) {
    if (requestId != 0 && requestId == mRequestId) finishReply(stats);
}

void ChatController::finishReply(const ReplyStats& stats) {
    mModel->finish(mReplyRow, stats);
    mRequestId = 0;
    mReplyRow = -1;
    emit busyChanged(false);
    emit replyFinished(stats);
}
