// ExportCommandDialog: see ExportCommandDialog.h.
#include "ExportCommandDialog.h"

#include <QApplication>
#include <QClipboard>
#include <QDialogButtonBox>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTabWidget>
#include <QVBoxLayout>

namespace {

constexpr rl::export_target kTargets[] = {rl::export_target::vllm,
                                          rl::export_target::sglang,
                                          rl::export_target::llama_server};

int indexOf(rl::export_target t) { return int(t); }

// Object names the tests and the style sheet find: vllm, sglang, llamaServer.
QString key(rl::export_target t) {
    switch (t) {
    case rl::export_target::vllm: return QStringLiteral("vllm");
    case rl::export_target::sglang: return QStringLiteral("sglang");
    case rl::export_target::llama_server: return QStringLiteral("llamaServer");
    }
    return {};
}

} // namespace

rl::export_input ExportCommandDialog::inputFor(const rl::serving_config& cfg, const QString& modelPath, int maxContext) {
    rl::export_input in;
    // Our "auto" step budget is per backend; the other engines run on a GPU, where it is 2048.
    in.config = rl::resolve_step_budget(cfg, rl::auto_batched_tokens(true, 0, 0));
    in.max_model_len = maxContext > 0 ? maxContext : cfg.max_model_len;
    if (modelPath.isEmpty()) {
        in.model_path = "MODEL";   // nothing chosen yet: a placeholder the reader replaces
        return in;
    }
    in.model_path = modelPath.toStdString();
    // The id ridgeline-serve shows in /v1/models, so clients keep working across engines.
    QString name = modelPath.startsWith(QLatin1String("synthetic:")) ? modelPath : QFileInfo(modelPath).fileName();
    if (name.endsWith(QLatin1String(".gguf"))) name.chop(5);
    in.model_name = name.toStdString();
    return in;
}

ExportCommandDialog::ExportCommandDialog(const rl::export_input& input, QWidget* parent)
    : QDialog(parent), mInput(input) {
    setObjectName(QStringLiteral("exportCommandDialog"));
    setWindowTitle(tr("Export as vLLM / SGLang / llama-server command"));
    auto* intro = new QLabel(tr("The serving settings in force as other engines' launch commands. Lines starting "
                                "with # say where a flag means something different from Ridgeline's knob."),
                             this);
    intro->setWordWrap(true);
    auto* tabs = new QTabWidget(this);
    tabs->setObjectName(QStringLiteral("exportTabs"));
    for (rl::export_target t : kTargets)
        tabs->addTab(page(t), QString::fromStdString(rl::export_command(t, mInput).title));
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(intro);
    layout->addWidget(tabs, 1);
    layout->addWidget(buttons);
    resize(900, 640);
}

QWidget* ExportCommandDialog::page(rl::export_target t) {
    auto* w = new QWidget(this);
    auto* box = new QPlainTextEdit(w);
    box->setObjectName(key(t) + QStringLiteral("Command"));
    box->setReadOnly(true);
    box->setLineWrapMode(QPlainTextEdit::NoWrap);
    box->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    box->setPlainText(commandText(t));
    mBoxes[indexOf(t)] = box;

    auto* copy = new QPushButton(tr("Copy"), w);
    copy->setObjectName(key(t) + QStringLiteral("Copy"));
    connect(copy, &QPushButton::clicked, this, [this, t] { QApplication::clipboard()->setText(commandText(t)); });
    auto* save = new QPushButton(tr("Save as script…"), w);
    save->setObjectName(key(t) + QStringLiteral("Save"));
    connect(save, &QPushButton::clicked, this, [this, t] {
        const QString suggested = QStringLiteral("serve-%1.sh").arg(QLatin1String(rl::to_string(t)));
        const QString path = QFileDialog::getSaveFileName(this, tr("Save as script"), suggested,
                                                          tr("Shell scripts (*.sh);;All files (*)"));
        QString err;
        if (!path.isEmpty() && !saveScript(t, path, &err))
            QMessageBox::warning(this, tr("Save as script"), tr("Could not save %1: %2").arg(path, err));
    });
    auto* row = new QHBoxLayout;
    row->addStretch(1);
    row->addWidget(copy);
    row->addWidget(save);
    auto* layout = new QVBoxLayout(w);
    layout->addWidget(box, 1);
    layout->addLayout(row);
    return w;
}

QString ExportCommandDialog::commandText(rl::export_target t) const {
    return QString::fromStdString(rl::export_command(t, mInput).text());
}

QPlainTextEdit* ExportCommandDialog::textBox(rl::export_target t) const { return mBoxes[indexOf(t)]; }

bool ExportCommandDialog::saveScript(rl::export_target t, const QString& path, QString* error) const {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate)) {
        if (error) *error = f.errorString();
        return false;
    }
    const QByteArray bytes = QByteArray::fromStdString(rl::export_script(t, mInput));
    if (f.write(bytes) != bytes.size()) {
        if (error) *error = f.errorString();
        return false;
    }
    f.close();
    // Executable for its owner, as a script one runs directly.
    f.setPermissions(f.permissions() | QFileDevice::ExeOwner | QFileDevice::ExeUser);
    return true;
}
