// StepStripModel: the engine steps the step strip draws (StepStrip), in the style of a profiler's
// timeline: each step a bar from its start for its duration, coloured by what it computed
// (prefill only, decode only, or both) and as tall as its batch. It keeps the most recent steps
// (bounded by age and count) and lays out any span of them onto a width in pixels. Steps shorter
// than a pixel are not drawn one over another: they fill one-pixel column bars (a step that
// crosses a pixel edge gives each column its share of the time) whose opacity is the share of
// the column's time the engine was busy and whose colour is the kind that took most of it, so a
// busy stretch of 2 ms decode steps reads as a solid band and a light load as a faint one. No widgets here. Exercise: tests/test_step_strip.cpp.
#pragma once
#include "metrics/metrics.h"

#include <cstdint>
#include <deque>
#include <vector>

class StepStripModel {
public:
    enum Kind { Prefill, Decode, Mixed };
    static constexpr double kKeepS = 600;      ///< seconds of steps kept (the plots' history)
    static constexpr size_t kMaxSteps = 200000; ///< and at most this many

    struct Bar {
        double x0 = 0, x1 = 0;     ///< pixels, x1 > x0
        Kind kind = Decode;
        int batch = 0;             ///< sequences in the step (the largest, for a column)
        int waiting = 0;           ///< requests waiting after the step (the largest, for a column)
        int steps = 1;             ///< steps that start in this bar
        bool column = false;       ///< a one-pixel column of steps narrower than a pixel
        double busy = 1;           ///< share of the bar's time covered by steps, 0..1
        int prefillTokens = 0, decodeTokens = 0;   ///< summed over the bar's steps
        double durationS = 0;      ///< summed over the bar's steps
    };

    static Kind kindOf(const rl::step_record& r);

    /// Appends steps in time order (times on the caller's clock). Older or surplus steps go.
    void add(const std::vector<rl::step_record>& steps);
    void clear();
    bool empty() const { return mSteps.empty(); }
    size_t size() const { return mSteps.size(); }
    /// The end of the latest step, 0 when none.
    double latestEnd() const;

    /// The bars for [tEnd - spanS, tEnd] on `width` pixels, left to right.
    std::vector<Bar> layout(double tEnd, double spanS, int width) const;
    /// The step running at time t, or the nearest one starting within `slackS` of it; null if none.
    const rl::step_record* stepAt(double t, double slackS) const;

private:
    std::deque<rl::step_record> mSteps;
    double mLongestS = 0;   ///< the longest step kept so far (how far back a step may reach)
};
