// PeakCache: the device peaks measured before, kept per device in settings.json ("peaks": an
// object keyed by rl::peaks_key, each {flops, bytes_per_s, measured_at}). A load hands them to
// the engine, which uses the entry for its device instead of measuring again, so the roofline's
// measured roof stays put from launch to launch (a second's calibration on a busy machine can
// land anywhere within a factor of two); the device panel's Re-measure replaces the entry.
// Entries that are not positive numbers are skipped. Qt-Core only. Exercise:
// tests/test_peak_cache.cpp.
#pragma once
#include "metrics/metrics_hub.h"

#include <QJsonObject>

#include <map>
#include <string>

class SettingsStore;

namespace PeakCache {
/// Every usable entry of a "peaks" object.
std::map<std::string, rl::device_peaks> fromJson(const QJsonObject& peaks);
/// `peaks` with the entry for `key` set to p.
QJsonObject withEntry(QJsonObject peaks, const std::string& key, const rl::device_peaks& p);

std::map<std::string, rl::device_peaks> read(const SettingsStore& store);
void remember(SettingsStore& store, const std::string& key, const rl::device_peaks& p);
} // namespace PeakCache
