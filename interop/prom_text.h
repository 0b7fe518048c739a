// prom_text: a parser for the Prometheus text exposition format (version 0.0.4, what vLLM, SGLang,
// llama-server and ridgeline-serve answer on GET /metrics). Owns only syntax: HELP and TYPE lines,
// samples with labels (escaped \\ \" \n in values), +Inf/-Inf/NaN values and optional timestamps.
// What the numbers mean per engine lives in remote_metrics.h. Pure C++, no Qt.
//
// Malformed input never throws or crashes: parse_prom_text returns false with "line N: what".
// Input is bounded (kMaxPromTextBytes) because it comes from a server we do not control.
// Exercise: tests/test_remote_metrics.cpp (parser slots).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rl::prom {

/// A scrape larger than this is refused: a real /metrics page is tens of KiB.
inline constexpr size_t kMaxPromTextBytes = 16u << 20;

enum class metric_type { untyped, counter, gauge, histogram,
                         summary };

struct sample {
    std::string name;                                        ///< as written, e.g. "x_bucket"
    std::vector<std::pair<std::string, std::string>> labels; ///< in written order, values unescaped
    double value = 0;
    bool has_timestamp = false;
    int64_t timestamp_ms = 0;
    /// The label's value, or nullptr when the sample has no such label.
    const std::string* label(std::string_view name) const;
};

struct family {
    metric_type type = metric_type::untyped;
    std::string help;
};

struct exposition {
    std::vector<sample> samples;           ///< in written order
    std::map<std::string, family> families;  ///< from HELP/TYPE lines, by the name they gave
    /// The TYPE a sample belongs to: its own name, or the family it is a part of (a histogram's
    /// _bucket/_sum/_count, a summary's _sum/_count, a counter's _total).
    metric_type type_of(std::string_view sample_name) const;
    bool has(std::string_view sample_name) const;
};

/// Parses `text` into `out` (cleared first). False with `error` = "line N: ..." on the first
/// malformed line; `out` then holds what came before it.
bool parse_prom_text(std::string_view text, exposition& out, std::string& error);

/// A histogram summed over its series (e.g. several label sets), buckets sorted by upper bound
/// with cumulative counts, as written. Empty buckets and count 0 when the name is absent.
struct histogram {
    std::vector<std::pair<double, double>> buckets;   ///< (le, cumulative count); le may be +Inf
    double sum = 0, count = 0;
    bool present = false;
};
/// Reads histogram `name` (its name_bucket, name_sum, name_count samples). Samples for which
/// `keep` returns false are skipped (e.g. replicas of the same value on other tensor-parallel ranks).
histogram read_histogram(const exposition& e, std::string_view name, bool (*keep)(const sample&) = nullptr);

/// The q-quantile (0..1) of a histogram, interpolated linearly inside the bucket that holds it
/// (Prometheus' histogram_quantile). NaN when the histogram has no observations.
double histogram_quantile(double q, const histogram& h);

} // namespace rl::prom
