// ServingPanel: the serving controls dock, built from the knob table (engine/serving/
// serving_knobs.h): one group box per table group, one control per row (KnobControls: range,
// unit, help, special zero, object name = knob name), a refusal label under each control (found
// by the refusal's field, "reason_<knob>"), the pool-restart note with its buttons, and the
// presets row. Thin: every edit, and every number typed outside a control's range, emits
// changeRequested(whole config); the ServingController decides and answers through setConfig /
// showRefusal / setRestartPending. Values go in and out through the table's get/set only.
// Exercise: tests/test_workbench_window.cpp.
#pragma once
#include "serving/serving_knobs.h"

#include <QWidget>

#include <vector>

#include <QList>
#include <QPair>
#include <QStringList>

class QComboBox;
class QLabel;
class QPushButton;

class ServingPanel : public QWidget {
    Q_OBJECT
public:
    explicit ServingPanel(QWidget* parent = nullptr);

    /// What the controls say now.
    rl::serving_config controlsConfig() const;
    /// The refusal label under a knob's control; null for a name that is not a knob.
    QLabel* reasonLabel(const QString& field) const;
    /// A knob's control (its object name is the knob's name); null for a name that is not a knob.
    QWidget* control(const QString& knob) const;

public slots:
    /// Shows cfg and clears refusals. A knob at its special zero (kv_blocks "auto") also shows
    /// what the engine resolved it to, taken from `resolved`, when that is not zero: "auto (512)".
    void setConfig(const rl::serving_config& cfg, const rl::serving_config& resolved);
    /// Shows the reason under the control of `field` (and in the status line); "" = no field.
    void showRefusal(const QString& field, const QString& reason);
    void setRestartPending(bool pending);
    /// The Presets list: the built-in stories (title, story name) first, then the saved presets.
    void setPresetNames(const QStringList& names);
    void setStories(const QList<QPair<QString, QString>>& stories);
    /// Under the presets row: the story's caption, and what its counter has seen so far.
    void showStory(const QString& title, const QString& caption);
    void showStoryProgress(const QString& text);

signals:
    void changeRequested(const rl::serving_config& cfg);
    void restartConfirmed();
    void restartDiscarded();
    void presetLoadRequested(const QString& name);
    void storyRequested(const QString& story);
    void presetSaveRequested(const QString& name);
    void presetDeleteRequested(const QString& name);

private:
    struct Knob {
        const rl::knob_info* info;
        QWidget* control;
        QLabel* reason;
    };
    const Knob* find(const QString& name) const;
    QWidget* buildKnobs();
    QLabel* makeReason(const rl::knob_info& k);
    QWidget* buildRestartRow();
    QLayout* buildPresetRow();

    std::vector<Knob> mKnobs;   // table order
    QLabel* mRestartNote = nullptr;
    QPushButton* mRestart = nullptr;
    QPushButton* mDiscard = nullptr;
    QLabel* mStatus = nullptr;
    QComboBox* mPresets = nullptr;
    QLabel* mStoryCaption = nullptr;
    QLabel* mStoryProgress = nullptr;
    QList<QPair<QString, QString>> mStories;
    QStringList mSaved;
    void fillPresets();
};
