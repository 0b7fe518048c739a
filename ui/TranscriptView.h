// TranscriptView: a read-only rendering of a ConversationModel. Each message is a QTextFrame
// (sender header, body, and for replies a muted footer with tokens, TTFT and tok/s). Replies are
// Markdown, rendered by Qt (QTextDocument::setMarkdown); the person's messages stay plain text.
// Until a reply's first token its body is the model's status line ("queued", "processing
// prompt 34%"). Streamed
// text is appended in place and coalesced by a ~30 ms single-shot timer, so a fast engine never
// re-lays out the document per token. Colours derive from the palette (light and dark).
// A reply's footer carries its TTFT, tok/s and cache hits, "recomputed after eviction" when the
// controller says so, and "At capacity: <reason>" for a rejected request. Right-click a message
// for Copy, Edit and resend (user messages) and Regenerate (the last reply).
#pragma once
#include "ConversationModel.h"

#include <QList>
#include <QPointer>
#include <QSet>
#include <QTextBrowser>
#include <QTimer>

class QTextFrame;

class TranscriptView : public QTextBrowser {
    Q_OBJECT
public:
    explicit TranscriptView(ConversationModel* model, QWidget* parent = nullptr);

    /// Shows another conversation.
    void setModel(ConversationModel* model);
    ConversationModel* model() const { return mModel; }
    /// Renders any pending streamed text now (normally done by the coalescing timer).
    void flush();
    /// The message row under a viewport point, or -1.
    int rowAt(const QPoint& viewportPos) const;
    /// Copies a message's text to the clipboard.
    void copyRow(int row);

    static QString footerText(const ConversationModel* model, int row);

signals:
    void editRequested(int row);
    void regenerateRequested();

protected:
    void changeEvent(QEvent* e) override;
    void contextMenuEvent(QContextMenuEvent* e) override;

private:
    struct Rendered {
        QTextFrame* frame = nullptr;
        qsizetype chars = 0;      // body characters already in the document
        bool closed = false;      // footer written
        bool placeholder = false; // a muted status line stands in until the first token
        QString status;           // the status line shown
    };

    void rebuild();
    void appendRows(int first, int last);
    void markDirty(int first, int last);
    void renderRow(int row);
    void renderReply(Rendered& r, const ConversationModel::Message& m);
    bool atBottom() const;
    void scrollToBottom();

    QPointer<ConversationModel> mModel;
    QList<QMetaObject::Connection> mModelConnections;
    QList<Rendered> mRows;
    QSet<int> mDirty;
    QTimer mFlushTimer;
};
