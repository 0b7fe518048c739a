// ChatPanel: the chat widget. A TranscriptView over a ConversationModel, an input box,
// Send / Stop / New buttons and a row of reply actions (Reply settings, Regenerate, Copy reply). Thin: it only
// emits what the user asked for (sendRequested, stopRequested, newConversationRequested,
// regenerateRequested, editResendRequested) and shows the state it is told (setReady, setBusy).
// Edit-and-resend: beginEdit() (from the transcript's context menu) puts a past message in the
// input box; Enter resends it, Esc cancels the edit. Keys: Enter sends, Shift+Enter inserts a
// new line, Esc stops.
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

    /// Shows another conversation (cancels an edit in progress).
    void setModel(ConversationModel* model);
    bool isEditing() const { return mEditRow >= 0; }

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
    /// Puts user message `row` into the input box for editing.
    void beginEdit(int row);
    void cancelEdit();
    /// Copies the last reply of the conversation to the clipboard.
    void copyLastReply();

signals:
    void sendRequested(const QString& text);
    void stopRequested();
    void newConversationRequested();
    void regenerateRequested();
    void editResendRequested(int row, const QString& text);
    /// The "Reply settings" button: show or hide the SamplingPanel beside the chat.
    void replySettingsToggled(bool shown);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void updateButtons();

    TranscriptView* mTranscript;
    QPlainTextEdit* mInput;
    QPushButton* mSend;
    QPushButton* mStop;
    QPushButton* mNew;
    QPushButton* mRegenerate;
    QPushButton* mCopy;
    QPushButton* mSettings;
    QLabel* mEditNote;
    int mEditRow = -1;
    bool mReady = false;
    bool mBusy = false;
};
