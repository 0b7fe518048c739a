// ModelPanel: model source, backend, load progress and model facts (see ModelPanel.h).
#include "ModelPanel.h"

#include "runtime/backend_factory.h"
#include "model/synthetic.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

ModelPanel::ModelPanel(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("modelPanel"));
    mSource = new QComboBox(this);
    mSource->setObjectName(QStringLiteral("modelSource"));
    mSource->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    mSource->setMinimumContentsLength(10);
    mOpen = new QPushButton(tr("Open…"), this);
    mOpen->setToolTip(tr("Open a GGUF model file"));
    mBackend = new QComboBox(this);
    mBackend->setObjectName(QStringLiteral("backend"));
    for (const std::string& b : rl::available_backends()) mBackend->addItem(QString::fromStdString(b));
    mDtype = new QLabel(this);
    mDtype->setObjectName(QStringLiteral("dtype"));
    mWeightMode = new QComboBox(this);
    mWeightMode->setObjectName(QStringLiteral("weights"));
    for (const char* w : {"auto", "native", "bf16", "f32"}) mWeightMode->addItem(QString::fromLatin1(w));
    mWeightMode->setToolTip(tr("auto: keep the blocks on the CPU; on the GPU expand the weights when they fit in 3/4 "
                               "of free memory, else keep the blocks\n"
                               "native: keep a GGUF file's quantized blocks and compute on them (GPU and CPU)\n"
                               "bf16: expand every weight to bf16 at load (CUDA)\nf32: expand every weight to f32 "
                               "(CPU, the reference)"));
    mLoad = new QPushButton(tr("Load"), this);
    mLoad->setObjectName(QStringLiteral("loadButton"));
    mCancel = new QPushButton(tr("Cancel"), this);
    mCancel->setObjectName(QStringLiteral("cancelLoadButton"));
    mProgress = new QProgressBar(this);
    mProgress->setRange(0, 0);   // indeterminate: the loader reports no fraction
    mProgress->setTextVisible(false);
    mProgress->setMaximumHeight(mProgress->fontMetrics().height() / 2 + 4);
    mNote = new QLabel(this);
    mNote->setObjectName(QStringLiteral("modelNote"));
    mNote->setWordWrap(true);
    mNote->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto* src = new QHBoxLayout;
    src->addWidget(mSource, 1);
    src->addWidget(mOpen);
    auto* be = new QHBoxLayout;
    be->addWidget(mBackend, 1);
    be->addWidget(mDtype);
    auto* act = new QHBoxLayout;
    act->addWidget(mLoad);
    act->addWidget(mCancel);
    act->addStretch();
    auto* form = new QFormLayout;
    form->addRow(tr("Model"), src);
    form->addRow(tr("Backend"), be);
    form->addRow(tr("Weights"), mWeightMode);
    form->addRow(act);
    form->addRow(mProgress);
    form->addRow(mNote);

    auto* info = new QGroupBox(tr("Loaded"), this);
    auto* inf = new QFormLayout(info);
    inf->setLabelAlignment(Qt::AlignRight);
    mName = infoRow("modelName");
    mParams = infoRow("modelParams");
    mLayers = infoRow("modelLayers");
    mWeights = infoRow("modelWeights");
    mContext = infoRow("modelContext");
    mPool = infoRow("modelPool");
    mTemplate = infoRow("modelTemplate");
    mBackendInfo = infoRow("modelBackend");
    inf->addRow(tr("Name"), mName);
    inf->addRow(tr("Parameters"), mParams);
    inf->addRow(tr("Layers"), mLayers);
    inf->addRow(tr("Weights"), mWeights);
    inf->addRow(tr("Context"), mContext);
    inf->addRow(tr("KV pool"), mPool);
    inf->addRow(tr("Chat template"), mTemplate);
    inf->addRow(tr("Backend"), mBackendInfo);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(8, 8, 8, 8);
    layout->addLayout(form);
    layout->addWidget(info);
    layout->addStretch(1);

    connect(mOpen, &QPushButton::clicked, this, &ModelPanel::openFile);
    connect(mLoad, &QPushButton::clicked, this, [this] {
        if (!selectedSource().isEmpty()) emit loadRequested(selectedSource(), selectedBackend());
    });
    connect(mCancel, &QPushButton::clicked, this, &ModelPanel::cancelRequested);
    connect(mBackend, &QComboBox::currentIndexChanged, this, &ModelPanel::updateDtype);
    setRecentModels({});
    updateDtype();
    showIdle();
}

