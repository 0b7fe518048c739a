// MetricsHistory: the plots' memory. Accumulates MetricsFrames into 100 ms bins kept for a bounded
// time (10 minutes by default: 6,000 bins, whatever the step rate). Qt-Core only, so tests drive it
// without a display.
//
// A step [t, t+d) is spread over the bins it overlaps, pro rata (as metrics_hub does at its window
// edge), so rates stay right when steps are longer or shorter than a bin. Per bin:
//   prefill/decode/recomputed tok/s = tokens in the bin / bin width (idle included)
//   batch (num_running), waiting    = time-weighted mean over the busy part of the bin (0 if idle)
//   busy                            = busy time / bin width (device_busy_perc)
//   flops_util, bw_util             = Σ util·overlap / bin width (wall-clock, as the hub: <= busy)
//   kv used/cached/free             = after the last step ending in the bin (carried over idle bins)
//   hits, queries, preemptions, evictions: counts of steps ending in the bin
//   latency p50/p99, prefix_hit_rate, recomputed_tok_s (5 s): the latest snapshot at the bin's end
// Bins are exposed up to a frontier: the latest step's end while busy, and wall time minus a short
// lag when idle. A step recorded later may still touch exposed bins: firstChanged() says from where
// a consumer must redraw. Exercise: tests/test_workbench_plots.cpp (historyBinning, historyCsv).
#pragma once
#include "MetricsFrame.h"

#include <QString>

#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>

struct HistoryBin {
    static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
    double prefillTokS = 0, decodeTokS = 0, recomputedTokS = 0;
    double batch = 0, waiting = 0, busy = 0;
    double flopsUtil = 0, bwUtil = 0;
    double kvUsed = 0, kvCached = 0, kvFree = 0;
    double hits = 0, queries = 0;
    int preemptions = 0, evictions = 0, windowFreed = 0, steps = 0;
    double hitRate() const { return queries > 0 ? hits / queries : kNaN; }
    // From the snapshot (NaN: no request in the latency window yet).
    double ttftP50 = kNaN, ttftP99 = kNaN, tpotP50 = kNaN, tpotP99 = kNaN;
    double rollingHitRate = 0, rollingRecomputedTokS = 0;
    // Accumulators (busy-time weighted sums); not meaningful to readers.
    double gaugeTime = 0, batchTime = 0, waitingTime = 0;
    bool kvSet = false;
};

class MetricsHistory {
public:
    static constexpr double kBinS = 0.1;

    explicit MetricsHistory(double keepS = 600);
    void setKeepSeconds(double s);
    double keepSeconds() const { return mKeepS; }
    void clear();

    /// Adds a frame. Returns the absolute index of the first bin whose values changed (or that
    /// became visible); end() when nothing did.
    int64_t addFrame(const MetricsFrame& frame);

    // Exposed bins are [begin(), end()), absolute indices; bin i covers [i·0.1 s, (i+1)·0.1 s).
    int64_t begin() const { return mFirst; }
    int64_t end() const { return mExposedEnd; }
    int64_t size() const { return mExposedEnd - mFirst; }
    const HistoryBin& bin(int64_t i) const { return mBins[size_t(i - mFirst)]; }
    static double binCenter(int64_t i) { return (double(i) + 0.5) * kBinS; }
    double now() const { return mNow; }                 ///< latest snapshot time (s)
    const rl::metrics_snapshot& latest() const { return mLatest; }  ///< without its new_steps

    /// Every exposed bin as CSV (header row, one row per bin, NaN written as empty).
    QString toCsv() const;
    bool saveCsv(const QString& path, QString* error = nullptr) const;

private:
    HistoryBin& at(int64_t i);   // grows the deque as needed
    void addStep(const rl::step_record& s);
    void trim();

    double mKeepS;
    std::deque<HistoryBin> mBins;
    int64_t mFirst = 0;          // absolute index of mBins.front()
    int64_t mExposedEnd = 0;
    int64_t mKvKnownEnd = 0;     // bins before this have kv values set (carried forward)
    int64_t mChanged = 0;
    bool mStarted = false;
    double mLastStepEnd = 0;
    HistoryBin mLastKv;          // kv gauges of the latest step
    rl::metrics_snapshot mLatest;
    double mNow = 0;
};
