// ConversationModel: one conversation as a list model of messages (user, assistant, system).
// Assistant replies stream in: beginAssistant() opens a row, appendText() grows it token by token,
// finish() closes it with its ReplyStats. truncate() drops a tail (regenerate, edit-and-resend).
// toJson()/loadJson() are what ConversationStore persists. It also holds the conversation's own
// reply settings (system prompt, sampling, max tokens, seed): each chat keeps the settings it was
// tuned with, so switching chats switches them too. Qt-Core only, so tests drive it without a
// display; TranscriptView renders it and ChatController writes to it.
#pragma once
#include "EngineTypes.h"

#include <QAbstractListModel>
#include <QJsonArray>
#include <QList>

class ConversationModel : public QAbstractListModel {
    Q_OBJECT
public:
    enum class Sender { User, Assistant, System };
    enum class State { Complete, Streaming, Cancelled, Failed };
    enum DataRole { SenderRole = Qt::UserRole + 1, TextRole, StateRole };

    struct Message {
        Sender sender = Sender::User;
        QString text;
        State state = State::Complete;
        ReplyStats stats;      // assistant rows: once finished; while streaming, tokens so far
        QString status;        // a streaming reply's wait ("queued", "processing prompt 34%"); not saved
    };

    explicit ConversationModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = QModelIndex()) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    int appendUser(const QString& text);
    int appendSystem(const QString& text);
    /// Opens an empty streaming assistant row and returns its index.
    int beginAssistant();
    /// Appends streamed text to a streaming row (ignored for other rows).
    void appendText(int row, const QString& delta);
    /// What a streaming row waits for, shown until its first token ("" = nothing known).
    void setStatus(int row, const QString& status);
    /// Closes a streaming row: Complete, Cancelled or Failed by stats.finishReason.
    void finish(int row, const ReplyStats& stats);
    void clear();
    /// Removes rows [row, count()). Streaming rows must have been finished first.
    void truncate(int row);
    /// Marks a reply (finished) as recomputed after eviction and re-renders it.
    void setRecomputed(int row, bool recomputed);

    QJsonArray toJson() const;
    /// Replaces the content. A reply that was still streaming when saved (the app died) reads as
    /// Cancelled with finishReason "interrupted", keeping its text and the tokens it had.
    void loadJson(const QJsonArray& messages);

    /// The settings this conversation's replies are asked with (ConversationStore saves them
    /// beside the messages, under "settings").
    const GenerationSettings& settings() const { return mSettings; }
    /// Emits settingsChanged when they differ from the current ones.
    void setSettings(const GenerationSettings& g);

    int count() const { return int(mMessages.size()); }
    const Message& message(int row) const { return mMessages.at(row); }
    bool isStreaming() const;
    /// The turns to send to the chat template: every non-empty message that is not streaming.
    QList<ChatTurn> history() const;

    static QString senderName(Sender s);

signals:
    void settingsChanged();

private:
    int append(Message m);

    QList<Message> mMessages;
    GenerationSettings mSettings;
};
