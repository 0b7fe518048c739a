// MetricsHistory.cpp: see MetricsHistory.h for what each bin holds and why steps are spread pro rata.
#include "MetricsHistory.h"

#include <QFile>
#include <QTextStream>

#include <algorithm>

namespace {
constexpr double kIdleLagS = 0.5;   // how far behind wall time bins are exposed when idle
int64_t binOf(double t) { return int64_t(std::floor(t / MetricsHistory::kBinS)); }
} // namespace

MetricsHistory::MetricsHistory(double keepS) : mKeepS(keepS) {}

void MetricsHistory::setKeepSeconds(double s) {
    mKeepS = std::max(1.0, s);
    trim();
}

void MetricsHistory::clear() { *this = MetricsHistory(mKeepS); }

HistoryBin& MetricsHistory::at(int64_t i) {
    while (mFirst + int64_t(mBins.size()) <= i) mBins.emplace_back();
    return mBins[size_t(i - mFirst)];
}

void MetricsHistory::addStep(const rl::step_record& s) {
    const double t0 = s.t_s, d = std::max(0.0, s.duration_s), t1 = t0 + d;
    const int64_t i0 = binOf(t0);
    int64_t i1 = binOf(t1);
    if (d > 0 && i1 > i0 && double(i1) * kBinS >= t1) --i1;   // ends exactly on a bin edge
    if (i1 < mFirst) return;                                   // older than what we keep
    for (int64_t i = std::max(i0, mFirst); i <= i1; ++i) {
        HistoryBin& b = at(i);
        const double lo = std::max(t0, double(i) * kBinS), hi = std::min(t1, double(i + 1) * kBinS);
        const double overlap = std::max(0.0, hi - lo);
        const double frac = d > 0 ? overlap / d : (i == i0 ? 1.0 : 0.0);
        b.prefillTokS += s.prefill_tokens * frac / kBinS;
        b.decodeTokS += s.decode_tokens * frac / kBinS;
        b.recomputedTokS += s.recomputed_tokens * frac / kBinS;
        b.busy += overlap / kBinS;
        b.flopsUtil += s.flops_util * overlap / kBinS;
        b.bwUtil += s.bw_util * overlap / kBinS;
        const double w = d > 0 ? overlap : (i == i0 ? 1e-9 : 0.0);
        b.gaugeTime += w;
        b.batchTime += s.num_running * w;
        b.waitingTime += s.num_waiting * w;
        if (b.gaugeTime > 0) {
            b.batch = b.batchTime / b.gaugeTime;
            b.waiting = b.waitingTime / b.gaugeTime;
        }
    }
    HistoryBin& e = at(i1);
    ++e.steps;
    e.preemptions += int(s.preemptions);
    e.evictions += int(s.evicted_blocks);
    e.windowFreed += int(s.window_freed_blocks);
    e.hits += s.prefix_hits;
    e.queries += s.prefix_queries;
    e.kvUsed = mLastKv.kvUsed = s.kv_used;
    e.kvCached = mLastKv.kvCached = s.kv_cached;
    e.kvFree = mLastKv.kvFree = s.kv_free;
    e.kvSet = true;
    for (int64_t i = i1 + 1; i < mExposedEnd && !bin(i).kvSet; ++i) {   // a late step: re-carry
        HistoryBin& b = at(i);
        b.kvUsed = e.kvUsed;
        b.kvCached = e.kvCached;
        b.kvFree = e.kvFree;
    }
    mChanged = std::min(mChanged, std::max(i0, mFirst));
    mLastStepEnd = std::max(mLastStepEnd, t1);
}

