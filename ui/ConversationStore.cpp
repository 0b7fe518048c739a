// ConversationStore: the persisted list of conversations (see ConversationStore.h).
#include "ConversationStore.h"

#include "ConversationModel.h"
#include "EngineJson.h"
#include "JsonFile.h"

#include <QJsonArray>

ConversationStore::ConversationStore(QObject* parent, const QString& file)
    : QAbstractListModel(parent),
      mFile(file.isEmpty() ? JsonFile::path(QStringLiteral("conversations.json")) : file) {
    mSaveTimer.setSingleShot(true);
    mSaveTimer.setInterval(300);
    connect(&mSaveTimer, &QTimer::timeout, this, [this] {
        const QString err = saveNow();
        if (!err.isEmpty()) emit saveFailed(err);
    });
}

ConversationStore::~ConversationStore() {
    if (mDirty) saveNow();
}

QString ConversationStore::defaultTitle() { return tr("New chat"); }

QString ConversationStore::load() {
    QJsonObject doc;
    QString error;
    JsonFile::read(mFile, &doc, &error);
    beginResetModel();
    for (const Conversation& c : std::as_const(mItems)) c.model->deleteLater();
    mItems.clear();
    endResetModel();
    importJson(doc, QString());
    mNextId = qMax<quint64>(mNextId, quint64(doc.value(QLatin1String("next_id")).toDouble(1)));
    if (mItems.isEmpty()) create();
    const int cur = rowOf(quint64(doc.value(QLatin1String("current")).toDouble()));
    setCurrent(cur >= 0 ? cur : count() - 1);
    mDirty = false;
    mSaveTimer.stop();
    return error;
}

QString ConversationStore::saveNow() {
    mSaveTimer.stop();
    QString error;
    if (!JsonFile::write(mFile, toJson(), &error)) return error;
    mDirty = false;
    return {};
}

int ConversationStore::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : count(); }

QVariant ConversationStore::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= count()) return {};
    const Conversation& c = mItems.at(index.row());
    if (role == Qt::DisplayRole || role == Qt::EditRole) return c.title;
    if (role == Qt::ToolTipRole) return tr("%1 (%2 messages)").arg(c.title).arg(c.model->count());
    return {};
}

int ConversationStore::rowOf(quint64 id) const {
    for (int i = 0; i < count(); ++i)
        if (mItems[i].id == id) return i;
    return -1;
}

int ConversationStore::add(quint64 id, const QString& title, ConversationModel* model) {
    model->setParent(this);
    const int row = count();
    beginInsertRows(QModelIndex(), row, row);
    mItems.append({id, title.isEmpty() ? defaultTitle() : title, model});
    endInsertRows();
    mNextId = qMax(mNextId, id + 1);
    auto changed = [this] { scheduleSave(); };
    connect(model, &QAbstractItemModel::rowsInserted, this, [this, model] {
        autoTitle(model);
        scheduleSave();
    });
    connect(model, &QAbstractItemModel::rowsRemoved, this, changed);
    connect(model, &QAbstractItemModel::dataChanged, this, changed);
    connect(model, &QAbstractItemModel::modelReset, this, changed);
    connect(model, &ConversationModel::settingsChanged, this, changed);
    scheduleSave();
    return row;
}

int ConversationStore::create(const QString& title) {
    auto* model = new ConversationModel(this);
    model->setSettings(mNewSettings);
    return add(mNextId++, title, model);
}

void ConversationStore::rename(int row, const QString& title) {
    if (row < 0 || row >= count() || title.trimmed().isEmpty()) return;
    mItems[row].title = title.trimmed();
    emit dataChanged(index(row), index(row));
    scheduleSave();
}

void ConversationStore::remove(int row) {
    if (row < 0 || row >= count()) return;
    beginRemoveRows(QModelIndex(), row, row);
    ConversationModel* m = mItems.takeAt(row).model;
    endRemoveRows();
    m->disconnect(this);
    m->deleteLater();
    if (mItems.isEmpty()) create();
    if (mCurrent >= count() || mCurrent == row) {
        mCurrent = -1;
        setCurrent(qMin(row, count() - 1));
    } else if (mCurrent > row) {
        --mCurrent;
    }
    scheduleSave();
}

void ConversationStore::setCurrent(int row) {
    if (row < 0 || row >= count() || row == mCurrent) return;
    mCurrent = row;
    scheduleSave();
    emit currentChanged(row);
}

QJsonObject ConversationStore::toJson() const {
    QJsonArray list;
    for (const Conversation& c : mItems)
        list.append(QJsonObject{{"id", double(c.id)},
                                {"title", c.title},
                                {"settings", EngineJson::toJson(c.model->settings())},
                                {"messages", c.model->toJson()}});
    return {{"version", 1},
            {"next_id", double(mNextId)},
            {"current", mCurrent >= 0 ? double(mItems[mCurrent].id) : 0.0},
            {"conversations", list}};
}

void ConversationStore::importJson(const QJsonObject& doc, const QString& prefix) {
    for (const QJsonValue& v : doc.value(QLatin1String("conversations")).toArray()) {
        const QJsonObject o = v.toObject();
        quint64 id = quint64(o.value(QLatin1String("id")).toDouble());
        if (id == 0 || rowOf(id) >= 0 || !prefix.isEmpty()) id = mNextId++;
        auto* model = new ConversationModel(this);
        model->loadJson(o.value(QLatin1String("messages")).toArray());
        // A missing "settings" (a file from before they were saved) or missing keys read as
        // newSettings(): the person's last-used settings, not the built-in ones.
        model->setSettings(EngineJson::generationFromJson(o.value(QLatin1String("settings")).toObject(), mNewSettings));
        add(id, prefix + o.value(QLatin1String("title")).toString(), model);
    }
}

void ConversationStore::scheduleSave() {
    mDirty = true;
    if (!mSaveTimer.isActive()) mSaveTimer.start();
}

void ConversationStore::autoTitle(ConversationModel* model) {
    for (int i = 0; i < count(); ++i) {
        if (mItems[i].model != model || mItems[i].title != defaultTitle()) continue;
        for (int r = 0; r < model->count(); ++r) {
            if (model->message(r).sender != ConversationModel::Sender::User) continue;
            QString t = model->message(r).text.simplified();
            if (t.size() > 40) t = t.left(39) + QChar(0x2026);
            rename(i, t);
            return;
        }
    }
}
