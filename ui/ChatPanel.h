// ChatPanel: the chat widget. A TranscriptView over a ConversationModel, an input box and
// Send / Stop / New buttons. Thin: it only emits what the user asked for (sendRequested,
// stopRequested, newConversationRequested) and shows the state it is told (setReady, setBusy).
// Keys: Ctrl+Enter sends, Esc stops.
#pragma once
#include <QWidget>

class ConversationModel;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class TranscriptView;

class ChatPanel : public QWidget {
    Q_OBJECT
public:
    explicit ChatPanel(ConversationModel* model, QWidget* parent = nullptr);

    TranscriptView* transcript() const { return mTranscript; }
    QPlainTextEdit* input() const { return mInput; }
    QString inputText() const;
    void setInputText(const QString& text);

public slots:
    /// Whether a model is loaded; hint is shown in the empty transcript and the input box.
    void setReady(bool ready, const QString& hint = QString());
    void setBusy(bool busy);
    /// Emits sendRequested with the input's text and clears it, when ready, idle and non-empty.
    void submit();

signals:
    void sendRequested(const QString& text);
    void stopRequested();
    void newConversationRequested();

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void updateButtons();

    TranscriptView* mTranscript;
    QPlainTextEdit* mInput;
    QPushButton* mSend;
    QPushButton* mStop;
    QPushButton* mNew;
    bool mReady = false;
    bool mBusy = false;
};
