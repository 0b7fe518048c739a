// MetricsPump.cpp: see MetricsPump.h. The worker lives on the pump thread and owns its timer; the
// only state it shares with the GUI thread is the pending frame behind a mutex.
#include "MetricsPump.h"

#include "backend/host_info.h"
#include "metrics/device_specs.h"

#include <QElapsedTimer>
#include <QThread>
#include <QTimer>

#include <mutex>
#include <string>
#include <thread>

struct MetricsPump::Shared {
    std::mutex mu;
    MetricsFrame pending;
    bool hasPending = false;
};

class MetricsPump::Worker : public QObject {
public:
    Worker(rl::engine* eng, MetricsPump* pump, std::shared_ptr<Shared> shared, rl::device_info dev,
           int snapshotMs, int kvMs)
        : mEngine(eng), mPump(pump), mShared(std::move(shared)), mDevice(std::move(dev)), mKvMs(kvMs) {
        mTimer = new QTimer(this);
        mTimer->setTimerType(Qt::PreciseTimer);
        mTimer->setInterval(snapshotMs);
        QObject::connect(mTimer, &QTimer::timeout, this, [this] { tick(); });
        const rl::engine_info& info = mEngine->info();
        mStatic.backendName = QString::fromStdString(info.backend);
        mStatic.modelName = QString::fromStdString(info.model_name);
        mStatic.weightBytes = double(info.weight_bytes);
        mStatic.kvBlocks = info.kv_blocks;
        mStatic.blockSize = info.block_size;
        mStatic.kvPoolBytes = double(info.kv_blocks) * double(info.kv_bytes_per_block);
        if (const rl::device_spec* s = rl::find_device_spec(mDevice.name)) {
            mStatic.specBandwidth = s->hbm_bytes_per_s;
            mStatic.specBf16 = s->bf16_flops;
            mStatic.specFp8 = s->fp8_flops;
        }
    }
    void begin() {
        mKvClock.start();
        mMemClock.start();
        tick();
        mTimer->start();
    }
    void end() { mTimer->stop(); }

private:
    void tick() {
        MetricsFrame f = mStatic;
        f.snap = mEngine->snapshot(mCursor);
        if (!f.snap.new_steps.empty()) mCursor = f.snap.new_steps.back().index;
        f.measured = mEngine->peaks();
        if (mFirst || mKvClock.elapsed() >= mKvMs) {
            mKvClock.restart();
            auto kv = std::make_shared<rl::engine::kv_map_view>(mEngine->kv_map());
            if (mFirst || kv->t_s != mLastKvT || kv->blocks.size() != mLastKvSize) {
                mLastKvT = kv->t_s;
                mLastKvSize = kv->blocks.size();
                f.kv = std::move(kv);
            }
        }
        if (mDevice.kind == "cpu" && mMemClock.elapsed() >= 1000) {   // free memory moves slowly
            mMemClock.restart();
            rl::read_host_memory(mDevice);
        }
        f.device = mDevice;
        mFirst = false;
        bool post = false;
        {
            std::lock_guard lk(mShared->mu);
            if (!mShared->hasPending) {
                mShared->pending = std::move(f);
                mShared->hasPending = post = true;
            } else {   // the GUI has not taken the last one: merge, keeping every step
                MetricsFrame& p = mShared->pending;
                auto steps = std::move(p.snap.new_steps);
                steps.insert(steps.end(), f.snap.new_steps.begin(), f.snap.new_steps.end());
                auto kv = f.kv ? f.kv : p.kv;
                p = std::move(f);
                p.snap.new_steps = std::move(steps);
                p.kv = std::move(kv);
            }
        }
        if (post) QMetaObject::invokeMethod(mPump, [pump = mPump] { pump->deliver(); }, Qt::QueuedConnection);
    }

    rl::engine* mEngine;
    MetricsPump* mPump;
    std::shared_ptr<Shared> mShared;
    rl::device_info mDevice;
    int mKvMs;
    QTimer* mTimer;
    QElapsedTimer mKvClock, mMemClock;
    MetricsFrame mStatic;
    uint64_t mCursor = 0;   // 0: the whole stored history on the first frame
    bool mFirst = true;
    double mLastKvT = -1;
    size_t mLastKvSize = 0;
};

MetricsPump::MetricsPump(QObject* parent) : QObject(parent) {
    static const int registered = qRegisterMetaType<MetricsFrame>("MetricsFrame");
    (void)registered;
}

MetricsPump::~MetricsPump() { stop(); }

void MetricsPump::setIntervals(int snapshotMs, int kvMapMs) {
    mSnapshotMs = std::max(10, snapshotMs);
    mKvMs = std::max(10, kvMapMs);
}

void MetricsPump::setDeviceInfo(const rl::device_info& info) {
    mDevice = info;
    mHaveDevice = true;
}

void MetricsPump::start(rl::engine* eng) {
    stop();
    if (!eng) return;
    // The engine reports its backend's device as read at load time; the CPU's free memory is
    // refreshed from /proc while running (the GPU's is fixed by the pool sizing).
    rl::device_info dev = mHaveDevice ? mDevice : eng->device();
    mShared = std::make_shared<Shared>();
    mThread = new QThread;
    mThread->setObjectName(QStringLiteral("MetricsPump"));
    mWorker = new Worker(eng, this, mShared, dev, mSnapshotMs, mKvMs);
    mWorker->moveToThread(mThread);
    mThread->start();
    QMetaObject::invokeMethod(mWorker, [w = mWorker] { w->begin(); }, Qt::QueuedConnection);
}

void MetricsPump::stop() {
    if (!mThread) return;
    QMetaObject::invokeMethod(mWorker, [w = mWorker] { w->end(); }, Qt::BlockingQueuedConnection);
    mThread->quit();
    mThread->wait();
    delete mWorker;   // its thread has finished: safe from here
    delete mThread;
    mWorker = nullptr;
    mThread = nullptr;
    mShared.reset();  // a deliver() still queued finds no shared state and does nothing
}

void MetricsPump::deliver() {
    if (!mShared) return;
    MetricsFrame f;
    {
        std::lock_guard lk(mShared->mu);
        if (!mShared->hasPending) return;
        f = std::move(mShared->pending);
        mShared->pending = MetricsFrame{};
        mShared->hasPending = false;
    }
    emit frameReady(f);
}

