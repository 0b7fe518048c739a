// ConversationListPanel: conversation list + New / Rename / Delete (see ConversationListPanel.h).
#include "ConversationListPanel.h"

#include "ConversationModel.h"
#include "ConversationStore.h"

#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QListView>
#include <QMessageBox>
#include <QStyle>
#include <QToolButton>
#include <QVBoxLayout>

ConversationListPanel::ConversationListPanel(ConversationStore* store, QWidget* parent)
    : QWidget(parent), mStore(store) {
    setObjectName(QStringLiteral("conversationList"));
    auto* title = new QLabel(tr("Conversations"), this);
    QFont f = title->font();
    f.setBold(true);
    title->setFont(f);

    auto* add = new QToolButton(this);
    add->setObjectName(QStringLiteral("newConversationButton"));
    add->setText(tr("New"));
    add->setToolTip(tr("New conversation (Ctrl+N)"));
    add->setAutoRaise(true);
    auto* rename = new QToolButton(this);
    rename->setText(tr("Rename"));
    rename->setAutoRaise(true);
    auto* del = new QToolButton(this);
    del->setObjectName(QStringLiteral("deleteConversationButton"));
    del->setText(tr("Delete"));
    del->setAutoRaise(true);

    mList = new QListView(this);
    mList->setObjectName(QStringLiteral("conversationView"));
    mList->setModel(mStore);
    mList->setEditTriggers(QAbstractItemView::NoEditTriggers);
    mList->setUniformItemSizes(true);
    mList->setFrameShape(QFrame::NoFrame);
    mList->setTextElideMode(Qt::ElideRight);
    mList->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);

    auto* head = new QHBoxLayout;
    head->setContentsMargins(8, 6, 4, 2);
    head->addWidget(title, 1);
    head->addWidget(add);
    auto* foot = new QHBoxLayout;
    foot->setContentsMargins(4, 2, 4, 4);
    foot->addStretch();
    foot->addWidget(rename);
    foot->addWidget(del);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addLayout(head);
    layout->addWidget(mList, 1);
    layout->addLayout(foot);

    connect(add, &QToolButton::clicked, this, &ConversationListPanel::newRequested);
    connect(rename, &QToolButton::clicked, this, &ConversationListPanel::renameCurrent);
    connect(del, &QToolButton::clicked, this, &ConversationListPanel::deleteCurrent);
    connect(mList->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this](const QModelIndex& i) { if (i.isValid()) mStore->setCurrent(i.row()); });
    connect(mList, &QListView::doubleClicked, this, &ConversationListPanel::renameCurrent);
    connect(mStore, &ConversationStore::currentChanged, this, &ConversationListPanel::syncCurrent);
    connect(mStore, &QAbstractItemModel::rowsInserted, this, &ConversationListPanel::syncCurrent);
    connect(mStore, &QAbstractItemModel::rowsRemoved, this, &ConversationListPanel::syncCurrent);
    connect(mStore, &QAbstractItemModel::modelReset, this, &ConversationListPanel::syncCurrent);
    syncCurrent();
}

void ConversationListPanel::syncCurrent() {
    const int cur = mStore->current();
    if (cur >= 0 && mList->currentIndex().row() != cur) mList->setCurrentIndex(mStore->index(cur));
}

void ConversationListPanel::renameCurrent() {
    const int row = mStore->current();
    if (row < 0) return;
    bool ok = false;
    const QString title = QInputDialog::getText(this, tr("Rename Conversation"), tr("Title:"),
                                                QLineEdit::Normal, mStore->at(row).title, &ok);
    if (ok) mStore->rename(row, title);
}

void ConversationListPanel::deleteCurrent() {
    const int row = mStore->current();
    if (row < 0) return;
    if (mStore->at(row).model->count() > 0 &&
        QMessageBox::question(this, tr("Delete Conversation"),
                              tr("Delete “%1” and its messages?").arg(mStore->at(row).title)) != QMessageBox::Yes)
        return;
    emit deleteRequested(row);
}
