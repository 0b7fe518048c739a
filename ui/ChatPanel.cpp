// ChatPanel: transcript + input + buttons (see ChatPanel.h).
#include "ChatPanel.h"

#include "ConversationModel.h"
#include "TranscriptView.h"

#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>
#include <QVBoxLayout>

ChatPanel::ChatPanel(ConversationModel* model, QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("chatPanel"));
    mTranscript = new TranscriptView(model, this);
    // A few lines of reply always: a layout saved on a larger screen otherwise gives all of a
    // smaller window's height to the plots dock and leaves the chat one line high.
    mTranscript->setMinimumHeight(mTranscript->fontMetrics().lineSpacing() * 6 + 28);

    mInput = new QPlainTextEdit(this);
    mInput->setObjectName(QStringLiteral("input"));
    mInput->setTabChangesFocus(true);
    const int lines = 3;
    mInput->setFixedHeight(mInput->fontMetrics().lineSpacing() * lines + 18);
    mInput->installEventFilter(this);

    mSend = new QPushButton(tr("Send"), this);
    mSend->setObjectName(QStringLiteral("sendButton"));
    mSend->setToolTip(tr("Send (Enter; Shift+Enter for a new line)"));
    mSend->setDefault(true);
    mStop = new QPushButton(tr("Stop"), this);
    mStop->setObjectName(QStringLiteral("stopButton"));
    mStop->setToolTip(tr("Stop generating (Esc)"));
    mNew = new QPushButton(tr("New chat"), this);
    mNew->setObjectName(QStringLiteral("newButton"));
    mNew->setToolTip(tr("Start a new conversation"));

    mRegenerate = new QPushButton(tr("Regenerate"), this);
    mRegenerate->setObjectName(QStringLiteral("regenerateButton"));
    mRegenerate->setToolTip(tr("Drop the last reply and ask again"));
    mRegenerate->setFlat(true);
    mCopy = new QPushButton(tr("Copy reply"), this);
    mCopy->setObjectName(QStringLiteral("copyButton"));
    mCopy->setToolTip(tr("Copy the last reply's text to the clipboard"));
    mCopy->setFlat(true);
    mSettings = new QPushButton(tr("Reply settings"), this);
    mSettings->setObjectName(QStringLiteral("replySettingsButton"));
    mSettings->setToolTip(tr("System prompt, temperature, top-p, top-k, min-p, max tokens, seed"));
    mSettings->setCheckable(true);
    mSettings->setFlat(true);
    mEditNote = new QLabel(this);
    mEditNote->setObjectName(QStringLiteral("editNote"));
    mEditNote->hide();
    auto* actions = new QHBoxLayout;
    actions->setContentsMargins(10, 6, 10, 0);
    actions->setSpacing(4);
    actions->addWidget(mEditNote, 1);
    actions->addStretch();
    actions->addWidget(mSettings);
    actions->addWidget(mRegenerate);
    actions->addWidget(mCopy);

    auto* buttons = new QVBoxLayout;
    buttons->setSpacing(4);
    buttons->addWidget(mSend);
    buttons->addWidget(mStop);
    buttons->addStretch(1);
    buttons->addWidget(mNew);

    auto* inputRow = new QHBoxLayout;
    inputRow->setContentsMargins(10, 8, 10, 10);
    inputRow->setSpacing(8);
    inputRow->addWidget(mInput, 1);
    inputRow->addLayout(buttons);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addWidget(mTranscript, 1);
    layout->addLayout(actions);
    layout->addLayout(inputRow);

    connect(mSend, &QPushButton::clicked, this, &ChatPanel::submit);
    connect(mStop, &QPushButton::clicked, this, &ChatPanel::stopRequested);
    connect(mNew, &QPushButton::clicked, this, &ChatPanel::newConversationRequested);
    connect(mRegenerate, &QPushButton::clicked, this, &ChatPanel::regenerateRequested);
    connect(mCopy, &QPushButton::clicked, this, &ChatPanel::copyLastReply);
    connect(mSettings, &QPushButton::toggled, this, &ChatPanel::replySettingsToggled);
    connect(mInput, &QPlainTextEdit::textChanged, this, &ChatPanel::updateButtons);
    connect(mTranscript, &TranscriptView::editRequested, this, &ChatPanel::beginEdit);
    connect(mTranscript, &TranscriptView::regenerateRequested, this, &ChatPanel::regenerateRequested);

    auto* esc = new QShortcut(QKeySequence(Qt::Key_Escape), this);
    esc->setContext(Qt::WidgetWithChildrenShortcut);
    connect(esc, &QShortcut::activated, this, [this] {
        if (mEditRow >= 0) cancelEdit();
        else if (mBusy) emit stopRequested();
    });

    setFocusProxy(mInput);
    setReady(false);
}

