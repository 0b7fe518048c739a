// MetricsFrame: the value the live instruments receive, about ten times a second (MetricsPump ->
// queued signal -> PlotsPanel, RooflineWidget, KvBlockMapWidget, DevicePanel). A plain copy of
// what the engine published: the metrics snapshot (with the steps since the last frame), the KV
// map when it changed, the peaks and the device. Nothing here points back into the engine.
#pragma once
#include "backend/backend.h"
#include "metrics/metrics.h"
#include "metrics/metrics_hub.h"
#include "runtime/engine.h"

#include <QMetaType>
#include <QString>

#include <memory>

struct MetricsFrame {
    rl::metrics_snapshot snap;                          ///< new_steps: steps since the previous frame
    std::shared_ptr<const rl::engine::kv_map_view> kv;  ///< null when unchanged since the last frame
    rl::device_peaks measured;                          ///< calibrated roofs (0 when not calibrated)
    rl::device_info device;
    double specBandwidth = 0;                           ///< datasheet bytes/s, 0 if unknown
    double specBf16 = 0;                                ///< datasheet bf16 FLOP/s, 0 if unknown
    double specFp8 = 0;                                 ///< datasheet fp8 FLOP/s, 0 if none
    QString backendName;                                ///< engine_info::backend
    // Static facts about the loaded model and its pool (DevicePanel's memory split).
    QString modelName;
    double weightBytes = 0;
    double kvPoolBytes = 0;                             ///< kvBlocks * bytes per block
    int kvBlocks = 0;
    int blockSize = 0;
};
Q_DECLARE_METATYPE(MetricsFrame)

/// Bytes of K and V for one block of `block_size` tokens: 2 · layers · block_size · kv_dim · elem.
inline double kvBytesPerBlock(const rl::model_config& cfg, int blockSize, double bytesPerElement) {
    return 2.0 * cfg.n_layers * blockSize * double(cfg.n_kv_heads) * cfg.head_dim * bytesPerElement;
}
