// ExportCommandDialog: File ▸ Export as vLLM / SGLang / llama-server command…. Shows the serving
// settings in force as each engine's launch command (interop/export_commands), one
// read-only box per engine with Copy and "Save as script…" (an executable /bin/sh file). The
// text comes from the pure core; this is only its view.
// Exercise: tests/test_export_dialog.cpp.
#pragma once
#include "interop/export_commands.h"

#include <QDialog>

class QPlainTextEdit;

class ExportCommandDialog : public QDialog {
    Q_OBJECT
public:
    explicit ExportCommandDialog(const rl::export_input& input, QWidget* parent = nullptr);

    /// The input for a config, a model (path or synthetic:NAME; "" = none chosen) and its context.
    static rl::export_input inputFor(const rl::serving_config& cfg, const QString& modelPath, int maxContext);

    QString commandText(rl::export_target t) const;
    QPlainTextEdit* textBox(rl::export_target t) const;
    bool saveScript(rl::export_target t, const QString& path, QString* error = nullptr) const;

private:
    QWidget* page(rl::export_target t);

    rl::export_input mInput;
    QPlainTextEdit* mBoxes[3] = {};
};
