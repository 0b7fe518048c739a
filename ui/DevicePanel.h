// DevicePanel: what the engine runs on, as a small form: device, backend, compute units, the
// memory split (weights / KV pool / free), the measured and datasheet peaks and their ridge points.
// On the CPU backend it shows the CPU and its calibrated peaks. Updated from MetricsFrames (only
// when a shown value changes). The measured peaks say when they were measured; *Re-measure* asks
// for a new measurement (EngineBridge::remeasurePeaks, kept per device by PeakCache).
// Exercise: tests/test_workbench_plots.cpp (widgetsBuild), tests/test_peak_cache.cpp.
#pragma once
#include "MetricsFrame.h"

#include <QHash>
#include <QWidget>

class QLabel;
class QPushButton;

class DevicePanel : public QWidget {
    Q_OBJECT
public:
    explicit DevicePanel(QWidget* parent = nullptr);

    /// The label showing `field` ("device", "backend", "units", "memory", "measured", "spec",
    /// "ridge"), for tests.
    QLabel* field(const QString& name) const;

    QPushButton* remeasureButton() const { return mRemeasure; }
    /// While true the button is disabled and says so; `status` (when not empty) goes beside it.
    void setMeasuring(bool measuring, const QString& status = QString());

    static QString bytes(double b);            ///< "1.23 GiB"
    static QString rate(double v, const QString& unit);   ///< "1.23 TFLOP/s"

signals:
    void remeasureRequested();

public slots:
    /// Connect MetricsPump::frameReady here.
    void onFrame(const MetricsFrame& frame);
    void clear();

private:
    void set(const QString& name, const QString& text);
    QHash<QString, QLabel*> mFields;
    QPushButton* mRemeasure;
    QLabel* mMeasureStatus;
};
