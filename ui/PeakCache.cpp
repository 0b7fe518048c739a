// PeakCache.cpp: see PeakCache.h.
#include "PeakCache.h"

#include "SettingsStore.h"

#include <cmath>

namespace PeakCache {

std::map<std::string, rl::device_peaks> fromJson(const QJsonObject& peaks) {
    std::map<std::string, rl::device_peaks> out;
    for (auto it = peaks.begin(); it != peaks.end(); ++it) {
        const QJsonObject o = it.value().toObject();
        rl::device_peaks p;
        p.flops = o.value(QStringLiteral("flops")).toDouble();
        p.bytes_per_s = o.value(QStringLiteral("bytes_per_s")).toDouble();
        p.measured_at = int64_t(o.value(QStringLiteral("measured_at")).toDouble());
        p.source = "measured";
        if (!(std::isfinite(p.flops) && p.flops > 0 && std::isfinite(p.bytes_per_s) && p.bytes_per_s > 0)) continue;
        out[it.key().toStdString()] = p;
    }
    return out;
}

QJsonObject withEntry(QJsonObject peaks, const std::string& key, const rl::device_peaks& p) {
    peaks.insert(QString::fromStdString(key), QJsonObject{{QStringLiteral("flops"), p.flops},
                                                          {QStringLiteral("bytes_per_s"), p.bytes_per_s},
                                                          {QStringLiteral("measured_at"), double(p.measured_at)}});
    return peaks;
}

std::map<std::string, rl::device_peaks> read(const SettingsStore& store) {
    return fromJson(store.value(QStringLiteral("peaks")).toObject());
}

void remember(SettingsStore& store, const std::string& key, const rl::device_peaks& p) {
    if (key.empty() || !(p.flops > 0 && p.bytes_per_s > 0)) return;
    store.setValue(QStringLiteral("peaks"), withEntry(store.value(QStringLiteral("peaks")).toObject(), key, p));
}

} // namespace PeakCache
