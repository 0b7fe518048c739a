// ServerPanel: see ServerPanel.h. Address edits apply on "Apply" (or Return), so a half-typed
// port never binds; the checkbox applies at once.
#include "ServerPanel.h"

#include "ServerController.h"

#include <QCheckBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QVBoxLayout>

ServerPanel::ServerPanel(ServerController* controller, QWidget* parent) : QWidget(parent), mController(controller) {
    mEnabled = new QCheckBox(tr("Serve the OpenAI-compatible API"), this);
    mEnabled->setObjectName(QStringLiteral("serverEnabled"));
    mEnabled->setToolTip(tr("/v1/chat/completions, /v1/completions, /v1/models, /health and /metrics on the "
                            "loaded model; API requests share the engine with the chat and the virtual users"));
    mHost = new QLineEdit(this);
    mHost->setObjectName(QStringLiteral("serverHost"));
    mHost->setToolTip(tr("127.0.0.1 serves this machine only; 0.0.0.0 every interface (set an API key)"));
    mPort = new QSpinBox(this);
    mPort->setObjectName(QStringLiteral("serverPort"));
    mPort->setRange(0, 65535);
    mPort->setSpecialValueText(tr("any free port"));
    mKey = new QLineEdit(this);
    mKey->setObjectName(QStringLiteral("serverApiKey"));
    mKey->setEchoMode(QLineEdit::PasswordEchoOnEdit);
    mKey->setPlaceholderText(tr("none"));
    mApply = new QPushButton(tr("Apply"), this);
    mApply->setObjectName(QStringLiteral("serverApply"));
    mStatus = new QLabel(this);
    mStatus->setObjectName(QStringLiteral("serverStatus"));
    mStatus->setWordWrap(true);
    mStatus->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* form = new QFormLayout;
    form->addRow(tr("Host"), mHost);
    form->addRow(tr("Port"), mPort);
    form->addRow(tr("API key"), mKey);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(mEnabled);
    layout->addLayout(form);
    layout->addWidget(mApply, 0, Qt::AlignRight);
    layout->addWidget(mStatus);
    layout->addStretch(1);

    const ApiServerSettings s = mController->settings();
    mHost->setText(s.host);
    mPort->setValue(s.port);
    mKey->setText(s.apiKey);

    connect(mEnabled, &QCheckBox::toggled, this, [this](bool on) {
        applyEdits();   // the address shown is the one the checkbox starts
        mController->setEnabled(on);
    });
    connect(mApply, &QPushButton::clicked, this, &ServerPanel::applyEdits);
    connect(mHost, &QLineEdit::returnPressed, this, &ServerPanel::applyEdits);
    connect(mKey, &QLineEdit::returnPressed, this, &ServerPanel::applyEdits);
    connect(mController, &ServerController::stateChanged, this, &ServerPanel::showState);
    showState();
}

void ServerPanel::applyEdits() {
    ApiServerSettings s = mController->settings();
    s.host = mHost->text().trimmed();
    s.port = mPort->value();
    s.apiKey = mKey->text();
    mController->setSettings(s);
}

void ServerPanel::showState() {
    const bool available = ServerController::isAvailable();
    for (QWidget* w : {static_cast<QWidget*>(mEnabled), static_cast<QWidget*>(mHost), static_cast<QWidget*>(mPort),
                       static_cast<QWidget*>(mKey), static_cast<QWidget*>(mApply)})
        w->setEnabled(available);
    {
        const QSignalBlocker block(mEnabled);
        mEnabled->setChecked(mController->settings().enabled);
    }
    mStatus->setText(mController->statusText());
    const bool bad = mController->state() == ServerController::State::Failed ||
                     mController->state() == ServerController::State::NotBuilt;
    mStatus->setStyleSheet(bad ? QStringLiteral("color: #c62828")
                               : QString());
}