int64_t MetricsHistory::addFrame(const MetricsFrame& frame) {
    const rl::metrics_snapshot& snap = frame.snap;
    const bool first = !mStarted;
    if (first) {
        mStarted = true;
        // From the engine's start (t = 0) when we hold its whole history; from the first step we
        // were given when the snapshot cut older ones off (step indices start at 1).
        double t = 0;
        if (!snap.new_steps.empty() && snap.new_steps.front().index > 1) t = snap.new_steps.front().t_s;
        mFirst = mExposedEnd = binOf(std::max(t, snap.t_s - mKeepS));
        mLastKv.kvFree = snap.kv_total;   // an empty pool before the first step
    }
    mChanged = INT64_MAX;
    const int64_t oldEnd = mExposedEnd;
    mNow = std::max(mNow, snap.t_s);
    for (const rl::step_record& s : snap.new_steps) addStep(s);

    mLatest = snap;
    mLatest.new_steps.clear();
    const double frontier = std::max(mLastStepEnd, mNow - kIdleLagS);
    const int64_t newEnd = std::max(mExposedEnd, binOf(frontier));
    for (int64_t i = mExposedEnd; i < newEnd; ++i) {
        HistoryBin& b = at(i);
        if (!b.kvSet) {
            const HistoryBin& prev = i > mFirst ? bin(i - 1) : mLastKv;
            b.kvUsed = prev.kvUsed;
            b.kvCached = prev.kvCached;
            b.kvFree = prev.kvFree;
        }
        // The snapshot's latency and rolling values belong to now; on the first frame, bins long
        // before now stay unknown rather than borrowing today's numbers.
        if (!first || double(i + 1) * kBinS >= mNow - 1.0) {
            if (snap.ttft_s.n > 0) {
                b.ttftP50 = snap.ttft_s.p50;
                b.ttftP99 = snap.ttft_s.p99;
            }
            if (snap.tpot_s.n > 0) {
                b.tpotP50 = snap.tpot_s.p50;
                b.tpotP99 = snap.tpot_s.p99;
            }
            b.rollingHitRate = snap.prefix_hit_rate;
            b.rollingRecomputedTokS = snap.recomputed_tok_s;
        }
    }
    mExposedEnd = newEnd;
    trim();
    int64_t changed = std::min(mChanged, oldEnd);
    if (changed >= mExposedEnd) return mExposedEnd;
    return std::max(changed, mFirst);
}

void MetricsHistory::trim() {
    const int64_t keepFrom = binOf(mNow - mKeepS);
    while (mFirst < keepFrom && !mBins.empty()) {
        mBins.pop_front();
        ++mFirst;
    }
    if (mBins.empty()) mFirst = std::max(mFirst, keepFrom);
    mExposedEnd = std::max(mExposedEnd, mFirst);
}

QString MetricsHistory::toCsv() const {
    QString out;
    QTextStream ts(&out);
    ts << "t_s,prefill_tok_s,decode_tok_s,num_requests_running,num_requests_waiting,kv_used_blocks,"
          "kv_cached_blocks,kv_free_blocks,flops_utilization,bandwidth_utilization,device_busy_perc,"
          "prefix_cache_queries,prefix_cache_hits,prefix_hit_rate,recomputed_tok_s,num_preemptions,"
          "kv_evicted_blocks,steps,ttft_p50_s,ttft_p99_s,tpot_p50_s,tpot_p99_s,prefix_hit_rate_rolling,"
          "recomputed_tok_s_rolling,kv_window_freed_blocks\n";
    auto num = [&ts](double v, bool last = false) {
        if (!std::isnan(v)) ts << QString::number(v, 'g', 8);
        ts << (last ? '\n' : ',');
    };
    for (int64_t i = begin(); i < end(); ++i) {
        const HistoryBin& b = bin(i);
        num(double(i) * kBinS);
        num(b.prefillTokS);
        num(b.decodeTokS);
        num(b.batch);
        num(b.waiting);
        num(b.kvUsed);
        num(b.kvCached);
        num(b.kvFree);
        num(b.flopsUtil);
        num(b.bwUtil);
        num(b.busy);
        num(b.queries);
        num(b.hits);
        num(b.hitRate());
        num(b.recomputedTokS);
        num(b.preemptions);
        num(b.evictions);
        num(b.steps);
        num(b.ttftP50);
        num(b.ttftP99);
        num(b.tpotP50);
        num(b.tpotP99);
        num(b.rollingHitRate);
        num(b.rollingRecomputedTokS);
        num(b.windowFreed, true);
    }
    return out;
}

bool MetricsHistory::saveCsv(const QString& path, QString* error) const {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
        if (error) *error = f.errorString();
        return false;
    }
    const QByteArray data = toCsv().toUtf8();
    if (f.write(data) != data.size()) {
        if (error) *error = f.errorString();
        return false;
    }
    return true;
}
