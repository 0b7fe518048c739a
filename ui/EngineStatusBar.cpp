// EngineStatusBar: model, backend, TTFT and tok/s along the bottom (see EngineStatusBar.h).
#include "EngineStatusBar.h"

#include <QFileInfo>
#include <QLabel>
#include <QPainter>

namespace {

/// A thin vertical rule between status fields, painted from the current palette.
class FieldRule : public QWidget {
public:
    explicit FieldRule(QWidget* parent) : QWidget(parent) { setFixedWidth(1); }

protected:
    void paintEvent(QPaintEvent*) override {
        QPainter p(this);
        QColor c = palette().color(QPalette::WindowText);
        c.setAlphaF(0.25f);
        const int h = fontMetrics().height();
        p.fillRect(QRect(0, (height() - h) / 2, 1, h), c);
    }
};

void setFieldVisible(QLabel* field, bool visible) {
    field->setVisible(visible);
    if (auto* rule = field->property("rule").value<QWidget*>()) rule->setVisible(visible);
}

} // namespace

EngineStatusBar::EngineStatusBar(QWidget* parent) : QStatusBar(parent) {
    setObjectName(QStringLiteral("statusBar"));
    setSizeGripEnabled(false);
    mState = new QLabel(this);
    mState->setObjectName(QStringLiteral("statusState"));
    mState->setContentsMargins(6, 0, 6, 0);
    addWidget(mState, 1);
    mModel = addField("statusModel", tr("Model"));
    mBackend = addField("statusBackend", tr("Backend"));
    mLiveTokS = addField("statusLiveTokS", tr("Engine decode throughput over the rate window (all requests)"));
    mBatch = addField("statusBatch", tr("num_requests_running: sequences in the latest step"));
    mKv = addField("statusKv", tr("kv_cache_usage_perc: KV blocks in use / pool"));
    mTtft = addField("statusTtft", tr("Time to first token of the last reply"));
    mSpeed = addField("statusSpeed", tr("Decode speed of the last reply (generated tokens after the first / time)"));
    mTtft->setText(tr("TTFT –"));
    mSpeed->setText(tr("– tok/s"));
    mModel->setText(tr("no model"));
    setFieldVisible(mBackend, false);
    clearLive();
}

void EngineStatusBar::showLive(double decodeTokS, int batch, double kvUsage) {
    mLive = {decodeTokS, batch, kvUsage};
    renderLive();
    for (QLabel* l : {mLiveTokS, mBatch, mKv}) setFieldVisible(l, true);
}

void EngineStatusBar::setRemoteActive(bool remote) {
    mRemote = remote;
    const QString note = tr("\n(this window's engine; the plots show the remote server)");
    for (QLabel* l : {mLiveTokS, mBatch, mKv})
        l->setToolTip(l->property("baseToolTip").toString() + (remote ? note : QString()));
    renderLive();
}

void EngineStatusBar::renderLive() {
    const QString local = mRemote ? tr("local ") : QString();
    mLiveTokS->setText(local + tr("engine %1").arg(Format::tokensPerSecond(mLive.decodeTokS)));
    mBatch->setText(local + tr("batch %1").arg(mLive.batch));
    mKv->setText(local + tr("KV %1%").arg(mLive.kvUsage * 100.0, 0, 'f', 1));
}

void EngineStatusBar::clearLive() {
    for (QLabel* l : {mLiveTokS, mBatch, mKv}) setFieldVisible(l, false);
}

QLabel* EngineStatusBar::addField(const char* objectName, const QString& toolTip) {
    auto* rule = new FieldRule(this);
    addPermanentWidget(rule);
    auto* l = new QLabel(this);
    l->setProperty("rule", QVariant::fromValue<QWidget*>(rule));
    l->setObjectName(QLatin1String(objectName));
    l->setToolTip(toolTip);
    l->setProperty("baseToolTip", toolTip);
    l->setContentsMargins(8, 0, 8, 0);
    addPermanentWidget(l);
    return l;
}

void EngineStatusBar::showLoading(const QString& path) {
    mState->setText(tr("Loading %1…").arg(QFileInfo(path).fileName()));
    mModel->setText(tr("no model"));
    setFieldVisible(mBackend, false);
}

void EngineStatusBar::showModel(const ModelSummary& m) {
    mState->setText(tr("Ready"));
    QString model = m.name;
    if (m.params > 0) model += QStringLiteral("  ·  ") + Format::paramCount(m.params);
    if (m.weightBytes > 0) model += QStringLiteral("  ·  ") + Format::bytes(m.weightBytes);
    mModel->setText(model);
    mModel->setToolTip(tr("%1\narch %2, template %3, context %4 tokens")
                           .arg(m.path, m.arch, m.chatTemplate)
                           .arg(m.contextLength));
    mBackend->setText(m.backend);
    setFieldVisible(mBackend, !m.backend.isEmpty());
}

void EngineStatusBar::showLoadError(const QString& message) {
    mState->setText(tr("Model not loaded: %1").arg(message));
    mModel->setText(tr("no model"));
    setFieldVisible(mBackend, false);
}

void EngineStatusBar::showGenerating(const QString& detail) {
    mState->setText(detail.isEmpty() ? tr("Generating…") : tr("Generating…  ·  %1").arg(detail));
}

void EngineStatusBar::showReply(const ReplyStats& s) {
    if (s.failed()) {
        mState->setText(tr("Reply failed: %1").arg(s.error.isEmpty() ? s.finishReason : s.error));
        return;
    }
    mState->setText(s.finishReason == QLatin1String("cancelled")
                        ? tr("Stopped after %1").arg(Format::tokens(s.generatedTokens))
                        : tr("Ready  ·  %1 in %2 s")
                              .arg(Format::tokens(s.generatedTokens))
                              .arg(s.e2eMs / 1000.0, 0, 'f', 2));
    mTtft->setText(s.generatedTokens > 0 ? Format::ttft(s.ttftMs) : tr("TTFT –"));
    mSpeed->setText(s.decodeTokS > 0 ? Format::tokensPerSecond(s.decodeTokS) : tr("– tok/s"));
}
