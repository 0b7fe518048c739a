// ServingPanel: the serving knobs built from the knob table, refusals, pool restart and presets
// (see ServingPanel.h).
#include "ServingPanel.h"

#include "KnobControls.h"

#include <QComboBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QVBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QVBoxLayout>

namespace {
QColor errorColor(const QPalette& pal) {
    const QColor t = pal.color(QPalette::WindowText);
    return QColor::fromRgbF(float(0.25 * t.redF() + 0.75 * 0.86), float(0.25 * t.greenF() + 0.75 * 0.2),
                            float(0.25 * t.blueF() + 0.75 * 0.18));
}
QString words(std::string_view s) { return QString::fromUtf8(s.data(), qsizetype(s.size())); }
} // namespace

ServingPanel::ServingPanel(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("servingPanel"));
    mStatus = new QLabel(this);
    mStatus->setObjectName(QStringLiteral("servingStatus"));
    mStatus->setWordWrap(true);
    mStatus->setForegroundRole(QPalette::PlaceholderText);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(8, 8, 8, 8);
    layout->addLayout(buildPresetRow());
    layout->addWidget(buildKnobs());
    layout->addWidget(mStatus);
    layout->addStretch(1);
    setRestartPending(false);
    setConfig(rl::serving_config{}, rl::serving_config{});
}

QWidget* ServingPanel::buildKnobs() {
    auto* knobs = new QWidget(this);
    auto* column = new QVBoxLayout(knobs);
    column->setContentsMargins(0, 0, 0, 0);
    QFormLayout* form = nullptr;
    QFormLayout* poolForm = nullptr;
    std::string_view group;
    for (const rl::knob_info& k : rl::serving_knobs()) {
        if (!form || k.group != group) {   // the table keeps each group's rows together
            group = k.group;
            auto* box = new QGroupBox(words(group), knobs);
            column->addWidget(box);
            form = new QFormLayout(box);
        }
        if (k.restarts_pool) poolForm = form;
        const rl::knob_info* row = &k;
        QWidget* control = KnobControls::create(
            k, this, [this] { emit changeRequested(controlsConfig()); },
            // A typed number outside the range goes to the controller like any value, so the one
            // validator refuses it and names this knob.
            [this, row](double v) {
                rl::serving_config c = controlsConfig();
                row->set(c, v);
                emit changeRequested(c);
            });
        auto* field = new QWidget(this);
        auto* v = new QVBoxLayout(field);
        v->setContentsMargins(0, 0, 0, 0);
        v->setSpacing(1);
        v->addWidget(control);
        QLabel* reason = makeReason(k);
        v->addWidget(reason);
        // A check box says its own name; the other controls are labelled with the knob's name,
        // as the settings file and the command-line options spell it.
        form->addRow(k.type == rl::knob_type::boolean ? QString() : words(k.name), field);
        mKnobs.push_back({row, control, reason});
    }
    if (poolForm) poolForm->addRow(buildRestartRow());
    return knobs;
}

QLabel* ServingPanel::makeReason(const rl::knob_info& k) {
    auto* l = new QLabel(this);
    l->setObjectName(QStringLiteral("reason_") + words(k.name));
    l->setWordWrap(true);
    QPalette pal = l->palette();
    pal.setColor(QPalette::WindowText, errorColor(palette()));
    l->setPalette(pal);
    l->hide();
    return l;
}

QWidget* ServingPanel::buildRestartRow() {
    auto* row = new QWidget(this);
    auto* v = new QVBoxLayout(row);
    v->setContentsMargins(0, 0, 0, 0);
    mRestartNote = new QLabel(tr("Pool shape changed: needs a pool restart."), row);
    mRestartNote->setObjectName(QStringLiteral("restartNote"));
    mRestartNote->setWordWrap(true);
    mRestart = new QPushButton(tr("Restart pool…"), row);
    mRestart->setObjectName(QStringLiteral("restartButton"));
    mDiscard = new QPushButton(tr("Discard"), row);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(mRestart);
    buttons->addWidget(mDiscard);
    buttons->addStretch();
    v->addWidget(mRestartNote);
    v->addLayout(buttons);
    connect(mRestart, &QPushButton::clicked, this, [this] {
        if (QMessageBox::question(this, tr("Restart the KV pool"),
                                  tr("Changing the pool shape (block size, pool size, memory share) reloads the "
                                     "model with the new pool. Requests in flight are cancelled and cached prefixes "
                                     "are lost.\n\nRestart now?"))
            == QMessageBox::Yes)
            emit restartConfirmed();
    });
    connect(mDiscard, &QPushButton::clicked, this, &ServingPanel::restartDiscarded);
    return row;
}

