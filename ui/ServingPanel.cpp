// ServingPanel: serving knobs, refusals, pool restart and presets (see ServingPanel.h).
#include "ServingPanel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

namespace {
QSpinBox* spin(QWidget* parent, const char* name, int lo, int hi, const QString& tip) {
    auto* s = new QSpinBox(parent);
    s->setObjectName(QLatin1String(name));
    s->setRange(lo, hi);
    s->setKeyboardTracking(false);   // apply on Enter / focus out, not per keystroke
    s->setToolTip(tip);
    return s;
}
QColor errorColor(const QPalette& pal) {
    const QColor t = pal.color(QPalette::WindowText);
    return QColor::fromRgbF(float(0.25 * t.redF() + 0.75 * 0.86), float(0.25 * t.greenF() + 0.75 * 0.2),
                            float(0.25 * t.blueF() + 0.75 * 0.18));
}
} // namespace

ServingPanel::ServingPanel(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("servingPanel"));
    mMaxSeqs = spin(this, "max_num_seqs", 0, 8192, tr("Most sequences in one step (the batch-size limit)"));
    mMaxTokens = spin(this, "max_num_batched_tokens", 0, 262144, tr("Token budget of one step (prefill + decode)"));
    mChunked = new QCheckBox(tr("Chunked prefill"), this);
    mChunked->setObjectName(QStringLiteral("chunked_prefill"));
    mChunked->setToolTip(tr("Split long prompts across steps so decodes keep running"));
    mKvBlocks = spin(this, "kv_blocks", 0, 1 << 22, tr("KV pool size in blocks; 0 sizes it from memory"));
    mKvBlocks->setSpecialValueText(tr("auto"));
    mBlockSize = new QComboBox(this);
    mBlockSize->setObjectName(QStringLiteral("block_size"));
    for (int b = 8; b <= 256; b *= 2) mBlockSize->addItem(QString::number(b), b);
    mBlockSize->setToolTip(tr("Tokens per KV block"));
    mPrefix = new QCheckBox(tr("Prefix caching"), this);
    mPrefix->setObjectName(QStringLiteral("prefix_caching"));
    mPrefix->setToolTip(tr("Reuse KV blocks of identical prompt prefixes (conversations, shared system prompts)"));
    mPolicy = new QComboBox(this);
    mPolicy->setObjectName(QStringLiteral("policy"));
    mPolicy->addItem(tr("fcfs"), QStringLiteral("fcfs"));
    mPolicy->addItem(tr("priority"), QStringLiteral("priority"));
    mPolicy->setToolTip(tr("priority: your chat (10) runs ahead of virtual users (0)"));
    mPreemption = new QComboBox(this);
    mPreemption->setObjectName(QStringLiteral("preemption"));
    mPreemption->addItem(tr("recompute"));
    mPreemption->setEnabled(false);
    mPreemption->setToolTip(tr("Preempted sequences drop their blocks and recompute later (the only mode for now)"));
    mMaxWaiting = spin(this, "max_waiting", -1, 1 << 20, tr("Admission control: longest queue before new requests are rejected"));
    mMaxQueueMs = new QDoubleSpinBox(this);
    mMaxQueueMs->setObjectName(QStringLiteral("max_queue_ms"));
    mMaxQueueMs->setRange(-1, 3.6e6);
    mMaxQueueMs->setDecimals(0);
    mMaxQueueMs->setSuffix(QStringLiteral(" ms"));
    mMaxQueueMs->setSpecialValueText(tr("off"));
    mMaxQueueMs->setMinimum(0);
    mMaxQueueMs->setKeyboardTracking(false);
    mMaxQueueMs->setToolTip(tr("Admission control: reject a request that waited longer than this (0 = off)"));

    auto field = [this](QWidget* w, const QString& name) {
        auto* box = new QWidget(this);
        auto* v = new QVBoxLayout(box);
        v->setContentsMargins(0, 0, 0, 0);
        v->setSpacing(1);
        v->addWidget(w);
        v->addWidget(addReason(name));
        return box;
    };

    auto* batch = new QGroupBox(tr("Batching"), this);
    auto* bf = new QFormLayout(batch);
    bf->addRow(tr("max_num_seqs"), field(mMaxSeqs, QStringLiteral("max_num_seqs")));
    bf->addRow(tr("max_num_batched_tokens"), field(mMaxTokens, QStringLiteral("max_num_batched_tokens")));
    bf->addRow(QString(), mChunked);
    bf->addRow(tr("policy"), mPolicy);
    bf->addRow(tr("preemption"), mPreemption);

    auto* pool = new QGroupBox(tr("KV pool"), this);
    auto* pf = new QFormLayout(pool);
    pf->addRow(tr("kv_blocks"), field(mKvBlocks, QStringLiteral("kv_blocks")));
    pf->addRow(tr("block_size"), field(mBlockSize, QStringLiteral("block_size")));
    pf->addRow(QString(), mPrefix);
    mRestartNote = new QLabel(tr("Pool shape changed: needs a pool restart."), this);
    mRestartNote->setObjectName(QStringLiteral("restartNote"));
    mRestartNote->setWordWrap(true);
    mRestart = new QPushButton(tr("Restart pool…"), this);
    mRestart->setObjectName(QStringLiteral("restartButton"));
    mDiscard = new QPushButton(tr("Discard"), this);
    auto* rr = new QHBoxLayout;
    rr->addWidget(mRestart);
    rr->addWidget(mDiscard);
    rr->addStretch();
    pf->addRow(mRestartNote);
    pf->addRow(rr);

    auto* adm = new QGroupBox(tr("Admission control"), this);
    auto* af = new QFormLayout(adm);
    af->addRow(tr("max_waiting"), field(mMaxWaiting, QStringLiteral("max_waiting")));
    af->addRow(tr("max_queue_ms"), field(mMaxQueueMs, QStringLiteral("max_queue_ms")));

    mPresets = new QComboBox(this);
    mPresets->setObjectName(QStringLiteral("presets"));
    mPresets->setPlaceholderText(tr("Presets"));
    mPresets->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    mPresets->setMinimumContentsLength(5);
    auto* load = new QPushButton(tr("Load"), this);
    auto* save = new QPushButton(tr("Save…"), this);
    auto* del = new QPushButton(tr("Delete"), this);
    auto* pr = new QHBoxLayout;
    pr->addWidget(mPresets, 1);
    pr->addWidget(load);
    pr->addWidget(save);
    pr->addWidget(del);

    mStatus = new QLabel(this);
    mStatus->setObjectName(QStringLiteral("servingStatus"));
    mStatus->setWordWrap(true);
    mStatus->setForegroundRole(QPalette::PlaceholderText);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(8, 8, 8, 8);
    layout->addLayout(pr);
    layout->addWidget(batch);
    layout->addWidget(pool);
    layout->addWidget(adm);
    layout->addWidget(mStatus);
    layout->addStretch(1);

    for (QSpinBox* s : {mMaxSeqs, mMaxTokens, mKvBlocks, mMaxWaiting})
        connect(s, &QSpinBox::valueChanged, this, &ServingPanel::emitChange);
    connect(mMaxQueueMs, &QDoubleSpinBox::valueChanged, this, &ServingPanel::emitChange);
    for (QCheckBox* c : {mChunked, mPrefix}) connect(c, &QCheckBox::toggled, this, &ServingPanel::emitChange);
    for (QComboBox* c : {mBlockSize, mPolicy})
        connect(c, &QComboBox::currentIndexChanged, this, &ServingPanel::emitChange);
    connect(mRestart, &QPushButton::clicked, this, [this] {
        if (QMessageBox::question(this, tr("Restart the KV pool"),
                                  tr("Changing the block size or the pool size reloads the model with the new pool. "
                                     "Requests in flight are cancelled and cached prefixes are lost.\n\nRestart now?"))
            == QMessageBox::Yes)
            emit restartConfirmed();
    });
    connect(mDiscard, &QPushButton::clicked, this, &ServingPanel::restartDiscarded);
    connect(load, &QPushButton::clicked, this, [this] {
        if (!mPresets->currentText().isEmpty()) emit presetLoadRequested(mPresets->currentText());
    });
    connect(save, &QPushButton::clicked, this, [this] {
        bool ok = false;
        const QString name = QInputDialog::getText(this, tr("Save Preset"), tr("Preset name:"), QLineEdit::Normal,
                                                   mPresets->currentText(), &ok);
        if (ok && !name.trimmed().isEmpty()) emit presetSaveRequested(name.trimmed());
    });
    connect(del, &QPushButton::clicked, this, [this] {
        if (!mPresets->currentText().isEmpty()) emit presetDeleteRequested(mPresets->currentText());
    });
    setRestartPending(false);
    setConfig(rl::serving_config{}, 0);
}

