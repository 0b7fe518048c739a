// ChatController: send / stream / stop / regenerate / edit over many conversations
// (see ChatController.h).
#include "ChatController.h"

#include "ConversationModel.h"
#include "ConversationStore.h"
#include "EngineBridge.h"
#include "MetricsFrame.h"
#include "MetricsPump.h"
#include "runtime/engine.h"

using Sender = ConversationModel::Sender;
using State = ConversationModel::State;

ChatController::ChatController(EngineBridge* bridge, ConversationStore* store, QObject* parent)
    : QObject(parent), mBridge(bridge), mStore(store) {
    connect(mBridge, &EngineBridge::tokenReceived, this, &ChatController::onToken);
    connect(mBridge, &EngineBridge::requestFinished, this, &ChatController::onFinished);
    connect(mBridge, &EngineBridge::promptProgress, this, &ChatController::onProgress);
    connect(mBridge->metricsPump(), &MetricsPump::frameReady, this, &ChatController::onFrame);
    // A new engine has an empty cache: nothing it computes next is a re-computation.
    connect(mBridge, &EngineBridge::loaded, this, [this] { mComputed.clear(); });
    connect(mStore, &ConversationStore::currentChanged, this, &ChatController::updateBusy);
}

bool ChatController::wasRecomputed(int cached, int prompt, int previousComputed, int blockSize) {
    if (previousComputed <= 0 || blockSize <= 0) return false;
    const int reusable = qMin(previousComputed, prompt - 1);     // the last prompt token is always run
    const int expected = (reusable / blockSize) * blockSize - blockSize;   // full blocks, one of slack
    return expected > 0 && cached < expected;
}

QString ChatController::queuedText(int place, int waiting) {
    if (place <= 1) return tr("queued: next in line");
    const int tens = place % 100;
    const char* suffix = (tens >= 11 && tens <= 13) ? "th"
                         : place % 10 == 1          ? "st"
                         : place % 10 == 2          ? "nd"
                         : place % 10 == 3          ? "rd"
                                                    : "th";
    QString text = tr("queued: %1%2 in line").arg(place).arg(QLatin1String(suffix));
    if (waiting > place) text += tr(" (%1 waiting)").arg(waiting);
    return text;
}

ConversationModel* ChatController::model() const {
    const int cur = mStore->current();
    return cur >= 0 ? mStore->at(cur).model : nullptr;
}

quint64 ChatController::conversationId() const {
    const int cur = mStore->current();
    return cur >= 0 ? mStore->at(cur).id : 0;
}

quint64 ChatController::pendingFor(quint64 conversationId) const {
    for (auto it = mPending.begin(); it != mPending.end(); ++it)
        if (it->conversationId == conversationId) return it.key();
    return 0;
}

void ChatController::setGenerationSettings(const GenerationSettings& s) {
    mStore->setNewSettings(s);
    if (ConversationModel* m = model()) m->setSettings(s);
}

GenerationSettings ChatController::generationSettings() const {
    const ConversationModel* m = model();
    return m ? m->settings() : mStore->newSettings();
}

bool ChatController::isBusy() const { return pendingFor(conversationId()) != 0; }

bool ChatController::send(const QString& text) {
    const QString prompt = text.trimmed();
    if (prompt.isEmpty() || isBusy() || !mBridge->isLoaded() || !model()) return false;
    model()->appendUser(prompt);
    return submit(false);
}

bool ChatController::submit(bool resetBaseline) {
    ConversationModel* m = model();
    const quint64 conv = conversationId();
    if (resetBaseline) mComputed.remove(conv);
    const GenerationSettings settings = m->settings();   // a copy: the person may edit while it runs
    QList<ChatTurn> turns = m->history();
    if (!settings.systemPrompt.trimmed().isEmpty() && (turns.isEmpty() || turns.first().role != QLatin1String("system")))
        turns.prepend({QStringLiteral("system"), settings.systemPrompt.trimmed()});
    Pending p{conv, m, m->beginAssistant()};

    QString error;
    const quint64 id = mBridge->submitChat(turns, settings, conv, &error);
    if (id == 0) {
        ReplyStats s;
        s.finishReason = QStringLiteral("error");
        s.error = error;
        m->finish(p.row, s);
        emit replyStarted(settings);
        emit replyFinished(s);
        return true;
    }
    mPending.insert(id, p);
    // Until the engine schedules it (its first progress event), the request waits in the queue.
    m->setStatus(p.row, tr("queued: waiting for the engine"));
    updateBusy();
    emit replyStarted(settings);
    emit replyProgress(m->message(p.row).status);
    return true;
}

