// prom_text.cpp: see prom_text.h. A hand-written scanner over one line at a time: the grammar is
// small, and a regex would neither give useful error positions nor bound its own cost.
#include "interop/prom_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace rl::prom {

namespace {

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }
bool label_start(char c) { return name_start(c) && c != ':'; }
bool label_char(char c) { return name_char(c) && c != ':'; }
bool blank(char c) { return c == ' ' || c == '\t'; }

// Short, printable excerpt of what was found, for error messages.
std::string shown(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 24)) out += (c >= 32 && c < 127) ? c : '?';
    if (s.size() > 24) out += "...";
    return out.empty() ? "end of line" : "'" + out + "'";
}

// Go's ParseFloat (which Prometheus uses) accepts +Inf, -Inf, NaN in any case; from_chars does
// the digits but not a leading '+'.
bool parse_value(std::string_view s, double& v) {
    if (s.empty()) return false;
    std::string_view body = s;
    bool neg = false;
    if (body[0] == '+' || body[0] == '-') {
        neg = body[0] == '-';
        body.remove_prefix(1);
    }
    std::string lower;
    for (char c : body) lower += char(c >= 'A' && c <= 'Z' ? c + 32 : c);
    if (lower == "inf" || lower == "infinity") {
        v = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
        return true;
    }
    if (lower == "nan") {
        v = std::numeric_limits<double>::quiet_NaN();
        return true;
    }
    if (body.empty() || !(std::isdigit((unsigned char)body[0]) || body[0] == '.')) return false;
    const auto r = std::from_chars(body.data(), body.data() + body.size(), v);
    if (r.ec != std::errc() || r.ptr != body.data() + body.size()) return false;
    if (neg) v = -v;
    return true;
}

bool parse_timestamp(std::string_view s, int64_t& t) {
    if (s.empty()) return false;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), t);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

class line_parser {
public:
    explicit line_parser(std::string_view l) : line_(l) {}

    bool sample_line(sample& s, std::string& why) {
        if (!read_name(s.name, name_start, name_char)) return fail(why, "expected a metric name, found " + rest());
        skip_blank();
        if (peek() == '{' && !labels(s, why)) return false;
        skip_blank();
        const std::string_view value = token();
        if (value.empty()) return fail(why, "expected a value after '" + s.name + "'");
        if (!parse_value(value, s.value)) return fail(why, "invalid value " + shown(value) + " for '" + s.name + "'");
        skip_blank();
        if (!at_end()) {
            const std::string_view ts = token();
            if (!parse_timestamp(ts, s.timestamp_ms)) return fail(why, "invalid timestamp " + shown(ts));
            s.has_timestamp = true;
            skip_blank();
            if (!at_end()) return fail(why, "unexpected " + rest() + " after the timestamp");
        }
        return true;
    }

private:
    bool labels(sample& s, std::string& why) {
        ++pos_;   // '{'
        for (;;) {
            skip_blank();
            if (peek() == '}') {
                ++pos_;
                return true;
            }
            std::string name, value;
            if (!read_name(name, label_start, label_char)) return fail(why, "expected a label name or '}', found " + rest());
            skip_blank();
            if (peek() != '=') return fail(why, "expected '=' after label '" + name + "'");
            ++pos_;
            skip_blank();
            if (peek() != '"') return fail(why, "expected '\"' to open the value of label '" + name + "'");
            ++pos_;
            if (!quoted(value, why, name)) return false;
            for (const auto& [n, v] : s.labels)
                if (n == name) return fail(why, "label '" + name + "' given twice");
            s.labels.emplace_back(std::move(name), std::move(value));
            skip_blank();
            if (peek() == ',') ++pos_;
            else if (peek() != '}') return fail(why, "expected ',' or '}' after a label value, found " + rest());
        }
    }
    bool quoted(std::string& out, std::string& why, const std::string& label) {
        while (!at_end()) {
            const char c = line_[pos_++];
            if (c == '"') return true;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (at_end()) break;
            const char e = line_[pos_++];
            if (e == '\\') out += '\\';
            else if (e == '"') out += '"';
            else if (e == 'n') out += '\n';
            else return fail(why, std::string("invalid escape '\\") + e + "' in the value of label '" + label + "'");
        }
        return fail(why, "unterminated value of label '" + label + "'");
    }
    bool read_name(std::string& out, bool (*first)(char), bool (*next)(char)) {
        if (at_end() || !first(line_[pos_])) return false;
        const size_t b = pos_;
        while (!at_end() && next(line_[pos_])) ++pos_;
        out.assign(line_.substr(b, pos_ - b));
        return true;
    }
    std::string_view token() {
        const size_t b = pos_;
        while (!at_end() && !blank(line_[pos_])) ++pos_;
        return line_.substr(b, pos_ - b);
    }
    void skip_blank() {
        while (!at_end() && blank(line_[pos_])) ++pos_;
    }
    char peek() const { return at_end() ? '\0' : line_[pos_]; }
    bool at_end() const { return pos_ >= line_.size(); }
    std::string rest() const { return shown(line_.substr(std::min(pos_, line_.size()))); }
    static bool fail(std::string& why, std::string what) {
        why = std::move(what);
        return false;
    }

    std::string_view line_;
    size_t pos_ = 0;
};

std::string unescape_help(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '\\' || s[i + 1] == 'n')) {
            out += s[i + 1] == 'n' ? '\n' : '\\';
            ++i;
        } else {
            out += s[i];
        }
    }
    return out;
}

