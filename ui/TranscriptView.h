// TranscriptView: a read-only rendering of a ConversationModel. Each message is a QTextFrame
// (sender header, body, and for replies a muted footer with tokens, TTFT and tok/s). Streamed
// text is appended in place and coalesced by a ~30 ms single-shot timer, so a fast engine never
// re-lays out the document per token. Colours derive from the palette (light and dark).
#pragma once
#include <QList>
#include <QSet>
#include <QTextBrowser>
#include <QTimer>

class ConversationModel;
class QTextFrame;

class TranscriptView : public QTextBrowser {
    Q_OBJECT
public:
    explicit TranscriptView(ConversationModel* model, QWidget* parent = nullptr);

    /// Renders any pending streamed text now (normally done by the coalescing timer).
    void flush();

protected:
    void changeEvent(QEvent* e) override;

private:
    struct Rendered {
        QTextFrame* frame = nullptr;
        qsizetype chars = 0;      // body characters already in the document
        bool closed = false;      // footer written
        bool placeholder = false; // a muted "…" stands in until the first token
    };

    void rebuild();
    void appendRows(int first, int last);
    void markDirty(int first, int last);
    void renderRow(int row);
    bool atBottom() const;
    void scrollToBottom();

    ConversationModel* mModel;
    QList<Rendered> mRows;
    QSet<int> mDirty;
    QTimer mFlushTimer;
};
