// ConversationListPanel: the list of conversations on the left of the chat, with New, Rename and
// Delete. Thin: it shows a ConversationStore and emits what the person asked for; the store keeps
// the current row, the ChatController creates and deletes. Rename asks for a title (QInputDialog)
// and Delete asks for confirmation when the conversation has messages.
#pragma once
#include <QWidget>

class ConversationStore;
class QListView;
class QToolButton;

class ConversationListPanel : public QWidget {
    Q_OBJECT
public:
    explicit ConversationListPanel(ConversationStore* store, QWidget* parent = nullptr);

    QListView* list() const { return mList; }

signals:
    void newRequested();
    void deleteRequested(int row);

private:
    void syncCurrent();
    void renameCurrent();
    void deleteCurrent();

    ConversationStore* mStore;
    QListView* mList;
};
