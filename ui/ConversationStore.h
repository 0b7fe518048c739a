// ConversationStore: every conversation of the window, as a list model of titles (the list on
// the left of the chat) that owns one ConversationModel per conversation. It saves itself to
// conversations.json (JsonFile: atomic, corrupt files set aside) a moment after any change, and
// on destruction, so killing and reopening the app gives back the same chats. Each conversation
// is saved with its reply settings; a new conversation starts from newSettings() (the last-used
// ones, which the window keeps in settings.json), and so does one read from a file written
// before conversations had settings.
// Conversation ids are plain small numbers: the engine treats them as the person's (not virtual).
// Qt-Core only. Exercise: tests/test_workbench_window.cpp (conversationsPersist).
#pragma once
#include "EngineTypes.h"

#include <QAbstractListModel>
#include <QJsonObject>
#include <QList>
#include <QTimer>

class ConversationModel;

class ConversationStore : public QAbstractListModel {
    Q_OBJECT
public:
    struct Conversation {
        quint64 id = 0;
        QString title;
        ConversationModel* model = nullptr;
    };

    /// file: where to persist ("" = JsonFile::path("conversations.json")).
    explicit ConversationStore(QObject* parent = nullptr, const QString& file = QString());
    ~ConversationStore() override;

    /// Reads the file. Returns "" or the reason it was set aside. Always leaves >= 1 conversation.
    QString load();
    /// Writes now (normally a 300 ms timer does it after a change). Returns "" or the error.
    QString saveNow();
    QString fileName() const { return mFile; }

    int rowCount(const QModelIndex& parent = QModelIndex()) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;

    int count() const { return int(mItems.size()); }
    const Conversation& at(int row) const { return mItems.at(row); }
    int rowOf(quint64 id) const;

    /// What create() gives a new conversation, and what a saved one without settings gets.
    /// Not persisted here: it is the last-used settings, settings.json's "generation".
    const GenerationSettings& newSettings() const { return mNewSettings; }
    void setNewSettings(const GenerationSettings& g) { mNewSettings = g; }

    /// Appends an empty conversation (with newSettings()) and returns its row.
    int create(const QString& title = QString());
    void rename(int row, const QString& title);
    /// Removes a conversation (its model is deleted later). Keeps at least one conversation.
    void remove(int row);

    /// The conversation shown in the window (persisted too).
    int current() const { return mCurrent; }
    void setCurrent(int row);

    /// {"next_id", "current", "conversations": [{id, title, settings, messages}]}
    QJsonObject toJson() const;
    /// Appends the conversations of a saved document (a session), titles prefixed with `prefix`.
    void importJson(const QJsonObject& doc, const QString& prefix);

    static QString defaultTitle();

signals:
    void currentChanged(int row);
    void saveFailed(const QString& error);

private:
    int add(quint64 id, const QString& title, ConversationModel* model);
    void scheduleSave();
    void autoTitle(ConversationModel* model);

    QString mFile;
    QList<Conversation> mItems;
    GenerationSettings mNewSettings;
    quint64 mNextId = 1;
    int mCurrent = -1;
    bool mDirty = false;
    QTimer mSaveTimer;
};
