// RemoteMetricsSource: remote mode's data source. Scrapes the Prometheus /metrics page of a running
// vLLM, SGLang, llama-server or ridgeline-serve every N seconds (default 2 s) with a
// QNetworkAccessManager on the GUI thread (the request is asynchronous; parsing a page is well
// under a millisecond), and turns each pair of successive scrapes into the MetricsFrame the plots
// already consume, so PlotsPanel draws remote numbers through the same MetricsHistory.
// The engine-specific reading is rl::remote_metrics (interop/); this class only fetches,
// times and converts. Failures (connection, HTTP status, unknown format) are reported once per
// distinct message through failed(), an HTTP error with the server's own words (llama-server's
// 501 says to start it with --metrics); scraping continues, so a server that comes back is picked up.
// Exercise: tests/test_remote_serve.cpp (against a real ridgeline-serve, and a refused port).
#pragma once
#include "MetricsFrame.h"
#include "interop/remote_metrics.h"

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>
#include <QUrl>

class QNetworkAccessManager;
class QNetworkReply;
class QTimer;

class RemoteMetricsSource : public QObject {
    Q_OBJECT
public:
    static constexpr int kDefaultIntervalMs = 2000;

    explicit RemoteMetricsSource(QObject* parent = nullptr);
    ~RemoteMetricsSource() override;

    /// "host:port", "http://host:port" or a full URL; adds http:// and /metrics where missing.
    /// An invalid QUrl when the text cannot be a URL.
    static QUrl normalizeUrl(const QString& text);

    /// Forgets any previous server, scrapes `url` now and then every intervalMs().
    void start(const QUrl& url);
    void stop();
    bool isRunning() const { return mRunning; }
    QUrl url() const { return mUrl; }

    /// Applies from the next scrape; clamped to 100 ms .. 10 min.
    void setIntervalMs(int ms);
    int intervalMs() const { return mIntervalMs; }

    /// "REMOTE: <url> · scrape every 2 s" (plus the server's kind once known).
    QString markerText() const;
    QString lastError() const { return mLastError; }
    bool hasScrape() const { return mHaveScrape; }
    const rl::remote_scrape& lastScrape() const { return mLast; }
    const rl::remote_sample& lastSample() const { return mLastSample; }
    int scrapeCount() const { return mScrapes; }

    /// The plots' frame for one interval; step `stepIndex` covers it. KV fill is expressed in a
    /// pool of 100 units (percent): a remote server's block count is not portable.
    static MetricsFrame frameFrom(const rl::remote_sample& s, uint64_t stepIndex, const QString& server);
    /// The server's own explanation in an error answer's body: the "message" of a JSON error
    /// ({"error":{"message":...}}, {"error":"..."}, {"message":...}, {"detail":...}), else the
    /// first line of a text body, at most 300 characters; "" when there is none.
    static QString serverHint(const QByteArray& body);
    /// What the watched server cannot supply to each plot (rl::remote_notes_for of the last scrape).
    const rl::remote_notes& notes() const { return mNotes; }

signals:
    void frameReady(const MetricsFrame& frame);
    void scraped();                        ///< after every successful scrape
    void failed(const QString& message);   ///< when a failure starts or its message changes
    void recovered();                      ///< the first success after a failure
    void markerChanged(const QString& text);
    void notesChanged(const rl::remote_notes& notes);   ///< after a scrape that changed them

private:
    void scrapeNow();
    void onFinished(QNetworkReply* reply, double sentAtS, quint64 generation);
    void report(const QString& error);

    QNetworkAccessManager* mNet;
    QTimer* mTimer;
    QPointer<QNetworkReply> mReply;
    QElapsedTimer mClock;      // t = 0 at start(): the plots' time axis in remote mode
    QUrl mUrl;
    int mIntervalMs = kDefaultIntervalMs;
    bool mRunning = false;
    quint64 mGeneration = 0;   // replies of an earlier start() are ignored
    rl::remote_scrape mLast;
    rl::remote_sample mLastSample;
    bool mHaveScrape = false;
    int mScrapes = 0;
    uint64_t mSteps = 0;
    QString mLastError;
    rl::remote_notes mNotes;
};
