// TranscriptView: incremental rich-text rendering of a conversation (see TranscriptView.h).
#include "TranscriptView.h"

#include "ConversationModel.h"
#include "EngineTypes.h"

#include <QClipboard>
#include <QContextMenuEvent>
#include <QEvent>
#include <QGuiApplication>
#include <QMenu>
#include <QScrollBar>
#include <QTextDocumentFragment>
#include <QTextFrame>

namespace {

using Sender = ConversationModel::Sender;
using State = ConversationModel::State;

QColor mix(const QColor& a, const QColor& b, qreal t) {
    return QColor::fromRgbF(float(a.redF() * (1 - t) + b.redF() * t),
                            float(a.greenF() * (1 - t) + b.greenF() * t),
                            float(a.blueF() * (1 - t) + b.blueF() * t));
}

void scaleFont(QTextCharFormat& f, const QFont& base, qreal factor) {
    if (base.pointSizeF() > 0) f.setFontPointSize(base.pointSizeF() * factor);
}

} // namespace

TranscriptView::TranscriptView(ConversationModel* model, QWidget* parent)
    : QTextBrowser(parent), mModel(model) {
    setObjectName(QStringLiteral("transcript"));
    setReadOnly(true);
    setOpenLinks(false);
    setFrameShape(QFrame::NoFrame);
    setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
    document()->setDocumentMargin(14);

    mFlushTimer.setSingleShot(true);
    mFlushTimer.setInterval(30);
    connect(&mFlushTimer, &QTimer::timeout, this, &TranscriptView::flush);

    mModel = nullptr;
    setModel(model);
}

void TranscriptView::setModel(ConversationModel* model) {
    for (const auto& c : std::as_const(mModelConnections)) disconnect(c);
    mModelConnections.clear();
    mModel = model;
    if (mModel) {
        mModelConnections
            << connect(mModel, &QAbstractItemModel::rowsInserted, this,
                       [this](const QModelIndex&, int first, int last) { appendRows(first, last); })
            << connect(mModel, &QAbstractItemModel::dataChanged, this,
                       [this](const QModelIndex& a, const QModelIndex& b) { markDirty(a.row(), b.row()); })
            << connect(mModel, &QAbstractItemModel::modelReset, this, &TranscriptView::rebuild)
            << connect(mModel, &QAbstractItemModel::rowsRemoved, this, &TranscriptView::rebuild);
    }
    rebuild();
    scrollToBottom();
}

QString TranscriptView::footerText(const ConversationModel* model, int row) {
    const ConversationModel::Message& m = model->message(row);
    const ReplyStats& s = m.stats;
    if (m.state == State::Failed && s.rejected())
        return tr("At capacity: %1").arg(s.error.isEmpty() ? tr("the server is full") : s.error);
    if (m.state == State::Failed)
        return tr("%1: %2").arg(s.finishReason, s.error.isEmpty() ? tr("no reply") : s.error);
    QStringList parts;
    parts << Format::tokens(s.generatedTokens);
    if (s.generatedTokens > 0 && s.ttftMs > 0) parts << Format::ttft(s.ttftMs);   // unknown when interrupted
    if (s.decodeTokS > 0) parts << Format::tokensPerSecond(s.decodeTokS);
    if (s.promptTokens > 0) parts << tr("%1 of %2 prompt tokens cached").arg(s.cachedPromptTokens).arg(s.promptTokens);
    if (s.recomputed) parts << tr("recomputed after eviction");
    if (s.finishReason == QLatin1String("interrupted"))
        parts << tr("interrupted: the app closed before the reply finished");
    else if (m.state == State::Cancelled) parts << tr("stopped");
    else if (s.finishReason == QLatin1String("length")) parts << tr("length limit");
    return parts.join(QStringLiteral("  ·  "));
}

int TranscriptView::rowAt(const QPoint& viewportPos) const {
    const QTextCursor c = cursorForPosition(viewportPos);
    for (QTextFrame* f = c.currentFrame(); f; f = f->parentFrame())
        for (int row = 0; row < mRows.size(); ++row)
            if (mRows[row].frame == f) return row;
    return -1;
}

void TranscriptView::copyRow(int row) {
    if (mModel && row >= 0 && row < mModel->count())
        QGuiApplication::clipboard()->setText(mModel->message(row).text);
}

void TranscriptView::contextMenuEvent(QContextMenuEvent* e) {
    QMenu* menu = createStandardContextMenu(e->pos());
    const int row = rowAt(viewport()->mapFrom(this, e->pos()));
    if (mModel && row >= 0 && row < mModel->count()) {
        const auto& m = mModel->message(row);
        menu->addSeparator();
        menu->addAction(tr("Copy Message"), this, [this, row] { copyRow(row); });
        if (m.sender == Sender::User && !mModel->isStreaming())
            menu->addAction(tr("Edit and Resend…"), this, [this, row] { emit editRequested(row); });
        if (m.sender == Sender::Assistant && row == mModel->count() - 1 && m.state != State::Streaming)
            menu->addAction(tr("Regenerate"), this, &TranscriptView::regenerateRequested);
    }
    menu->exec(e->globalPos());
    delete menu;
}

void TranscriptView::changeEvent(QEvent* e) {
    QTextBrowser::changeEvent(e);
    if (e->type() == QEvent::PaletteChange || e->type() == QEvent::FontChange) rebuild();
}

void TranscriptView::rebuild() {
    mFlushTimer.stop();
    mDirty.clear();
    mRows.clear();
    document()->clear();
    if (mModel && mModel->count() > 0) appendRows(0, mModel->count() - 1);
}

