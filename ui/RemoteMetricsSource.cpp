// RemoteMetricsSource.cpp: see RemoteMetricsSource.h.
#include "RemoteMetricsSource.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>

#include <algorithm>
#include <cmath>
#include <limits>

namespace {
double orZero(double v) { return std::isnan(v) ? 0.0 : v; }
} // namespace

RemoteMetricsSource::RemoteMetricsSource(QObject* parent)
    : QObject(parent), mNet(new QNetworkAccessManager(this)), mTimer(new QTimer(this)) {
    static const int registered = qRegisterMetaType<MetricsFrame>("MetricsFrame");
    (void)registered;
    mTimer->setInterval(mIntervalMs);
    connect(mTimer, &QTimer::timeout, this, &RemoteMetricsSource::scrapeNow);
}

RemoteMetricsSource::~RemoteMetricsSource() { stop(); }

QUrl RemoteMetricsSource::normalizeUrl(const QString& text) {
    QString t = text.trimmed();
    if (t.isEmpty()) return {};
    if (!t.contains(QStringLiteral("://"))) t.prepend(QStringLiteral("http://"));
    QUrl url(t, QUrl::StrictMode);
    if (!url.isValid() || url.host().isEmpty() ||
        (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https")))
        return {};
    if (url.path().isEmpty() || url.path() == QLatin1String("/")) url.setPath(QStringLiteral("/metrics"));
    return url;
}

void RemoteMetricsSource::start(const QUrl& url) {
    stop();
    mUrl = url;
    mRunning = true;
    ++mGeneration;
    mHaveScrape = false;
    mLast = rl::remote_scrape{};
    mLastSample = rl::remote_sample{};
    mScrapes = 0;
    mSteps = 0;
    mLastError.clear();
    mNotes = {};
    mClock.start();
    mTimer->start(mIntervalMs);
    emit markerChanged(markerText());
    scrapeNow();
}

void RemoteMetricsSource::stop() {
    mRunning = false;
    mTimer->stop();
    if (mReply) {
        QNetworkReply* r = mReply;
        mReply = nullptr;
        r->abort();   // its finished() arrives with an old generation and is ignored
    }
}

void RemoteMetricsSource::setIntervalMs(int ms) {
    mIntervalMs = std::clamp(ms, 100, 600000);
    mTimer->setInterval(mIntervalMs);
    if (mRunning) emit markerChanged(markerText());
}

QString RemoteMetricsSource::markerText() const {
    const double s = mIntervalMs / 1000.0;
    QString text = tr("REMOTE: %1 · scrape every %2 s").arg(mUrl.toDisplayString(), QString::number(s, 'g', 3));
    if (mHaveScrape) text += QStringLiteral(" · ") + QString::fromStdString(mLast.server);
    return text;
}

void RemoteMetricsSource::scrapeNow() {
    if (!mRunning || mReply) return;   // one request at a time: a slow server is not piled on
    QNetworkRequest req(mUrl);
    req.setRawHeader("Accept", "text/plain;version=0.0.4;q=0.9,*/*;q=0.1");
    // Give up before the next scrape is due, but never sooner than a second.
    req.setTransferTimeout(std::max(1000, mIntervalMs));
    const double sentAt = mClock.elapsed() / 1000.0;
    const quint64 generation = mGeneration;
    QNetworkReply* reply = mNet->get(req);
    mReply = reply;
    // A page far over a real one's size is refused while it arrives, not after.
    connect(reply, &QNetworkReply::downloadProgress, reply, [reply](qint64 received, qint64) {
        if (received > qint64(rl::prom::kMaxPromTextBytes)) {
            reply->setProperty("rlTooLarge", true);
            reply->abort();
        }
    });
    connect(reply, &QNetworkReply::finished, this,
            [this, reply, sentAt, generation] { onFinished(reply, sentAt, generation); });
}

void RemoteMetricsSource::onFinished(QNetworkReply* reply, double sentAtS, quint64 generation) {
    reply->deleteLater();
    if (generation != mGeneration || !mRunning) return;
    mReply = nullptr;
    const QString where = mUrl.toDisplayString();
    const QVariant status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute);
    if (reply->property("rlTooLarge").toBool()) {
        report(tr("%1: the metrics page is over %2 MiB; not a metrics endpoint?")
                   .arg(where).arg(rl::prom::kMaxPromTextBytes >> 20));
        return;
    }
    if (status.isValid() && status.toInt() != 200) {
        const QString reason = reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString();
        QString message = tr("%1 answered HTTP %2 %3").arg(where).arg(status.toInt()).arg(reason).trimmed();
        // The body often says what to do (llama-server's 501: "Start it with `--metrics`").
        const QString hint = serverHint(reply->read(64 * 1024));
        if (!hint.isEmpty()) message += QStringLiteral(": ") + hint;
        report(message);
        return;
    }
    if (reply->error() != QNetworkReply::NoError) {
        report(tr("Cannot scrape %1: %2").arg(where, reply->errorString()));
        return;
    }
    const QByteArray body = reply->readAll();
    rl::remote_scrape cur;
    std::string error;
    if (!rl::read_remote_scrape(std::string_view(body.constData(), size_t(body.size())), sentAtS,
                                where.toStdString(), cur, error)) {
        report(QString::fromStdString(error));
        return;
    }
    const bool wasFailing = !mLastError.isEmpty();
    const bool firstKnown = !mHaveScrape || cur.server != mLast.server;
    mLastError.clear();
    ++mScrapes;
    const QString server = QString::fromStdString(cur.server);
    if (mHaveScrape && cur.t_s > mLast.t_s) {
        mLastSample = rl::remote_sample_between(mLast, cur);
        mLast = std::move(cur);
        emit frameReady(frameFrom(mLastSample, ++mSteps, server));
    } else {
        // The first scrape only sets the baseline: gauges now, rates from the next one.
        rl::remote_sample gauges;
        gauges.t0_s = gauges.t1_s = cur.t_s;
        gauges.running = cur.running;
        gauges.waiting = cur.waiting;
        gauges.kv_usage = cur.kv_usage;
        mLast = std::move(cur);
        mHaveScrape = true;
        MetricsFrame f = frameFrom(gauges, 0, server);
        f.snap.new_steps.clear();
        emit frameReady(f);
    }
    if (const rl::remote_notes n = rl::remote_notes_for(mLast); !(n == mNotes)) {
        mNotes = n;
        emit notesChanged(mNotes);
    }
    if (wasFailing) emit recovered();
    if (firstKnown) emit markerChanged(markerText());
    emit scraped();
}

QString RemoteMetricsSource::serverHint(const QByteArray& body) {
    QString hint;
    const QJsonDocument doc = QJsonDocument::fromJson(body);
    if (doc.isObject()) {
        const QJsonObject o = doc.object();
        const QJsonValue err = o.value(QStringLiteral("error"));
        if (err.isObject()) hint = err.toObject().value(QStringLiteral("message")).toString();
        else if (err.isString()) hint = err.toString();
        for (const char* key : {"message", "detail"})
            if (hint.isEmpty()) hint = o.value(QLatin1String(key)).toString();
    } else if (!body.trimmed().startsWith('<')) {   // an HTML error page says nothing useful in a banner
        for (const QByteArray& line : body.split('\n'))
            if (!line.trimmed().isEmpty()) {
                hint = QString::fromUtf8(line.trimmed());
                break;
            }
    }
    hint = hint.simplified();
    if (hint.size() > 300) hint = hint.left(299) + QChar(0x2026);
    return hint;
}

void RemoteMetricsSource::report(const QString& error) {
    if (error == mLastError) return;   // one message per distinct failure, not one per scrape
    mLastError = error;
    emit failed(error);
}

MetricsFrame RemoteMetricsSource::frameFrom(const rl::remote_sample& s, uint64_t stepIndex, const QString& server) {
    MetricsFrame f;
    f.backendName = tr("remote");
    f.modelName = server;
    rl::metrics_snapshot& snap = f.snap;
    snap.t_s = s.t1_s;
    snap.steps = stepIndex;
    snap.num_requests_running = int(std::lround(orZero(s.running)));
    snap.num_requests_waiting = int(std::lround(orZero(s.waiting)));
    snap.kv_cache_usage_perc = orZero(s.kv_usage);
    const bool haveKv = !std::isnan(s.kv_usage);
    snap.kv_total = haveKv ? 100 : 0;
    snap.kv_used = haveKv ? int(std::lround(std::clamp(s.kv_usage, 0.0, 1.0) * 100)) : 0;
    snap.kv_free = snap.kv_total - snap.kv_used;
    f.kvBlocks = snap.kv_total;
    snap.window_s = s.t1_s - s.t0_s;
    snap.prefill_tok_s = orZero(s.prompt_tok_s);
    snap.decode_tok_s = orZero(s.generation_tok_s);
    snap.mean_batch = orZero(s.running);
    // Unknown stays NaN, a gap on the plot, never a made-up 0 %.
    snap.prefix_hit_rate = s.prefix_hit_rate;
    snap.recomputed_tok_s = std::numeric_limits<double>::quiet_NaN();   // Ridgeline's own, never exported
    // Percentiles of the interval's observations, interpolated in the server's histogram buckets.
    if (s.ttft_count > 0) {
        snap.ttft_s.p50 = s.ttft_p50_s;
        snap.ttft_s.p99 = s.ttft_p99_s;
        snap.ttft_s.n = int(s.ttft_count);
    }
    if (s.tpot_count > 0) {
        // Without a histogram (llama-server) the mean of finished requests takes the p50 line,
        // which PlotsPanel then names "TPOT mean".
        snap.tpot_s.p50 = s.tpot_mean_only ? s.tpot_mean_s : s.tpot_p50_s;
        snap.tpot_s.p99 = s.tpot_mean_only ? std::numeric_limits<double>::quiet_NaN() : s.tpot_p99_s;
        snap.tpot_s.n = int(s.tpot_count);
    }
    // One step spanning the interval carries its token counts and gauges: MetricsHistory spreads
    // it over the 100 ms bins it covers, so throughput reads as the interval's mean rate.
    rl::step_record st;
    st.index = stepIndex;
    st.t_s = s.t0_s;
    st.duration_s = s.t1_s - s.t0_s;
    st.prefill_tokens = int(std::lround(orZero(s.prompt_tokens)));
    st.decode_tokens = int(std::lround(orZero(s.generation_tokens)));
    st.sampled_tokens = st.decode_tokens;
    st.num_running = snap.num_requests_running;
    st.num_waiting = snap.num_requests_waiting;
    st.kv_used = snap.kv_used;
    st.kv_free = snap.kv_free;
    st.preemptions = uint32_t(std::lround(std::max(0.0, orZero(s.preemptions))));
    snap.new_steps.push_back(st);
    return f;
}
