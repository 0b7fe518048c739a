// EngineStatusBar: the window's status line. Left: what is happening ("Loading…", "Generating…",
// "Ready"). Right, permanent: model, backend, the engine's live decode tok/s, batch size
// (num_requests_running) and KV use (kv_cache_usage_perc) from metrics frames, and the last
// reply's time to first token and decode tok/s. It only displays the value types it is handed.
#pragma once
#include "EngineTypes.h"

#include <QStatusBar>

class QLabel;

class EngineStatusBar : public QStatusBar {
    Q_OBJECT
public:
    explicit EngineStatusBar(QWidget* parent = nullptr);

public slots:
    void showLoading(const QString& path);
    void showModel(const ModelSummary& model);
    void showLoadError(const QString& message);
    /// detail: what the reply is doing ("queued", "processing prompt 34% …", "23 tokens · 14 tok/s").
    void showGenerating(const QString& detail = QString());
    void showReply(const ReplyStats& stats);
    /// Live engine gauges (from a MetricsFrame's snapshot).
    void showLive(double decodeTokS, int batch, double kvUsage);
    void clearLive();
    /// While the plots watch a remote server, the live fields still describe this window's
    /// engine: they say so ("local …") rather than read as the remote server's numbers.
    void setRemoteActive(bool remote);

private:
    QLabel* addField(const char* objectName, const QString& toolTip);
    void renderLive();  // the live fields from mLive, prefixed "local" while remote

    QLabel* mState;
    QLabel* mModel;
    QLabel* mBackend;
    QLabel* mTtft;
    QLabel* mSpeed;
    QLabel* mLiveTokS;
    QLabel* mBatch;
    QLabel* mKv;
    struct { double decodeTokS = 0; int batch = 0; double kvUsage = 0; } mLive;
    bool mRemote = false;
};