void ChatController::stop() {
    if (const quint64 id = pendingFor(conversationId())) mBridge->cancel(id);
}

void ChatController::newConversation() {
    mStore->setCurrent(mStore->create());
}

bool ChatController::regenerate() {
    ConversationModel* m = model();
    if (!m || isBusy() || !mBridge->isLoaded() || m->count() < 2) return false;
    const int last = m->count() - 1;
    if (m->message(last).sender != Sender::Assistant) return false;
    m->truncate(last);
    return submit(false);
}

bool ChatController::editAndResend(int row, const QString& text) {
    ConversationModel* m = model();
    const QString prompt = text.trimmed();
    if (!m || isBusy() || !mBridge->isLoaded() || prompt.isEmpty()) return false;
    if (row < 0 || row >= m->count() || m->message(row).sender != Sender::User) return false;
    m->truncate(row);
    m->appendUser(prompt);
    return submit(true);   // the prefix changed: the old baseline says nothing about the cache
}

void ChatController::deleteConversation(int row) {
    if (row < 0 || row >= mStore->count()) return;
    const quint64 conv = mStore->at(row).id;
    if (const quint64 id = pendingFor(conv)) {
        mPending.remove(id);
        mBridge->cancel(id);
    }
    mComputed.remove(conv);
    mStore->remove(row);
    updateBusy();
}

void ChatController::onToken(quint64 requestId, const QString& text) {
    auto it = mPending.find(requestId);
    if (it == mPending.end() || !it->model) return;
    it->scheduled = true;
    it->model->appendText(it->row, text);
    if (it->tokens++ == 0) it->sinceFirst.start();
    const double s = it->sinceFirst.elapsed() / 1000.0;
    if (it->conversationId == conversationId() && it->tokens > 1 && s > 0)
        emit replyProgress(tr("%1 · %2").arg(Format::tokens(it->tokens), Format::tokensPerSecond((it->tokens - 1) / s)));
}

void ChatController::onProgress(quint64 requestId, int computed, int total) {
    auto it = mPending.find(requestId);
    if (it == mPending.end() || !it->model || total <= 0) return;
    it->scheduled = true;
    it->model->setStatus(it->row, tr("processing prompt %1% (%2 of %3 tokens)")
                                      .arg(100 * computed / total)
                                      .arg(computed)
                                      .arg(total));
    if (it->conversationId == conversationId()) emit replyProgress(it->model->message(it->row).status);
}

void ChatController::onFrame(const MetricsFrame& frame) {
    // A frame may be older than a progress event already shown: only requests not yet
    // scheduled take their place from it. One not listed is being admitted or just scheduled.
    for (auto it = mPending.begin(); it != mPending.end(); ++it) {
        if (it->scheduled || !it->model) continue;
        for (const auto& [id, place] : frame.snap.waiting_places) {
            if (id != it.key()) continue;
            const QString text = queuedText(place, frame.snap.num_requests_waiting);
            if (it->model->message(it->row).status == text) break;   // frames come 10 times a second
            it->model->setStatus(it->row, text);
            if (it->conversationId == conversationId()) emit replyProgress(text);
            break;
        }
    }
}

void ChatController::onFinished(quint64 requestId, const ReplyStats& in) {
    auto it = mPending.find(requestId);
    if (it == mPending.end()) return;
    const Pending p = *it;
    mPending.erase(it);
    ReplyStats stats = in;
    if (!stats.failed() && mBridge->isLoaded() && mBridge->engine()->current_config().prefix_caching)
        stats.recomputed = wasRecomputed(stats.cachedPromptTokens, stats.promptTokens,
                                         mComputed.value(p.conversationId, 0), mBridge->model().blockSize);
    if (!stats.failed() && stats.promptTokens > 0)
        mComputed.insert(p.conversationId, stats.promptTokens + qMax(0, stats.generatedTokens - 1));
    if (p.model) p.model->finish(p.row, stats);
    updateBusy();
    if (p.conversationId == conversationId()) emit replyFinished(stats);
}

void ChatController::updateBusy() {
    const bool busy = isBusy();
    if (busy == mBusy) return;
    mBusy = busy;
    emit busyChanged(busy);
}