QLayout* ServingPanel::buildPresetRow() {
    mPresets = new QComboBox(this);
    mPresets->setObjectName(QStringLiteral("presets"));
    mPresets->setPlaceholderText(tr("Presets"));
    mPresets->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    mPresets->setMinimumContentsLength(5);
    auto* load = new QPushButton(tr("Load"), this);
    auto* save = new QPushButton(tr("Save…"), this);
    auto* del = new QPushButton(tr("Delete"), this);
    auto* row = new QHBoxLayout;
    row->addWidget(mPresets, 1);
    row->addWidget(load);
    row->addWidget(save);
    row->addWidget(del);
    connect(load, &QPushButton::clicked, this, [this] {
        // A story carries its name as item data; a saved preset none.
        const QString story = mPresets->currentData().toString();
        if (!story.isEmpty()) emit storyRequested(story);
        else if (!mPresets->currentText().isEmpty()) emit presetLoadRequested(mPresets->currentText());
    });
    connect(save, &QPushButton::clicked, this, [this] {
        bool ok = false;
        const QString name = QInputDialog::getText(this, tr("Save Preset"), tr("Preset name:"), QLineEdit::Normal,
                                                   mPresets->currentText(), &ok);
        if (ok && !name.trimmed().isEmpty()) emit presetSaveRequested(name.trimmed());
    });
    connect(del, &QPushButton::clicked, this, [this] {
        if (mPresets->currentData().toString().isEmpty() && !mPresets->currentText().isEmpty())
            emit presetDeleteRequested(mPresets->currentText());
    });
    auto* v = new QVBoxLayout;
    v->addLayout(row);
    mStoryCaption = new QLabel(this);
    mStoryCaption->setObjectName(QStringLiteral("storyCaption"));
    mStoryCaption->setWordWrap(true);
    mStoryCaption->hide();
    mStoryProgress = new QLabel(this);
    mStoryProgress->setObjectName(QStringLiteral("storyProgress"));
    mStoryProgress->setWordWrap(true);
    mStoryProgress->hide();
    v->addWidget(mStoryCaption);
    v->addWidget(mStoryProgress);
    return v;
}

const ServingPanel::Knob* ServingPanel::find(const QString& name) const {
    for (const Knob& k : mKnobs)
        if (words(k.info->name) == name) return &k;
    return nullptr;
}

QLabel* ServingPanel::reasonLabel(const QString& field) const {
    const Knob* k = find(field);
    return k ? k->reason : nullptr;
}

QWidget* ServingPanel::control(const QString& knob) const {
    const Knob* k = find(knob);
    return k ? k->control : nullptr;
}

rl::serving_config ServingPanel::controlsConfig() const {
    rl::serving_config c;
    for (const Knob& k : mKnobs) k.info->set(c, KnobControls::value(*k.info, k.control));
    return c;
}

void ServingPanel::setConfig(const rl::serving_config& cfg, const rl::serving_config& resolved) {
    for (const Knob& k : mKnobs) {
        QString special;
        if (rl::knob_is_zero_special(*k.info, cfg) && !rl::knob_is_zero_special(*k.info, resolved))
            special = QStringLiteral("%1 (%2)").arg(words(k.info->zero_means),
                                                    QString::fromStdString(rl::knob_text(*k.info, resolved)));
        KnobControls::setValue(*k.info, k.control, k.info->get(cfg), special);
        k.reason->hide();
    }
    mStatus->setText(tr("Changes apply at the next step boundary."));
}

void ServingPanel::showRefusal(const QString& field, const QString& reason) {
    for (const Knob& k : mKnobs) k.reason->hide();
    if (QLabel* l = reasonLabel(field)) {
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
    mSaved = names;
    fillPresets();
}

void ServingPanel::setStories(const QList<QPair<QString, QString>>& stories) {
    mStories = stories;
    fillPresets();
}

void ServingPanel::fillPresets() {
    const QString cur = mPresets->currentText();
    mPresets->clear();
    for (const auto& [title, name] : mStories) mPresets->addItem(title, name);
    if (!mStories.isEmpty() && !mSaved.isEmpty()) mPresets->insertSeparator(mPresets->count());
    mPresets->addItems(mSaved);
    mPresets->setCurrentIndex(mPresets->findText(cur));
}

void ServingPanel::showStory(const QString& title, const QString& caption) {
    mStoryCaption->setText(QStringLiteral("<b>%1.</b> %2").arg(title.toHtmlEscaped(), caption.toHtmlEscaped()));
    mStoryCaption->setVisible(!caption.isEmpty());
    mStoryProgress->clear();
    mStoryProgress->setVisible(!caption.isEmpty());
}

void ServingPanel::showStoryProgress(const QString& text) { mStoryProgress->setText(text); }
