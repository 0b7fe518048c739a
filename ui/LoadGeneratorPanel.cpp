// LoadGeneratorPanel: scenario fields, Start/Pause/Stop and counters (see LoadGeneratorPanel.h).
#include "LoadGeneratorPanel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

namespace {
QLabel* bigNumber(QWidget* parent, const char* name) {
    auto* l = new QLabel(QStringLiteral("0"), parent);
    l->setObjectName(QLatin1String(name));
    QFont f = l->font();
    f.setPointSizeF(f.pointSizeF() * 1.5);
    f.setBold(true);
    l->setFont(f);
    return l;
}
} // namespace

LoadGeneratorPanel::LoadGeneratorPanel(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("loadPanel"));
    mPreset = new QComboBox(this);
    mPreset->setObjectName(QStringLiteral("scenario"));
    for (const char* n : {"chat", "summarize", "write", "idle-return", "ramp", "poisson"})
        mPreset->addItem(QLatin1String(n));
    mOpenLoop = new QCheckBox(tr("Open loop (Poisson arrivals)"), this);
    mUsers = new QSpinBox(this);
    mUsers->setObjectName(QStringLiteral("users"));
    mUsers->setRange(1, 1024);
    mRate = new QDoubleSpinBox(this);
    mRate->setObjectName(QStringLiteral("rate"));
    mRate->setRange(0.01, 1000);
    mRate->setSuffix(QStringLiteral(" req/s"));
    mThink = new QDoubleSpinBox(this);
    mThink->setObjectName(QStringLiteral("think"));
    mThink->setRange(0, 600);
    mThink->setSuffix(QStringLiteral(" s"));
    mPrompt = new QSpinBox(this);
    mPrompt->setObjectName(QStringLiteral("promptTokens"));
    mPrompt->setRange(1, 100000);
    mPrompt->setSuffix(tr(" tokens"));
    mOutput = new QSpinBox(this);
    mOutput->setObjectName(QStringLiteral("outputTokens"));
    mOutput->setRange(1, 100000);
    mOutput->setSuffix(tr(" tokens"));
    mTurns = new QSpinBox(this);
    mTurns->setRange(1, 1000);

    auto* form = new QFormLayout;
    form->addRow(tr("Scenario"), mPreset);
    form->addRow(QString(), mOpenLoop);
    form->addRow(tr("Users"), mUsers);
    form->addRow(tr("Rate"), mRate);
    form->addRow(tr("Think time"), mThink);
    form->addRow(tr("Prompt length"), mPrompt);
    form->addRow(tr("Output length"), mOutput);
    form->addRow(tr("Turns per user"), mTurns);

    mStart = new QPushButton(tr("Start"), this);
    mStart->setObjectName(QStringLiteral("loadStart"));
    mPause = new QPushButton(tr("Pause"), this);
    mPause->setObjectName(QStringLiteral("loadPause"));
    mStop = new QPushButton(tr("Stop"), this);
    mStop->setObjectName(QStringLiteral("loadStop"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(mStart);
    buttons->addWidget(mPause);
    buttons->addWidget(mStop);

    auto* counters = new QGroupBox(tr("Virtual users"), this);
    mFinished = bigNumber(this, "loadFinished");
    mRejected = bigNumber(this, "loadRejected");
    auto* grid = new QFormLayout(counters);
    grid->addRow(tr("finished"), mFinished);
    grid->addRow(tr("rejected"), mRejected);
    mDetail = new QLabel(tr("Stopped"), this);
    mDetail->setObjectName(QStringLiteral("loadDetail"));
    mDetail->setWordWrap(true);
    mDetail->setForegroundRole(QPalette::PlaceholderText);
    grid->addRow(mDetail);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(8, 8, 8, 8);
    layout->addLayout(buttons);
    layout->addWidget(counters);
    layout->addLayout(form);
    layout->addStretch(1);

    connect(mPreset, &QComboBox::currentIndexChanged, this, &LoadGeneratorPanel::presetChosen);
    auto edited = [this] {
        updateButtons();
        if (!mUpdating) emit scenarioEdited(scenario());
    };
    connect(mOpenLoop, &QCheckBox::toggled, this, edited);
    for (QSpinBox* s : {mUsers, mPrompt, mOutput, mTurns}) connect(s, &QSpinBox::valueChanged, this, edited);
    for (QDoubleSpinBox* s : {mRate, mThink}) connect(s, &QDoubleSpinBox::valueChanged, this, edited);
    connect(mStart, &QPushButton::clicked, this, [this] { emit startRequested(scenario()); });
    connect(mPause, &QPushButton::clicked, this, [this] { emit pauseRequested(!mPaused); });
    connect(mStop, &QPushButton::clicked, this, &LoadGeneratorPanel::stopRequested);
    setScenario(rl::scenario_preset("chat"));
}

rl::scenario LoadGeneratorPanel::scenario() const {
    rl::scenario s = mBase;
    s.name = mPreset->currentText().toStdString();
    s.open_loop = mOpenLoop->isChecked();
    s.users = mUsers->value();
    s.rate_per_s = mRate->value();
    s.think_mean_s = mThink->value();
    s.prompt_tokens = mPrompt->value();
    s.output_tokens = mOutput->value();
    s.turns = mTurns->value();
    return s;
}

void LoadGeneratorPanel::setScenario(const rl::scenario& s) {
    mUpdating = true;
    mBase = s;
    const int i = mPreset->findText(QString::fromStdString(s.name));
    if (i >= 0) mPreset->setCurrentIndex(i);
    mOpenLoop->setChecked(s.open_loop);
    mUsers->setValue(s.users);
    mRate->setValue(s.rate_per_s);
    mThink->setValue(s.think_mean_s);
    mPrompt->setValue(s.prompt_tokens);
    mOutput->setValue(s.output_tokens);
    mTurns->setValue(s.turns);
    mUpdating = false;
    updateButtons();
}

void LoadGeneratorPanel::presetChosen() {
    if (mUpdating) return;
    setScenario(rl::scenario_preset(mPreset->currentText().toStdString()));
    emit scenarioEdited(scenario());
}

void LoadGeneratorPanel::showCounters(const LoadCounters& c) {
    mRunning = c.running;
    mPaused = c.paused;
    mFinished->setText(QString::number(c.finished));
    mRejected->setText(QString::number(c.rejected));
    if (!c.running && c.submitted == 0) mDetail->setText(tr("Stopped"));
    else
        mDetail->setText(tr("%1 · %2 active users · %3 submitted · %4 errors · %5 tokens streamed")
                             .arg(c.running ? (c.paused ? tr("Paused") : tr("Running %1").arg(c.scenario))
                                            : tr("Stopped"))
                             .arg(c.activeUsers)
                             .arg(c.submitted)
                             .arg(c.errors)
                             .arg(c.streamedTokens));
    updateButtons();
}

void LoadGeneratorPanel::setEngineReady(bool ready) {
    mReady = ready;
    updateButtons();
}

void LoadGeneratorPanel::showError(const QString& message) { mDetail->setText(tr("Not started: %1").arg(message)); }

void LoadGeneratorPanel::updateButtons() {
    mStart->setEnabled(mReady && !mRunning);
    mPause->setEnabled(mRunning);
    mPause->setText(mPaused ? tr("Resume") : tr("Pause"));
    mStop->setEnabled(mRunning);
    mRate->setEnabled(mOpenLoop->isChecked());
    mUsers->setEnabled(!mOpenLoop->isChecked());
    mThink->setEnabled(!mOpenLoop->isChecked());
    for (QWidget* w : {static_cast<QWidget*>(mPreset), static_cast<QWidget*>(mOpenLoop)}) w->setEnabled(!mRunning);
}
