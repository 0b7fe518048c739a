// test_first_run_dialog: the GUI's first-run dialog (app/gui/FirstRunDialog) against fake fetch
// scripts (no network): progress lines and the printed path on success, the one-line error and a
// retry on failure, the synthetic-model choice, and no download button without a script.
// Run: QT_QPA_PLATFORM=offscreen ./build/tests/test_first_run_dialog   (label gui)
#include "rl_test.h"

#include "../app/gui/FirstRunDialog.h"

#include <QFile>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>

class TestFirstRunDialog : public QObject {
    Q_OBJECT
private:
    QTemporaryDir* mDir = nullptr;

    QString script(const QString& name, const QByteArray& body) {
        const QString path = mDir->filePath(name);
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly)) return {};
        f.write("#!/bin/sh\n" + body);
        f.close();
        f.setPermissions(f.permissions() | QFileDevice::ExeOwner);
        return path;
    }
    static QPushButton* button(QDialog& d, const QString& prefix) {
        for (auto* b : d.findChildren<QPushButton*>())
            if (b->text().startsWith(prefix)) return b;
        return nullptr;
    }
    static bool anyLabelContains(QDialog& d, const QString& text) {
        for (auto* l : d.findChildren<QLabel*>())
            if (l->toolTip().contains(text) || l->text().contains(text)) return true;
        return false;
    }

private slots:
    void init() { mDir = new QTemporaryDir; QVERIFY(mDir->isValid()); }
    void cleanup() { delete mDir; mDir = nullptr; }

    void successfulDownloadChoosesThePrintedPath() {
        const QString model = mDir->filePath("m.gguf");
        QFile f(model);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.close();
        const QString s = script("ok", "echo 'ridgeline fetch-model: downloading'\necho 'progress 50 100'\n"
                                       "echo 'progress 100 100'\necho '" + model.toUtf8() + "'\n");
        FirstRunDialog d({"/nowhere/m.gguf"}, s, mDir->path());
        QSignalSpy accepted(&d, &QDialog::accepted);
        d.startDownload();
        QVERIFY(accepted.wait(10000));
        QCOMPARE(d.chosenModel(), model);
        QCOMPARE(d.result(), int(QDialog::Accepted));
    }
    void failedDownloadShowsOneLineAndOffersRetry() {
        const QString s = script("bad", "echo 'ridgeline fetch-model: downloading'\n"
                                        "echo 'ridgeline fetch-model: cannot download (no network?)' >&2\nexit 1\n");
        FirstRunDialog d({"/nowhere/m.gguf"}, s, mDir->path());
        d.show();
        d.startDownload();
        QTRY_VERIFY_WITH_TIMEOUT(button(d, "Retry download") != nullptr, 10000);
        QVERIFY(button(d, "Retry download")->isEnabled());
        QVERIFY(anyLabelContains(d, "Download failed: cannot download (no network?)"));
        QVERIFY(d.chosenModel().isEmpty());
        QVERIFY(d.isVisible());   // still open for another choice
    }
    void syntheticChoice() {
        FirstRunDialog d({}, QString(), mDir->path());
        QVERIFY(button(d, "Download") && !button(d, "Download")->isEnabled());   // no script installed
        button(d, "Use a synthetic")->click();
        QCOMPARE(d.chosenModel(), QStringLiteral("synthetic:smollm2-135m"));
        QCOMPARE(d.result(), int(QDialog::Accepted));
    }
};

QTEST_MAIN(TestFirstRunDialog)
#include "test_first_run_dialog.moc"