void TranscriptView::appendRows(int first, int last) {
    if (first != mRows.size()) {   // an insert in the middle: not produced today, be safe
        rebuild();
        return;
    }
    const QPalette pal = palette();
    const QColor base = pal.color(QPalette::Base);
    const QColor text = pal.color(QPalette::Text);
    const QColor accent = pal.color(QPalette::Highlight);
    // The person's own new message always brings the view down to it (and to the reply after
    // it); otherwise only a view already at the bottom follows new rows.
    bool wasAtBottom = atBottom();
    for (int row = first; row <= last && mModel; ++row)
        wasAtBottom = wasAtBottom || mModel->message(row).sender == Sender::User;

    for (int row = first; row <= last; ++row) {
        const auto& m = mModel->message(row);
        QTextFrameFormat ff;
        ff.setPadding(10);
        ff.setTopMargin(row == 0 ? 0 : 10);
        ff.setBorder(1);
        ff.setBorderStyle(QTextFrameFormat::BorderStyle_Solid);
        if (m.sender == Sender::User) {
            ff.setBackground(mix(base, accent, 0.10));
            ff.setBorderBrush(mix(base, accent, 0.35));
        } else {
            ff.setBackground(mix(base, text, 0.025));
            ff.setBorderBrush(mix(base, text, 0.14));
        }

        QTextCursor c(document());
        c.movePosition(QTextCursor::End);
        QTextFrame* frame = c.insertFrame(ff);

        QTextCharFormat head;
        head.setFontWeight(QFont::Bold);
        scaleFont(head, font(), 0.9);
        head.setForeground(m.sender == Sender::User ? mix(accent, text, 0.25) : mix(text, base, 0.3));
        QTextCursor fc = frame->firstCursorPosition();
        QTextBlockFormat headBlock;
        headBlock.setBottomMargin(4);
        fc.setBlockFormat(headBlock);
        fc.insertText(m.sender == Sender::User ? tr("You") : ConversationModel::senderName(m.sender), head);

        QTextBlockFormat body;
        body.setLineHeight(115, QTextBlockFormat::ProportionalHeight);
        QTextCharFormat bodyChars;
        bodyChars.setForeground(text);
        fc.insertBlock(body, bodyChars);

        mRows.append(Rendered{frame, 0, false, false, {}});
        mDirty.insert(row);
    }
    flush();
    if (wasAtBottom) scrollToBottom();
}

void TranscriptView::markDirty(int first, int last) {
    for (int row = first; row <= last && row < mRows.size(); ++row) mDirty.insert(row);
    if (!mFlushTimer.isActive()) mFlushTimer.start();
}

void TranscriptView::flush() {
    mFlushTimer.stop();
    if (mDirty.isEmpty()) return;
    const bool wasAtBottom = atBottom();
    const QSet<int> rows = std::exchange(mDirty, {});
    for (int row : rows)
        if (mModel && row >= 0 && row < mRows.size() && row < mModel->count()) renderRow(row);
    if (wasAtBottom) scrollToBottom();
}

void TranscriptView::renderRow(int row) {
    const auto& m = mModel->message(row);
    Rendered& r = mRows[row];
    if (r.closed) return;

    if (m.sender == Sender::Assistant) {
        renderReply(r, m);
    } else if (m.text.size() > r.chars) {   // the person's own text, as typed
        QTextCursor c = r.frame->lastCursorPosition();
        QTextCharFormat chars;
        chars.setForeground(palette().color(QPalette::Text));
        c.insertText(m.text.mid(r.chars), chars);
        r.chars = m.text.size();
    }
    if (m.sender != Sender::Assistant || m.state == State::Streaming) return;

    QTextCursor c = r.frame->lastCursorPosition();
    QTextBlockFormat fb;
    fb.setTopMargin(6);
    QTextCharFormat foot;
    scaleFont(foot, font(), 0.85);
    foot.setForeground(m.state == State::Failed
                           ? mix(palette().color(QPalette::Text), QColor(220, 50, 47), 0.75)
                           : palette().color(QPalette::PlaceholderText));
    c.insertBlock(fb, foot);
    c.insertText(footerText(mModel, row), foot);
    r.closed = true;
}

void TranscriptView::renderReply(Rendered& r, const ConversationModel::Message& m) {
    // The body is everything after the header block. A reply is Markdown: it is rendered whole
    // by Qt's own parser (QTextDocument::setMarkdown, GitHub dialect) each time it grows, which the
    // 30 ms coalescing keeps to a few dozen parses a second at most, so half-typed "**" closes
    // as soon as its pair arrives. Until the first token a muted line says what the reply waits for.
    const bool waiting = m.text.isEmpty() && m.state == State::Streaming;
    const QString status = waiting ? (m.status.isEmpty() ? QStringLiteral("…") : m.status) : QString();
    if (waiting ? (r.placeholder && status == r.status) : (!r.placeholder && m.text.size() == r.chars)) return;

    QTextCursor c(document());
    c.setPosition(r.frame->firstCursorPosition().block().next().position());
    c.setPosition(r.frame->lastPosition(), QTextCursor::KeepAnchor);
    c.removeSelectedText();
    if (waiting) {
        QTextCharFormat muted;
        muted.setForeground(palette().color(QPalette::PlaceholderText));
        c.insertText(status, muted);
    } else {
        QTextDocument md;
        md.setMarkdown(m.text, QTextDocument::MarkdownDialectGitHub);
        c.insertFragment(QTextDocumentFragment(&md));
    }
    r.placeholder = waiting;
    r.status = status;
    r.chars = waiting ? 0 : m.text.size();
}

bool TranscriptView::atBottom() const {
    const QScrollBar* sb = verticalScrollBar();
    return sb->value() >= sb->maximum() - 4;
}

void TranscriptView::scrollToBottom() {
    verticalScrollBar()->setValue(verticalScrollBar()->maximum());
}
