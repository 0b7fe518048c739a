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
        if (!mSteps.empty() && r.t_s < mSteps.back().t_s) {
            if (r.t_s + 1.0 < mSteps.back().t_s) clear();
            else continue;   // a new engine's first steps overlapping the old one's last: keep time order
        }
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

namespace {
// The steps (or parts of steps) that fall in one pixel column.
struct column_acc {
    long px = -1;
    int steps = 0, batch = 0, waiting = 0, prefill = 0, decode = 0;
    double busyS = 0;
    double kindS[3] = {0, 0, 0};
    bool empty() const { return px < 0; }
    void add(const rl::step_record& r, StepStripModel::Kind kind, double seconds, bool starts_here) {
        steps += starts_here;
        batch = std::max(batch, r.num_running);
        waiting = std::max(waiting, r.num_waiting);
        if (starts_here) prefill += r.prefill_tokens, decode += r.decode_tokens;
        busyS += seconds;
        kindS[kind] += seconds;
    }
};
} // namespace

std::vector<StepStripModel::Bar> StepStripModel::layout(double tEnd, double spanS, int width) const {
    std::vector<Bar> bars;
    if (mSteps.empty() || spanS <= 0 || width <= 0) return bars;
    const double t0 = tEnd - spanS, pxPerS = width / spanS;
    // Steps start in time order: the first that may reach into the view starts at most the
    // longest step's duration before it.
    auto it = std::lower_bound(mSteps.begin(), mSteps.end(), t0 - mLongestS,
                               [](const rl::step_record& r, double t) { return r.t_s < t; });
    // Steps narrower than a pixel go into one-pixel columns, each step's time split between
    // the (at most two) columns it touches: a saturated engine is busy 100 % in every column.
    column_acc cur, next;
    auto flush = [&](column_acc& c) {
        if (c.empty()) return;
        Bar b;
        b.x0 = double(c.px);
        b.x1 = std::min(double(width), double(c.px) + 1.0);
        b.column = true;
        int best = 0;
        for (int k = 1; k < 3; ++k)
            if (c.kindS[k] > c.kindS[best]) best = k;
        b.kind = Kind(best);
        b.steps = c.steps, b.batch = c.batch, b.waiting = c.waiting;
        b.prefillTokens = c.prefill, b.decodeTokens = c.decode;
        b.durationS = c.busyS;
        b.busy = std::min(1.0, c.busyS * pxPerS);
        bars.push_back(b);
        c = column_acc{};
    };
    for (; it != mSteps.end() && it->t_s <= tEnd; ++it) {
        const rl::step_record& r = *it;
        if (r.t_s + r.duration_s < t0) continue;
        const double x0 = std::max(0.0, (r.t_s - t0) * pxPerS);
        const double x1 = std::min(double(width), (r.t_s + r.duration_s - t0) * pxPerS);
        if (x0 >= double(width)) continue;
        const Kind kind = kindOf(r);
        if (x1 - x0 >= 1.0) {   // wide enough to be its own bar
            flush(cur);
            flush(next);
            Bar b;
            b.x0 = x0, b.x1 = x1, b.kind = kind, b.batch = r.num_running, b.waiting = r.num_waiting;
            b.prefillTokens = r.prefill_tokens, b.decodeTokens = r.decode_tokens, b.durationS = r.duration_s;
            bars.push_back(b);
            continue;
        }
        const long px = long(std::floor(x0));
        if (px != cur.px) {
            flush(cur);
            if (next.px == px) {
                cur = next;
                next = column_acc{};
            } else {
                flush(next);
                cur.px = px;
            }
        }
        const double edge = double(px) + 1.0;
        const double here = (std::min(x1, edge) - x0) / pxPerS;
        cur.add(r, kind, here, true);
        if (x1 > edge) {   // the rest of the step lies in the next column
            if (next.empty()) next.px = px + 1;
            next.add(r, kind, (x1 - edge) / pxPerS, false);
        }
    }
    flush(cur);
    flush(next);
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
