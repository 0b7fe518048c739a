// DevicePanel.cpp: see DevicePanel.h.
#include "DevicePanel.h"

#include <QFormLayout>
#include <QHash>
#include <QDateTime>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>

DevicePanel::DevicePanel(QWidget* parent) : QWidget(parent) {
    auto* form = new QFormLayout(this);
    form->setContentsMargins(8, 6, 8, 6);
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    const std::pair<const char*, const char*> rows[] = {
        {"device", "Device"},       {"backend", "Backend"},        {"units", "Compute units"},
        {"memory", "Memory"},       {"kvpool", "KV pool"},         {"measured", "Peaks (measured)"},
        {"spec", "Peaks (spec)"},   {"ridge", "Ridge points"},
    };
    for (auto [key, label] : rows) {
        auto* l = new QLabel(QStringLiteral("–"));
        l->setObjectName(QString::fromLatin1(key));
        l->setTextInteractionFlags(Qt::TextSelectableByMouse);
        l->setWordWrap(true);
        form->addRow(tr(label), l);
        mFields.insert(QString::fromLatin1(key), l);
    }
    mRemeasure = new QPushButton(tr("Re-measure peaks"));
    mRemeasure->setObjectName(QStringLiteral("remeasurePeaks"));
    mRemeasure->setToolTip(tr("Measure this device's matmul FLOP/s and memory bandwidth again (about a second; "
                              "steps wait meanwhile) and keep the result for this device"));
    mRemeasure->setEnabled(false);
    mMeasureStatus = new QLabel;
    mMeasureStatus->setWordWrap(true);
    auto* row = new QHBoxLayout;
    row->addWidget(mRemeasure);
    row->addWidget(mMeasureStatus, 1);
    form->addRow(QString(), row);
    connect(mRemeasure, &QPushButton::clicked, this, [this] {
        setMeasuring(true);
        emit remeasureRequested();
    });
}

void DevicePanel::setMeasuring(bool measuring, const QString& status) {
    mRemeasure->setEnabled(!measuring);
    mRemeasure->setText(measuring ? tr("Measuring…") : tr("Re-measure peaks"));
    mMeasureStatus->setText(status);
}

QLabel* DevicePanel::field(const QString& name) const { return mFields.value(name); }

QString DevicePanel::bytes(double b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        ++u;
    }
    return QStringLiteral("%1 %2").arg(b, 0, 'f', u == 0 ? 0 : b < 10 ? 2 : 1).arg(QLatin1String(units[u]));
}

QString DevicePanel::rate(double v, const QString& unit) {
    const char* prefixes[] = {"", "k", "M", "G", "T", "P"};
    int p = 0;
    while (v >= 1000 && p < 5) {
        v /= 1000;
        ++p;
    }
    return QStringLiteral("%1 %2%3").arg(v, 0, 'f', v < 10 ? 2 : v < 100 ? 1 : 0).arg(QLatin1String(prefixes[p]), unit);
}

void DevicePanel::set(const QString& name, const QString& text) {
    QLabel* l = mFields.value(name);
    if (l && l->text() != text) l->setText(text);
}

void DevicePanel::onFrame(const MetricsFrame& f) {
    const rl::device_info& d = f.device;
    const bool cpu = d.kind == "cpu";
    set(QStringLiteral("device"), QString::fromStdString(d.name.empty() ? "unknown" : d.name));
    set(QStringLiteral("backend"), f.backendName);
    set(QStringLiteral("units"), d.compute_units > 0 ? (cpu ? tr("%1 threads") : tr("%1 SMs")).arg(d.compute_units)
                                                     : QStringLiteral("–"));
    QString mem = tr("weights %1 · KV pool %2").arg(bytes(f.weightBytes), bytes(f.kvPoolBytes));
    if (d.total_memory > 0)
        mem += tr(" · free %1 of %2").arg(bytes(double(d.free_memory)), bytes(double(d.total_memory)));
    set(QStringLiteral("memory"), mem);
    set(QStringLiteral("kvpool"), tr("%1 blocks × %2 tokens (%3 per block, %4)")
                                      .arg(f.kvBlocks).arg(f.blockSize)
                                      .arg(bytes(f.kvBlocks > 0 ? f.kvPoolBytes / f.kvBlocks : 0), cpu ? tr("fp32") : tr("bf16")));
    const rl::device_peaks& m = f.measured;
    QString measured = tr("not calibrated");
    if (m.flops > 0) {
        measured = tr("%1 · %2").arg(rate(m.flops, QStringLiteral("FLOP/s")), rate(m.bytes_per_s, QStringLiteral("B/s")));
        if (m.measured_at > 0)
            measured += tr(" · measured %1").arg(QDateTime::fromSecsSinceEpoch(m.measured_at).toString(QStringLiteral("yyyy-MM-dd HH:mm")));
    }
    set(QStringLiteral("measured"), measured);
    if (mRemeasure->text() != tr("Measuring…")) mRemeasure->setEnabled(f.backendName.size() > 0);
    QString spec = tr("none (no datasheet entry for this device)");
    if (f.specBandwidth > 0) {
        spec = tr("bf16 %1").arg(rate(f.specBf16, QStringLiteral("FLOP/s")));
        if (f.specFp8 > 0) spec += tr(" · fp8 %1").arg(rate(f.specFp8, QStringLiteral("FLOP/s")));
        spec += tr(" · %1").arg(rate(f.specBandwidth, QStringLiteral("B/s")));
    }
    set(QStringLiteral("spec"), spec);
    QStringList ridges;
    if (m.flops > 0 && m.bytes_per_s > 0) ridges << tr("%1 FLOP/B (measured)").arg(m.flops / m.bytes_per_s, 0, 'g', 3);
    if (f.specBandwidth > 0 && f.specBf16 > 0) ridges << tr("%1 FLOP/B (bf16 spec)").arg(f.specBf16 / f.specBandwidth, 0, 'g', 3);
    if (f.specBandwidth > 0 && f.specFp8 > 0) ridges << tr("%1 FLOP/B (fp8 spec)").arg(f.specFp8 / f.specBandwidth, 0, 'g', 3);
    set(QStringLiteral("ridge"), ridges.isEmpty() ? QStringLiteral("–") : ridges.join(QStringLiteral(" · ")));
}

void DevicePanel::clear() {
    for (QLabel* l : std::as_const(mFields)) l->setText(QStringLiteral("–"));
    setMeasuring(false);
    mRemeasure->setEnabled(false);
}
