// StepStripModel.cpp: see StepStripModel.h.
#include "StepStripModel.h"

#include <algorithm>
#include <cmath>

StepStripModel::Kind StepStripModel::kindOf(const rl::step_record& r) {
    if (r.prefill_tokens > 0 && r.decode_tokens > 0) return Mixed;
    return r.prefill_tokens > 0 ? Prefill : Decode;
}

void StepStripModel::add(const std::vector<rl::step_record>& steps) {
    for (const rl::step_record& r : steps) {
        // A step earlier than the last one kept (a new engine's clock not yet shifted by the
        // caller) would break the time order the layout relies on: start over.
        if (!mSteps.empty() && r.t_s + 1.0 < mSteps.back().t_s) clear();
        mSteps.push_back(r);
        mLongestS = std::max(mLongestS, r.duration_s);
    }
    if (mSteps.empty()) return;
    const double cutoff = mSteps.back().t_s - kKeepS;
    while (!mSteps.empty() && (mSteps.size() > kMaxSteps || mSteps.front().t_s < cutoff)) mSteps.pop_front();
}

void StepStripModel::clear() {
    mSteps.clear();
    mLongestS = 0;
}

double StepStripModel::latestEnd() const {
    return mSteps.empty() ? 0.0 : mSteps.back().t_s + mSteps.back().duration_s;
}

std::vector<StepStripModel::Bar> StepStripModel::layout(double tEnd, double spanS, int width) const {
    std::vector<Bar> bars;
    if (mSteps.empty() || spanS <= 0 || width <= 0) return bars;
    const double t0 = tEnd - spanS, pxPerS = width / spanS;
    // Steps start in time order: the first that may reach into the view starts at most the
    // longest step's duration before it.
    auto it = std::lower_bound(mSteps.begin(), mSteps.end(), t0 - mLongestS,
                               [](const rl::step_record& r, double t) { return r.t_s < t; });
    Bar column;            // the column being gathered (steps < 1 px starting in one pixel)
    long columnPx = -1;
    double kindTime[3] = {0, 0, 0};
    auto flushColumn = [&] {
        if (columnPx < 0) return;
        int best = 0;
        for (int k = 1; k < 3; ++k)
            if (kindTime[k] > kindTime[best]) best = k;
        column.kind = Kind(best);
        column.busy = std::min(1.0, column.durationS * pxPerS / std::max(1e-9, column.x1 - column.x0));
        bars.push_back(column);
        columnPx = -1;
        kindTime[0] = kindTime[1] = kindTime[2] = 0;
    };
    for (; it != mSteps.end() && it->t_s <= tEnd; ++it) {
        const rl::step_record& r = *it;
        if (r.t_s + r.duration_s < t0) continue;
        const double x0 = std::max(0.0, (r.t_s - t0) * pxPerS);
        const double x1 = std::min(double(width), (r.t_s + r.duration_s - t0) * pxPerS);
        const Kind kind = kindOf(r);
        if (x1 - x0 >= 1.0) {   // wide enough to be its own bar
            flushColumn();
            Bar b;
            b.x0 = x0, b.x1 = x1, b.kind = kind, b.batch = r.num_running, b.waiting = r.num_waiting;
            b.prefillTokens = r.prefill_tokens, b.decodeTokens = r.decode_tokens, b.durationS = r.duration_s;
            bars.push_back(b);
            continue;
        }
        const long px = long(std::floor(x0));
        if (px != columnPx) {
            flushColumn();
            column = Bar{};
            column.steps = 0;
            column.x0 = double(px);
            column.x1 = double(px) + 1.0;
            columnPx = px;
        }
        column.x1 = std::max(column.x1, x1);
        column.steps += 1;
        column.batch = std::max(column.batch, r.num_running);
        column.waiting = std::max(column.waiting, r.num_waiting);
        column.prefillTokens += r.prefill_tokens;
        column.decodeTokens += r.decode_tokens;
        column.durationS += r.duration_s;
        kindTime[kind] += r.duration_s;
    }
    flushColumn();
    return bars;
}

const rl::step_record* StepStripModel::stepAt(double t, double slackS) const {
    auto it = std::upper_bound(mSteps.begin(), mSteps.end(), t,
                               [](double x, const rl::step_record& r) { return x < r.t_s; });
    // it: the first step starting after t. The one before may be running at t.
    const rl::step_record* best = nullptr;
    double bestDist = slackS;
    if (it != mSteps.begin()) {
        const rl::step_record& r = *std::prev(it);
        const double d = std::max(0.0, t - (r.t_s + r.duration_s));
        if (d <= bestDist) best = &r, bestDist = d;
    }
    if (it != mSteps.end() && it->t_s - t < bestDist) best = &*it;
    return best;
}
