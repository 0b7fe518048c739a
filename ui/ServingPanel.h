// ServingPanel: the serving controls dock. One control per serving_config knob (batch limits,
// chunked prefill, KV pool shape, prefix caching, policy, preemption, admission control), a
// reason label beside each field for refusals, a pool-restart note with its button, and the
// presets row. Thin: every edit emits changeRequested(whole config); the ServingController
// decides and answers through setConfig / showRefusal / setRestartPending.
#pragma once
#include "serving/serving_config.h"

#include <QHash>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QSpinBox;

class ServingPanel : public QWidget {
    Q_OBJECT
public:
    explicit ServingPanel(QWidget* parent = nullptr);

    /// What the controls say now.
    rl::serving_config controlsConfig() const;
    QLabel* reasonLabel(const QString& field) const { return mReasons.value(field); }

public slots:
    /// Shows the config in force (clears refusals).
    void setConfig(const rl::serving_config& cfg, int resolvedKvBlocks);
    void showRefusal(const QString& field, const QString& reason);
    void setRestartPending(bool pending);
    void setPresetNames(const QStringList& names);

signals:
    void changeRequested(const rl::serving_config& cfg);
    void restartConfirmed();
    void restartDiscarded();
    void presetLoadRequested(const QString& name);
    void presetSaveRequested(const QString& name);
    void presetDeleteRequested(const QString& name);

private:
    QLabel* addReason(const QString& field);
    void emitChange();

    QSpinBox* mMaxSeqs;
    QSpinBox* mMaxTokens;
    QCheckBox* mChunked;
    QSpinBox* mKvBlocks;
    QComboBox* mBlockSize;
    QCheckBox* mPrefix;
    QComboBox* mPolicy;
    QComboBox* mPreemption;
    QSpinBox* mMaxWaiting;
    QDoubleSpinBox* mMaxQueueMs;
    QLabel* mRestartNote;
    QPushButton* mRestart;
    QPushButton* mDiscard;
    QLabel* mStatus;
    QComboBox* mPresets;
    QHash<QString, QLabel*> mReasons;
    bool mUpdating = false;
};
