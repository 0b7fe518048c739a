// SamplingPanel: system prompt + the SamplingKnobs spin boxes (see SamplingPanel.h).
#include "SamplingPanel.h"

#include "SamplingKnobs.h"

#include <QCoreApplication>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

SamplingPanel::SamplingPanel(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("samplingPanel"));
    auto* title = new QLabel(tr("<b>Reply settings</b>"), this);
    mSystem = new QPlainTextEdit(this);
    mSystem->setObjectName(QStringLiteral("systemPromptEdit"));
    mSystem->setPlaceholderText(tr("System prompt (optional): sent before the conversation"));
    mSystem->setTabChangesFocus(true);
    mSystem->setFixedHeight(mSystem->fontMetrics().lineSpacing() * 4 + 14);
    connect(mSystem, &QPlainTextEdit::textChanged, this, &SamplingPanel::edited);

    auto* form = new QFormLayout;
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    for (const SamplingKnob& k : samplingKnobs()) {
        QAbstractSpinBox* box;
        const QString help = QCoreApplication::translate("SamplingKnobs", k.help);
        if (k.decimals == 0) {
            auto* s = new QSpinBox(this);
            s->setRange(int(k.min), int(k.max));
            s->setSingleStep(int(k.step));
            connect(s, &QSpinBox::valueChanged, this, &SamplingPanel::edited);
            box = s;
        } else {
            auto* s = new QDoubleSpinBox(this);
            s->setDecimals(k.decimals);
            s->setRange(k.min, k.max);
            s->setSingleStep(k.step);
            connect(s, &QDoubleSpinBox::valueChanged, this, &SamplingPanel::edited);
            box = s;
        }
        box->setObjectName(QLatin1String(k.key) + QStringLiteral("Spin"));
        box->setToolTip(help);
        box->setKeyboardTracking(false);   // one edit per typed number, not per digit
        form->addRow(QCoreApplication::translate("SamplingKnobs", k.label), box);
        mSpins.append(box);
    }
    auto* defaults = new QPushButton(tr("Defaults"), this);
    defaults->setObjectName(QStringLiteral("samplingDefaultsButton"));
    defaults->setToolTip(tr("Back to the built-in reply settings (the system prompt is kept)"));
    connect(defaults, &QPushButton::clicked, this, [this] {
        GenerationSettings d;
        d.systemPrompt = mSystem->toPlainText();
        d.priority = mBase.priority;
        setSettings(d);
        edited();
    });

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(8, 8, 8, 8);
    layout->addWidget(title);
    layout->addWidget(mSystem);
    layout->addLayout(form);
    layout->addWidget(defaults, 0, Qt::AlignLeft);
    layout->addStretch(1);
    setSettings(GenerationSettings());
}

void SamplingPanel::setSettings(const GenerationSettings& g) {
    mSetting = true;   // programmatic: no settingsEdited
    mBase = g;
    if (mSystem->toPlainText() != g.systemPrompt) mSystem->setPlainText(g.systemPrompt);
    const QList<SamplingKnob>& knobs = samplingKnobs();
    for (int i = 0; i < knobs.size(); ++i) {
        if (auto* s = qobject_cast<QSpinBox*>(mSpins[i])) s->setValue(int(knobs[i].get(g)));
        else if (auto* d = qobject_cast<QDoubleSpinBox*>(mSpins[i])) d->setValue(knobs[i].get(g));
    }
    mSetting = false;
}

GenerationSettings SamplingPanel::settings(const GenerationSettings& base) const {
    GenerationSettings g = base;
    g.systemPrompt = mSystem->toPlainText();
    const QList<SamplingKnob>& knobs = samplingKnobs();
    for (int i = 0; i < knobs.size(); ++i) {
        if (auto* s = qobject_cast<QSpinBox*>(mSpins[i])) knobs[i].set(g, s->value());
        else if (auto* d = qobject_cast<QDoubleSpinBox*>(mSpins[i])) knobs[i].set(g, d->value());
    }
    return g;
}

QAbstractSpinBox* SamplingPanel::control(const QString& key) const {
    return findChild<QAbstractSpinBox*>(key + QStringLiteral("Spin"));
}

void SamplingPanel::edited() {
    if (mSetting) return;
    mBase = settings(mBase);
    emit settingsEdited(mBase);
}
