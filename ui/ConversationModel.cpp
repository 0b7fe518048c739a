// ConversationModel: the message store behind one chat (see ConversationModel.h).
#include "ConversationModel.h"

#include <QJsonObject>

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
    ++m.stats.generatedTokens;   // one streamed piece per token (a split UTF-8 character joins the next)
    m.status.clear();
    const QModelIndex i = index(row);
    emit dataChanged(i, i, {TextRole});
}

void ConversationModel::setStatus(int row, const QString& status) {
    if (row < 0 || row >= count()) return;
    Message& m = mMessages[row];
    if (m.state != State::Streaming || m.status == status) return;
    m.status = status;
    const QModelIndex i = index(row);
    emit dataChanged(i, i, {StateRole});
}

void ConversationModel::finish(int row, const ReplyStats& stats) {
    if (row < 0 || row >= count()) return;
    Message& m = mMessages[row];
    if (m.state != State::Streaming) return;
    m.stats = stats;
    m.status.clear();
    if (stats.failed()) m.state = State::Failed;
    else if (stats.finishReason == QLatin1String("cancelled")) m.state = State::Cancelled;
    else m.state = State::Complete;
    const QModelIndex i = index(row);
    emit dataChanged(i, i, {StateRole});
}

void ConversationModel::setSettings(const GenerationSettings& g) {
    if (g == mSettings) return;   // re-showing the same values (switching chats) changes nothing
    mSettings = g;
    emit settingsChanged();
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

void ConversationModel::truncate(int row) {
    row = qMax(0, row);
    if (row >= count()) return;
    beginRemoveRows(QModelIndex(), row, count() - 1);
    mMessages.erase(mMessages.begin() + row, mMessages.end());
    endRemoveRows();
}

void ConversationModel::setRecomputed(int row, bool recomputed) {
    if (row < 0 || row >= count()) return;
    mMessages[row].stats.recomputed = recomputed;
}

namespace {
const char* const kSenders[] = {"user", "assistant", "system"};
const char* const kStates[] = {"complete", "streaming", "cancelled", "failed"};
template <size_t N>
int indexOf(const char* const (&names)[N], const QString& s, int fallback) {
    for (size_t i = 0; i < N; ++i)
        if (s == QLatin1String(names[i])) return int(i);
    return fallback;
}
} // namespace

QJsonArray ConversationModel::toJson() const {
    QJsonArray out;
    for (const Message& m : mMessages) {
        QJsonObject o{{"sender", kSenders[int(m.sender)]}, {"text", m.text}, {"state", kStates[int(m.state)]}};
        // A streaming reply is saved with what it has so far (its token count), so a crash
        // leaves an honest record rather than "0 tokens".
        if (m.sender == Sender::Assistant) {
            const ReplyStats& s = m.stats;
            o.insert(QStringLiteral("stats"),
                     QJsonObject{{"finish_reason", s.finishReason},
                                 {"error", s.error},
                                 {"prompt_tokens", s.promptTokens},
                                 {"generated_tokens", s.generatedTokens},
                                 {"cached_prompt_tokens", s.cachedPromptTokens},
                                 {"queue_ms", s.queueMs},
                                 {"ttft_ms", s.ttftMs},
                                 {"decode_tok_s", s.decodeTokS},
                                 {"e2e_ms", s.e2eMs},
                                 {"recomputed", s.recomputed}});
        }
        out.append(o);
    }
    return out;
}

void ConversationModel::loadJson(const QJsonArray& messages) {
    beginResetModel();
    mMessages.clear();
    for (const QJsonValue& v : messages) {
        const QJsonObject o = v.toObject();
        Message m;
        m.sender = Sender(indexOf(kSenders, o.value(QLatin1String("sender")).toString(), 0));
        m.text = o.value(QLatin1String("text")).toString();
        m.state = State(indexOf(kStates, o.value(QLatin1String("state")).toString(), 0));
        const QJsonObject s = o.value(QLatin1String("stats")).toObject();
        m.stats.finishReason = s.value(QLatin1String("finish_reason")).toString();
        m.stats.error = s.value(QLatin1String("error")).toString();
        m.stats.promptTokens = s.value(QLatin1String("prompt_tokens")).toInt();
        m.stats.generatedTokens = s.value(QLatin1String("generated_tokens")).toInt();
        m.stats.cachedPromptTokens = s.value(QLatin1String("cached_prompt_tokens")).toInt();
        m.stats.queueMs = s.value(QLatin1String("queue_ms")).toDouble();
        m.stats.ttftMs = s.value(QLatin1String("ttft_ms")).toDouble();
        m.stats.decodeTokS = s.value(QLatin1String("decode_tok_s")).toDouble();
        m.stats.e2eMs = s.value(QLatin1String("e2e_ms")).toDouble();
        m.stats.recomputed = s.value(QLatin1String("recomputed")).toBool();
        if (m.state == State::Streaming) {   // the app went away mid-reply
            m.state = State::Cancelled;
            m.stats.finishReason = QStringLiteral("interrupted");
        }
        mMessages.append(m);
    }
    endResetModel();
}
