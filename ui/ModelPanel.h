// ModelPanel: the model dock. Pick a GGUF (Open… or the recent list) or a synthetic shape, a
// backend (cpu; cuda when the build and the machine have it) with its compute dtype, and Load;
// while loading an indeterminate progress bar and Cancel; once loaded, what engine_info says:
// parameters, layers, weight bytes, context length, KV pool and the chat template in use.
// Thin: emits loadRequested / cancelRequested and shows what it is handed.
#pragma once
#include "EngineTypes.h"

#include <QWidget>

class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;

class ModelPanel : public QWidget {
    Q_OBJECT
public:
    explicit ModelPanel(QWidget* parent = nullptr);

    QString selectedSource() const;
    QString selectedBackend() const;
    QString selectedWeights() const;  // "native", "bf16" or "f32" (rl::weight_storage)
    /// "fp32" on cpu, "bf16" on cuda.
    static QString dtypeFor(const QString& backend);

public slots:
    void setRecentModels(const QStringList& paths);
    void setSelection(const QString& source, const QString& backend, const QString& weights = QString());
    void showLoading(const QString& source);
    void showModel(const ModelSummary& m);
    /// After a failure or a cancel: back to the current model (or none).
    void showIdle(const QString& note = QString());

signals:
    void loadRequested(const QString& source, const QString& backend);
    void cancelRequested();
    /// A file chosen with Open… (so the window can add it to the recent list).
    void fileChosen(const QString& path);

private:
    void openFile();
    void updateDtype();
    QLabel* infoRow(const char* name);

    QComboBox* mSource;
    QComboBox* mBackend;
    QComboBox* mWeightMode;
    QLabel* mDtype;
    QPushButton* mOpen;
    QPushButton* mLoad;
    QPushButton* mCancel;
    QProgressBar* mProgress;
    QLabel* mNote;
    QLabel* mName;
    QLabel* mParams;
    QLabel* mLayers;
    QLabel* mWeights;
    QLabel* mContext;
    QLabel* mPool;
    QLabel* mTemplate;
    QLabel* mBackendInfo;
    QStringList mRecent;
};