void ChatPanel::setModel(ConversationModel* model) {
    cancelEdit();
    mTranscript->setModel(model);
    updateButtons();
}

void ChatPanel::beginEdit(int row) {
    ConversationModel* m = mTranscript->model();
    if (!m || row < 0 || row >= m->count() || m->message(row).sender != ConversationModel::Sender::User) return;
    mEditRow = row;
    mInput->setPlainText(m->message(row).text);
    mEditNote->setText(tr("<b>Editing a message.</b> Enter resends it and drops the replies after it; "
                          "Esc cancels."));
    mEditNote->show();
    mInput->setFocus();
    mInput->moveCursor(QTextCursor::End);
    updateButtons();
}

void ChatPanel::cancelEdit() {
    if (mEditRow < 0) return;
    mEditRow = -1;
    mEditNote->hide();
    mInput->clear();
    updateButtons();
}

void ChatPanel::copyLastReply() {
    ConversationModel* m = mTranscript->model();
    if (!m) return;
    for (int row = m->count() - 1; row >= 0; --row)
        if (m->message(row).sender == ConversationModel::Sender::Assistant) {
            mTranscript->copyRow(row);
            return;
        }
}

QString ChatPanel::inputText() const { return mInput->toPlainText(); }

void ChatPanel::setInputText(const QString& text) { mInput->setPlainText(text); }

void ChatPanel::setReady(bool ready, const QString& hint) {
    mReady = ready;
    mTranscript->setPlaceholderText(hint);
    mInput->setPlaceholderText(ready ? tr("Message the model (Enter sends, Shift+Enter new line, Esc stops)")
                                     : QString());
    updateButtons();
}

void ChatPanel::setBusy(bool busy) {
    mBusy = busy;
    updateButtons();
}

void ChatPanel::submit() {
    const QString text = inputText().trimmed();
    if (!mReady || mBusy || text.isEmpty()) return;
    const int editRow = std::exchange(mEditRow, -1);
    mEditNote->hide();
    mInput->clear();
    if (editRow >= 0) emit editResendRequested(editRow, text);
    else emit sendRequested(text);
}

bool ChatPanel::eventFilter(QObject* watched, QEvent* event) {
    if (watched == mInput && event->type() == QEvent::KeyPress) {
        auto* key = static_cast<QKeyEvent*>(event);
        const bool enter = key->key() == Qt::Key_Return || key->key() == Qt::Key_Enter;
        // As in the chat tools people know: Enter sends, Shift+Enter starts a new line. A
        // paragraph break, not the line separator QPlainTextEdit puts for Shift+Enter.
        if (enter && (key->modifiers() & Qt::ShiftModifier)) {
            mInput->insertPlainText(QStringLiteral("\n"));
            return true;
        }
        if (enter) {   // also while busy or empty: Enter never adds a stray newline
            submit();
            return true;
        }
    }
    return QWidget::eventFilter(watched, event);
}

void ChatPanel::updateButtons() {
    mSend->setEnabled(mReady && !mBusy && !mInput->toPlainText().trimmed().isEmpty());
    mStop->setEnabled(mBusy);
    mInput->setEnabled(mReady);
    ConversationModel* m = mTranscript->model();
    const bool hasReply = m && m->count() > 0 &&
                          m->message(m->count() - 1).sender == ConversationModel::Sender::Assistant;
    mRegenerate->setEnabled(mReady && !mBusy && hasReply);
    mCopy->setEnabled(hasReply);
}
