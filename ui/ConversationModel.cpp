// ConversationModel: the message store behind one chat (see ConversationModel.h).
#include "ConversationModel.h"

ConversationModel::ConversationModel(QObject* parent) : QAbstractListModel(parent) {}

int ConversationModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : count();
}

QVariant ConversationModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() < 0 || index.row() >= count()) return {};
    const Message& m = mMessages.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
    case TextRole: return m.text;
    case SenderRole: return int(m.sender);
    case StateRole: return int(m.state);
    default: return {};
    }
}

QHash<int, QByteArray> ConversationModel::roleNames() const {
    return {{SenderRole, "sender"}, {TextRole, "text"}, {StateRole, "state"}};
}

int ConversationModel::append(Message m) {
    const int row = count();
    beginInsertRows(QModelIndex(), row, row);
    mMessages.append(std::move(m));
    endInsertRows();
    return row;
}

int ConversationModel::appendUser(const QString& text) {
    return append({Sender::User, text, State::Complete, {}});
}

int ConversationModel::appendSystem(const QString& text) {
    return append({Sender::System, text, State::Complete, {}});
}

int ConversationModel::beginAssistant() {
    return append({Sender::Assistant, QString(), State::Streaming, {}});
}

void ConversationModel::appendText(int row, const QString& delta) {
    if (row < 0 || row >= count() || delta.isEmpty()) return;
    Message& m = mMessages[row];
    if (m.state != State::Streaming) return;
    m.text += delta;
    const QModelIndex i = index(row);
    emit dataChanged(i, i, {TextRole});
}

void ConversationModel::finish(int row, const ReplyStats& stats) {
    if (row < 0 || row >= count()) return;
    Message& m = mMessages[row];
    if (m.state != State::Streaming) return;
    m.stats = stats;
    if (stats.failed()) m.state = State::Failed;
    else if (stats.finishReason == QLatin1String("cancelled")) m.state = State::Cancelled;
    else m.state = State::Complete;
    const QModelIndex i = index(row);
    emit dataChanged(i, i, {StateRole});
}

void ConversationModel::clear() {
    beginResetModel();
    mMessages.clear();
    endResetModel();
}

bool ConversationModel::isStreaming() const {
    for (const Message& m : mMessages)
        if (m.state == State::Streaming) return true;
    return false;
}

QList<ChatTurn> ConversationModel::history() const {
    QList<ChatTurn> turns;
    for (const Message& m : mMessages) {
        if (m.state == State::Streaming || m.text.isEmpty()) continue;
        if (m.sender == Sender::Assistant && m.state == State::Failed) continue;
        turns.append({senderName(m.sender).toLower(), m.text});
    }
    return turns;
}

QString ConversationModel::senderName(Sender s) {
    switch (s) {
    case Sender::User: return QStringLiteral("User");
    case Sender::Assistant: return QStringLiteral("Assistant");
    case Sender::System: return QStringLiteral("System");
    }
    return {};
}
