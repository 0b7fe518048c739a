// ChatPanel: transcript + input + buttons (see ChatPanel.h).
#include "ChatPanel.h"

#include "TranscriptView.h"

#include <QHBoxLayout>
#include <QKeyEvent>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>
#include <QVBoxLayout>

ChatPanel::ChatPanel(ConversationModel* model, QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("chatPanel"));
    mTranscript = new TranscriptView(model, this);

    mInput = new QPlainTextEdit(this);
    mInput->setObjectName(QStringLiteral("input"));
    mInput->setTabChangesFocus(true);
    const int lines = 3;
    mInput->setFixedHeight(mInput->fontMetrics().lineSpacing() * lines + 18);
    mInput->installEventFilter(this);

    mSend = new QPushButton(tr("Send"), this);
    mSend->setObjectName(QStringLiteral("sendButton"));
    mSend->setToolTip(tr("Send (Ctrl+Enter)"));
    mSend->setDefault(true);
    mStop = new QPushButton(tr("Stop"), this);
    mStop->setObjectName(QStringLiteral("stopButton"));
    mStop->setToolTip(tr("Stop generating (Esc)"));
    mNew = new QPushButton(tr("New chat"), this);
    mNew->setObjectName(QStringLiteral("newButton"));
    mNew->setToolTip(tr("Start a new conversation"));

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
    layout->addLayout(inputRow);

    connect(mSend, &QPushButton::clicked, this, &ChatPanel::submit);
    connect(mStop, &QPushButton::clicked, this, &ChatPanel::stopRequested);
    connect(mNew, &QPushButton::clicked, this, &ChatPanel::newConversationRequested);
    connect(mInput, &QPlainTextEdit::textChanged, this, &ChatPanel::updateButtons);

    auto* esc = new QShortcut(QKeySequence(Qt::Key_Escape), this);
    esc->setContext(Qt::WidgetWithChildrenShortcut);
    connect(esc, &QShortcut::activated, this, [this] {
        if (mBusy) emit stopRequested();
    });

    setFocusProxy(mInput);
    setReady(false);
}

QString ChatPanel::inputText() const { return mInput->toPlainText(); }

void ChatPanel::setInputText(const QString& text) { mInput->setPlainText(text); }

void ChatPanel::setReady(bool ready, const QString& hint) {
    mReady = ready;
    mTranscript->setPlaceholderText(hint);
    mInput->setPlaceholderText(ready ? tr("Message the model (Ctrl+Enter to send, Esc to stop)")
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
    mInput->clear();
    emit sendRequested(text);
}

bool ChatPanel::eventFilter(QObject* watched, QEvent* event) {
    if (watched == mInput && event->type() == QEvent::KeyPress) {
        auto* key = static_cast<QKeyEvent*>(event);
        const bool enter = key->key() == Qt::Key_Return || key->key() == Qt::Key_Enter;
        if (enter && (key->modifiers() & Qt::ControlModifier)) {
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
}