QLabel* ServingPanel::addReason(const QString& field) {
    auto* l = new QLabel(this);
    l->setObjectName(QStringLiteral("reason_") + field);
    l->setWordWrap(true);
    QPalette pal = l->palette();
    pal.setColor(QPalette::WindowText, errorColor(palette()));
    l->setPalette(pal);
    l->hide();
    mReasons.insert(field, l);
    return l;
}

rl::serving_config ServingPanel::controlsConfig() const {
    rl::serving_config c;
    c.max_num_seqs = mMaxSeqs->value();
    c.max_num_batched_tokens = mMaxTokens->value();
    c.chunked_prefill = mChunked->isChecked();
    c.kv_blocks = mKvBlocks->value();
    c.block_size = mBlockSize->currentData().toInt();
    c.prefix_caching = mPrefix->isChecked();
    rl::parse_policy(mPolicy->currentData().toString().toStdString(), c.policy);
    c.max_waiting = mMaxWaiting->value();
    c.max_queue_ms = mMaxQueueMs->value();
    return c;
}

void ServingPanel::emitChange() {
    if (!mUpdating) emit changeRequested(controlsConfig());
}

void ServingPanel::setConfig(const rl::serving_config& c, int resolvedKvBlocks) {
    mUpdating = true;
    mMaxSeqs->setValue(c.max_num_seqs);
    mMaxTokens->setValue(c.max_num_batched_tokens);
    mChunked->setChecked(c.chunked_prefill);
    mKvBlocks->setValue(c.kv_blocks);
    mKvBlocks->setSpecialValueText(resolvedKvBlocks > 0 ? tr("auto (%1)").arg(resolvedKvBlocks) : tr("auto"));
    mBlockSize->setCurrentIndex(mBlockSize->findData(c.block_size));
    mPrefix->setChecked(c.prefix_caching);
    mPolicy->setCurrentIndex(mPolicy->findData(QString::fromLatin1(rl::to_string(c.policy))));
    mMaxWaiting->setValue(c.max_waiting);
    mMaxQueueMs->setValue(c.max_queue_ms);
    mUpdating = false;
    for (QLabel* l : std::as_const(mReasons)) l->hide();
    mStatus->setText(tr("Changes apply at the next step boundary."));
}

void ServingPanel::showRefusal(const QString& field, const QString& reason) {
    for (QLabel* l : std::as_const(mReasons)) l->hide();
    QLabel* l = mReasons.value(field);
    if (l) {
        l->setText(reason);
        l->show();
    }
    mStatus->setText(tr("Refused: %1. The previous settings stay in force.").arg(reason));
}

void ServingPanel::setRestartPending(bool pending) {
    mRestartNote->setVisible(pending);
    mRestart->setVisible(pending);
    mDiscard->setVisible(pending);
}

void ServingPanel::setPresetNames(const QStringList& names) {
    const QString cur = mPresets->currentText();
    mPresets->clear();
    mPresets->addItems(names);
    mPresets->setCurrentIndex(mPresets->findText(cur));
}
