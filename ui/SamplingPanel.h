// SamplingPanel: the chat's reply settings beside the transcript: a system prompt and one spin
// box per row of the SamplingKnobs table (temperature, top-p, top-k, min-p, repeat penalty, max
// tokens, seed), with "Defaults" to go back to GenerationSettings{}. Thin: it shows what
// setSettings() gives it and emits settingsEdited() on every edit; MainWindow hands that to the
// ChatController (next reply) and the SettingsStore (saved). Hidden until the chat's "Reply
// settings" button shows it. Exercise: tests/test_sampling_panel.cpp.
#pragma once
#include "EngineTypes.h"

#include <QWidget>

class QAbstractSpinBox;
class QPlainTextEdit;

class SamplingPanel : public QWidget {
    Q_OBJECT
public:
    explicit SamplingPanel(QWidget* parent = nullptr);

    void setSettings(const GenerationSettings& g);
    /// The controls' values over `base` (the fields the panel does not show, e.g. priority).
    GenerationSettings settings(const GenerationSettings& base = GenerationSettings()) const;
    /// The spin box of a SamplingKnobs key ("top_p"), for tests.
    QAbstractSpinBox* control(const QString& key) const;
    QPlainTextEdit* systemPrompt() const { return mSystem; }

signals:
    void settingsEdited(const GenerationSettings& g);

private:
    void edited();

    QPlainTextEdit* mSystem;
    QList<QAbstractSpinBox*> mSpins;   // in samplingKnobs() order
    GenerationSettings mBase;
    bool mSetting = false;
};
