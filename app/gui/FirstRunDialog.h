// FirstRunDialog: shown at start when no model was found (ModelLocator). Offers to download the
// default model with the installed fetch script (QProcess, progress bar, one-line status or
// error), to open a GGUF file, or to start on a synthetic model. chosenModel() is the result.
// Exercise: HOME=$(mktemp -d) ridgeline (or --screenshot, which grabs this dialog).
#pragma once

#include <QDialog>
#include <QProcess>
#include <QStringList>

class QLabel;
class QProgressBar;
class QPushButton;

class FirstRunDialog : public QDialog {
    Q_OBJECT
public:
    /// `searched`: the files looked for; `fetchScript`: empty disables the download;
    /// `destDir`: where the download goes.
    FirstRunDialog(const QStringList& searched, const QString& fetchScript, const QString& destDir,
                   QWidget* parent = nullptr);
    ~FirstRunDialog() override;

    /// A .gguf path or synthetic:NAME after accept(); empty after reject().
    QString chosenModel() const { return mChosen; }

    static constexpr const char* kSyntheticModel = "synthetic:smollm2-135m";

public slots:
    void startDownload();

protected:
    void reject() override;

private:
    void openFile();
    void useSynthetic();
    void readOutput();
    void finished(int code, QProcess::ExitStatus status);
    void setBusy(bool busy);
    void showStatus(const QString& line, bool error);

    QString mFetchScript;
    QString mDestDir;
    QString mChosen;
    QString mLastLine;      // last plain stdout line (the path, on success)
    QString mLastError;     // last stderr line
    bool mCancelled = false;
    QProcess* mProcess = nullptr;
    QLabel* mStatus = nullptr;
    QProgressBar* mProgress = nullptr;
    QPushButton* mDownload = nullptr;
    QPushButton* mOpen = nullptr;
    QPushButton* mSynthetic = nullptr;
    QPushButton* mLater = nullptr;
};