QLabel* ModelPanel::infoRow(const char* name) {
    auto* l = new QLabel(QStringLiteral("–"), this);
    l->setObjectName(QLatin1String(name));
    l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return l;
}

QString ModelPanel::selectedSource() const { return mSource->currentData().toString(); }
QString ModelPanel::selectedBackend() const { return mBackend->currentText(); }
QString ModelPanel::selectedWeights() const { return mWeightMode->currentText(); }

QString ModelPanel::dtypeFor(const QString& backend) {
    return backend == QLatin1String("cuda") ? QStringLiteral("bf16") : QStringLiteral("fp32");
}

void ModelPanel::updateDtype() { mDtype->setText(tr("dtype %1").arg(dtypeFor(selectedBackend()))); }

void ModelPanel::setRecentModels(const QStringList& paths) {
    const QString keep = selectedSource();
    mRecent = paths;
    mSource->clear();
    for (const QString& p : paths) {
        mSource->addItem(QFileInfo(p).fileName(), p);
        mSource->setItemData(mSource->count() - 1, p, Qt::ToolTipRole);
    }
    if (!paths.isEmpty()) mSource->insertSeparator(mSource->count());
    for (const std::string& n : rl::synthetic_names()) {
        const QString s = QString::fromLatin1(rl::kSyntheticPrefix) + QString::fromStdString(n);
        mSource->addItem(s, s);
    }
    const int i = mSource->findData(keep);
    mSource->setCurrentIndex(i >= 0 ? i : 0);
}

void ModelPanel::setSelection(const QString& source, const QString& backend, const QString& weights) {
    if (const int w = mWeightMode->findText(weights); w >= 0) mWeightMode->setCurrentIndex(w);
    int i = mSource->findData(source);
    if (i < 0 && !source.isEmpty()) {
        mSource->insertItem(0, QFileInfo(source).fileName(), source);
        i = 0;
    }
    if (i >= 0) mSource->setCurrentIndex(i);
    const int b = mBackend->findText(backend);
    if (b >= 0) mBackend->setCurrentIndex(b);
}

void ModelPanel::openFile() {
    const QString start = QFileInfo(selectedSource()).absolutePath();
    const QString path = QFileDialog::getOpenFileName(this, tr("Open Model"), start,
                                                      tr("GGUF models (*.gguf);;All files (*)"));
    if (path.isEmpty()) return;
    emit fileChosen(path);
    setSelection(path, selectedBackend());
    emit loadRequested(path, selectedBackend());
}

void ModelPanel::showLoading(const QString& source) {
    mProgress->show();
    mCancel->show();
    mLoad->setEnabled(false);
    mNote->setText(tr("Loading %1…").arg(QFileInfo(source).fileName()));
}

void ModelPanel::showModel(const ModelSummary& m) {
    showIdle();
    mName->setText(m.name + (m.arch.isEmpty() ? QString() : QStringLiteral("  (%1)").arg(m.arch)));
    mName->setToolTip(m.path);
    mParams->setText(QStringLiteral("%1  (%2)").arg(Format::paramCount(m.params)).arg(QLocale().toString(m.params)));
    mLayers->setText(QString::number(m.layers));
    mWeights->setText(m.weightTypes.isEmpty() ? Format::bytes(m.weightBytes)
                                              : tr("%1 (%2)").arg(Format::bytes(m.weightBytes), m.weightTypes));
    mWeights->setToolTip(tr("The weights as the backend holds them, by storage type"));
    mContext->setText(tr("%1 tokens").arg(m.contextLength));
    mPool->setText(tr("%1 blocks × %2 tokens").arg(m.kvBlocks).arg(m.blockSize));
    mTemplate->setText(m.templateWarning.isEmpty() ? m.chatTemplate : tr("%1 (%2)").arg(m.chatTemplate, m.templateWarning));
    mBackendInfo->setText(tr("%1 · %2 activations and KV").arg(m.backend, dtypeFor(m.backend.section(QLatin1Char(' '), 0, 0))));
}

void ModelPanel::showIdle(const QString& note) {
    mProgress->hide();
    mCancel->hide();
    mLoad->setEnabled(true);
    mNote->setText(note);
}