// "# HELP name text" / "# TYPE name type"; any other comment is ignored, as Prometheus does.
bool comment_line(std::string_view l, exposition& out, std::string& why) {
    l.remove_prefix(1);
    while (!l.empty() && blank(l.front())) l.remove_prefix(1);
    const bool help = l.substr(0, 4) == "HELP", type = l.substr(0, 4) == "TYPE";
    if ((!help && !type) || (l.size() > 4 && !blank(l[4]))) return true;
    l.remove_prefix(std::min<size_t>(5, l.size()));
    while (!l.empty() && blank(l.front())) l.remove_prefix(1);
    size_t n = 0;
    while (n < l.size() && name_char(l[n])) ++n;
    if (n == 0 || !name_start(l[0])) {
        why = std::string("expected a metric name after # ") + (help ? "HELP" : "TYPE");
        return false;
    }
    const std::string name(l.substr(0, n));
    l.remove_prefix(n);
    if (!l.empty() && !blank(l.front())) {
        why = "invalid metric name in # " + std::string(help ? "HELP" : "TYPE") + ": " + shown(name + std::string(l));
        return false;
    }
    while (!l.empty() && blank(l.front())) l.remove_prefix(1);
    family& f = out.families[name];
    if (help) {
        f.help = unescape_help(l);
        return true;
    }
    while (!l.empty() && blank(l.back())) l.remove_suffix(1);
    static const std::pair<std::string_view, metric_type> kTypes[] = {
        {"counter", metric_type::counter},     {"gauge", metric_type::gauge},
        {"histogram", metric_type::histogram}, {"summary", metric_type::summary},
        {"untyped", metric_type::untyped},     {"unknown", metric_type::untyped}};
    for (const auto& [word, t] : kTypes)
        if (l == word) {
            f.type = t;
            return true;
        }
    why = "unknown metric type " + shown(l) + " for '" + name + "'";
    return false;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

} // namespace

const std::string* sample::label(std::string_view n) const {
    for (const auto& [k, v] : labels)
        if (k == n) return &v;
    return nullptr;
}

metric_type exposition::type_of(std::string_view name) const {
    if (auto it = families.find(std::string(name)); it != families.end()) return it->second.type;
    auto parent = [&](std::string_view suffix, std::initializer_list<metric_type> types) {
        if (!ends_with(name, suffix)) return metric_type::untyped;
        auto it = families.find(std::string(name.substr(0, name.size() - suffix.size())));
        if (it == families.end()) return metric_type::untyped;
        for (metric_type t : types)
            if (it->second.type == t) return t;
        return metric_type::untyped;
    };
    using mt = metric_type;
    if (auto t = parent("_bucket", {mt::histogram}); t != mt::untyped) return t;
    for (const char* s : {"_sum", "_count"})
        if (auto t = parent(s, {mt::histogram, mt::summary}); t != mt::untyped)
            return t;
    return parent("_total", {mt::counter});
}

bool exposition::has(std::string_view name) const {
    return std::any_of(samples.begin(), samples.end(), [&](const sample& s) { return s.name == name; });
}

bool parse_prom_text(std::string_view text, exposition& out, std::string& error) {
    out = exposition{};
    error.clear();
    if (text.size() > kMaxPromTextBytes) {
        error = "the metrics page is " + std::to_string(text.size() >> 20) + " MiB, over the " +
                std::to_string(kMaxPromTextBytes >> 20) + " MiB limit";
        return false;
    }
    size_t line_no = 0, pos = 0;
    while (pos < text.size()) {
        ++line_no;
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);   // CRLF from some proxies
        while (!line.empty() && blank(line.front())) line.remove_prefix(1);
        if (line.empty()) continue;
        std::string why;
        if (line.front() == '#') {
            if (line == "# EOF") break;   // OpenMetrics' terminator
            if (!comment_line(line, out, why)) {
                error = "line " + std::to_string(line_no) + ": " + why;
                return false;
            }
            continue;
        }
        sample s;
        if (line.find('\0') != std::string_view::npos) why = "NUL byte in the line";
        else line_parser(line).sample_line(s, why);
        if (!why.empty()) {
            error = "line " + std::to_string(line_no) + ": " + why;
            return false;
        }
        out.samples.push_back(std::move(s));
    }
    return true;
}

histogram read_histogram(const exposition& e, std::string_view name, bool (*keep)(const sample&)) {
    histogram h;
    const std::string bucket = std::string(name) + "_bucket", sum = std::string(name) + "_sum",
                      count = std::string(name) + "_count";
    std::map<double, double> by_le;   // summed over series
    for (const sample& s : e.samples) {
        if (keep && !keep(s)) continue;
        if (s.name == bucket) {
            const std::string* le = s.label("le");
            double bound = 0;
            if (!le || !parse_value(*le, bound) || std::isnan(bound)) continue;   // not a usable bucket
            by_le[bound] += s.value;
            h.present = true;
        } else if (s.name == sum) {
            h.sum += s.value;
            h.present = true;
        } else if (s.name == count) {
            h.count += s.value;
            h.present = true;
        }
    }
    h.buckets.assign(by_le.begin(), by_le.end());
    return h;
}

double histogram_quantile(double q, const histogram& h) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (h.buckets.empty()) return nan;
    const double total = h.buckets.back().second;   // the +Inf bucket (or the largest written)
    if (!(total > 0) || std::isnan(q)) return nan;
    const double rank = std::clamp(q, 0.0, 1.0) * total;
    double lo = 0, below = 0;
    for (size_t i = 0; i < h.buckets.size(); ++i) {
        const auto [le, cum] = h.buckets[i];
        if (cum >= rank && cum > below) {
            if (std::isinf(le)) return lo;   // in the open-ended bucket: its lower edge, as Prometheus
            if (i == 0 && le <= 0) return le;
            return lo + (le - lo) * (rank - below) / (cum - below);
        }
        lo = le;
        below = cum;
    }
    return lo;
}

} // namespace rl::prom
