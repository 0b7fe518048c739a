// MetricsPump: polls an rl::engine from its own QThread and hands the UI value frames. Every
// 100 ms it takes engine->snapshot(cursor) (the steps after the last one seen), every 250 ms the
// KV map, and emits frameReady(MetricsFrame) on the thread that owns the pump (the GUI thread),
// through a queued call. Frames the GUI has not picked up yet are merged (their steps appended),
// so a busy GUI sees fewer, larger frames and never a backlog. stop() blocks until the pump no
// longer touches the engine: call it before destroying the engine.
// Exercise: tests/test_workbench_plots.cpp (liveEngine).
#pragma once
#include "MetricsFrame.h"

#include <QObject>

#include <memory>

class QThread;

class MetricsPump : public QObject {
    Q_OBJECT
public:
    explicit MetricsPump(QObject* parent = nullptr);
    ~MetricsPump() override;   ///< stops

    /// Starts polling `eng` (stops any previous engine first). The engine must outlive stop().
    void start(rl::engine* eng);
    /// Blocking: when it returns the pump thread is finished and will not touch the engine again.
    void stop();
    bool isRunning() const { return mThread != nullptr; }

    /// Intervals in ms (defaults 100 and 250); applies at the next start().
    void setIntervals(int snapshotMs, int kvMapMs);
    /// The engine does not expose its backend's device_info; on the CPU backend the pump refreshes
    /// the memory figures itself (rl::read_host_memory). Anything else (the CUDA backend) should be supplied here before start().
    void setDeviceInfo(const rl::device_info& info);

signals:
    void frameReady(const MetricsFrame& frame);

private:
    struct Shared;
    class Worker;
    void deliver();

    QThread* mThread = nullptr;
    Worker* mWorker = nullptr;
    std::shared_ptr<Shared> mShared;
    rl::device_info mDevice;
    bool mHaveDevice = false;
    int mSnapshotMs = 100;
    int mKvMs = 250;
};
