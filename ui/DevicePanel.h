// DevicePanel: what the engine runs on, as a small form: device, backend, compute units, the
// memory split (weights / KV pool / free), the measured and datasheet peaks and their ridge points.
// On the CPU backend it shows the CPU and its calibrated peaks. Updated from MetricsFrames (only
// when a shown value changes). Exercise: tests/test_workbench_plots.cpp (widgetsBuild).
#pragma once
#include "MetricsFrame.h"

#include <QHash>
#include <QWidget>

class QLabel;

class DevicePanel : public QWidget {
    Q_OBJECT
public:
    explicit DevicePanel(QWidget* parent = nullptr);

    /// The label showing `field` ("device", "backend", "units", "memory", "measured", "spec",
    /// "ridge"), for tests.
    QLabel* field(const QString& name) const;

    static QString bytes(double b);            ///< "1.23 GiB"
    static QString rate(double v, const QString& unit);   ///< "1.23 TFLOP/s"

public slots:
    /// Connect MetricsPump::frameReady here.
    void onFrame(const MetricsFrame& frame);
    void clear();

private:
    void set(const QString& name, const QString& text);
    QHash<QString, QLabel*> mFields;
};
