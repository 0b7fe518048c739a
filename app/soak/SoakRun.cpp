// SoakRun.cpp: the schedule (scenarios, knob changes, samples) and the counters' bookkeeping
// across load generators and engines (a pool restart replaces both).
#include "SoakRun.h"

#include "EngineBridge.h"
#include "ServerController.h"
#include "ServingController.h"
#include "SettingsStore.h"
#include "soak_api_load.h"
#include "soak_probe.h"

#include "backend/host_info.h"
#include "common/diag_counters.h"
#include "runtime/engine.h"
#include "runtime/load_generator.h"

#include <QCoreApplication>
#include <QFileInfo>

#include <cstdio>

namespace {
const char* const kScenarios[] = {"chat", "idle-return", "ramp"};

LoadCounters& operator+=(LoadCounters& a, const LoadCounters& b) {
    a.submitted += b.submitted;
    a.finished += b.finished;
    a.rejected += b.rejected;
    a.errors += b.errors;
    a.cancelled += b.cancelled;
    a.streamedTokens += b.streamedTokens;
    a.generatedTokens += b.generatedTokens;
    a.mismatched += b.mismatched;
    if (!b.lastError.isEmpty()) a.lastError = b.lastError;
    return a;
}
} // namespace

SoakRun::SoakRun(const SoakOptions& opt, QObject* parent)
    : QObject(parent), mOpt(opt), mSettings(new SettingsStore(this, opt.settingsDir)),
      mBridge(new EngineBridge(this)), mServing(new ServingController(mBridge, mSettings, this)),
      mServer(new ServerController(mBridge, mSettings, this)) {
    connect(mBridge, &EngineBridge::loaded, this, [this] { onLoaded(); });
    connect(mBridge, &EngineBridge::loadFailed, this, [this](const QString& why) {
        std::fprintf(stderr, "ridgeline-soak: %s\n", qPrintable(why));
        emit finished(1);
    });
    // The last counters of a load generator that stops (a new scenario, or the engine's unload).
    connect(mBridge, &EngineBridge::loadCountersChanged, this, [this](const LoadCounters& c) {
        if (!c.running) mDone += c;
    });
    connect(mBridge, &EngineBridge::aboutToUnload, this, [this] {
        if (mBridge->engine()) mEngineTokensBefore += mBridge->engine()->snapshot().generation_tokens;
    });
    mTick.setInterval(250);
    connect(&mTick, &QTimer::timeout, this, [this] { tick(); });
}

SoakRun::~SoakRun() {
    mApi.reset();
    mServer->shutdown();
}

void SoakRun::start() {
    QString why;
    if (mServing->change(mOpt.engine.serving, &why) == ServingController::Result::Refused) {
        std::fprintf(stderr, "ridgeline-soak: %s\n", qPrintable(why));
        emit finished(2);
        return;
    }
    if (mOpt.apiClients > 0) {
        ApiServerSettings s;
        s.enabled = true;
        s.port = mOpt.apiPort ? mOpt.apiPort : rl::soak::free_tcp_port();
        mServer->setSettings(s);   // starts once a model is loaded, as in the window
    }
    const QString path = mOpt.engine.modelPath;
    mModelId = path.startsWith(QStringLiteral("synthetic:")) ? path : QFileInfo(path).completeBaseName();
    mCsv.setFileName(mOpt.csvPath);
    if (!mCsv.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) {
        std::fprintf(stderr, "ridgeline-soak: cannot write %s\n", qPrintable(mOpt.csvPath));
        emit finished(2);
        return;
    }
    mOut.setDevice(&mCsv);
    mOut << "t_s,scenario,rss_mib,gpu_used_mib,gpu_process_mib,submitted,ended,in_flight,stalled,mismatched,"
            "streamed_tokens,generated_tokens,engine_generated_tokens,kv_used_blocks,kv_cached_blocks,kv_total_blocks,running,"
            "waiting,api_streams_ok,api_plain_ok,api_abandoned,api_interrupted,api_failed,rejected,errors,heap_mib,gemm_plans,cuda_graphs,loads,"
            "rss_anon_mib,rss_file_mib,heap_free_mib,cuda_graphs_live,event\n";
    mOut.flush();
    EngineSettings es = mOpt.engine;
    es.serving = mServing->wanted();
    mBridge->loadModel(es);
}

void SoakRun::onLoaded() {
    ++mLoads;
    if (mLoads == 1) {
        mClock.start();
        mNextKnob = mOpt.firstKnobS;
        mTick.start();
        if (mOpt.apiClients > 0) {
            if (!mServer->isRunning()) {
                std::fprintf(stderr, "ridgeline-soak: the API server is not running: %s\n",
                             qPrintable(mServer->statusText()));
                emit finished(1);
                return;
            }
            mApi = std::make_unique<rl::soak::api_load>(mServer->port(), mModelId.toStdString(), mOpt.apiClients, 1);
        }
        tick();
        return;
    }
    // A pool restart finished: the window's panel leaves the virtual users stopped; the soak
    // starts the current scenario again on the new engine.
    mRestarting = false;
    if (mApi) mApi->set_restarting(false);
    mPendingEvent += QStringLiteral(" restart done;");
    --mSegment;
    nextSegment();
}

void SoakRun::tick() {
    if (mEnded) return;
    const double t = elapsed();
    if (t >= mOpt.durationS) return finish();
    if (t >= mNextSegment) {
        mNextSegment += mOpt.segmentS;
        if (!mRestarting) nextSegment();
    }
    if (t >= mNextKnob) {
        mNextKnob += mOpt.knobEveryS;
        if (!mRestarting) changeKnob();
    }
    if (t >= mNextSample) {
        mNextSample += mOpt.sampleEveryS;
        sample(mPendingEvent.trimmed());
        mPendingEvent.clear();
    }
}

void SoakRun::nextSegment() {
    ++mSegment;
    rl::scenario sc = rl::scenario_preset(kScenarios[mSegment % 3]);
    sc.users = mOpt.users;
    sc.temperature = mOpt.temperature;
    sc.top_p = mOpt.topP;
    sc.seed = uint64_t(mSegment + 1);
    if (const QString why = mBridge->startLoadGenerator(sc); !why.isEmpty())
        mPendingEvent += QStringLiteral(" scenario %1 refused: %2;").arg(sc.name.c_str(), why);
    else
        mPendingEvent += QStringLiteral(" scenario %1;").arg(sc.name.c_str());
}

void SoakRun::changeKnob() {
    // The cycle: the block size (a pool restart), halve the step's token budget, prefix caching
    // off, the budget back, prefix caching on, the block size back (a restart). The batch limit
    // stays: raising it live would let the decode batch, and with it the per-step buffers (a
    // logits row per sequence), reach a new high-water mark inside the judged window, which the
    // memory slope would read as growth.
    const rl::serving_config was = mServing->wanted();
    rl::serving_config next = was;
    QString what;
    switch (mKnobStep++ % 6) {
    case 0: case 5: next.block_size = was.block_size == 16 ? 32 : 16; what = "block_size"; break;
    case 1: next.max_num_batched_tokens = std::max(256, was.max_num_batched_tokens / 2); what = "max_num_batched_tokens"; break;
    case 3: next.max_num_batched_tokens = mOpt.engine.serving.max_num_batched_tokens; what = "max_num_batched_tokens"; break;
    default: next.prefix_caching = !was.prefix_caching; what = "prefix_caching"; break;
    }
    const auto value = [&](const rl::serving_config& c) {
        return what == "block_size" ? c.block_size : what == "prefix_caching" ? int(c.prefix_caching) : c.max_num_batched_tokens;
    };
    QString why;
    const auto r = mServing->change(next, &why);
    mPendingEvent += QStringLiteral(" %1 %2->%3").arg(what).arg(value(was)).arg(value(next));
    if (r == ServingController::Result::Refused) {
        mPendingEvent += QStringLiteral(" refused: %1;").arg(why);
        return;
    }
    if (r == ServingController::Result::NeedsRestart) {
        mRestarting = true;
        if (mApi) mApi->set_restarting(true);
        ++mRestarts;
        mPendingEvent += mServing->restartPool() ? QStringLiteral(" (pool restart);") : QStringLiteral(" (restart refused);");
        return;
    }
    mPendingEvent += QStringLiteral(";");
}

void SoakRun::sample(const QString& event) {
    LoadCounters c = mDone;
    const LoadCounters cur = mBridge->loadCounters();
    c += cur;
    const quint64 ended = c.finished + c.rejected + c.errors + c.cancelled;
    rl::metrics_snapshot s;
    if (mBridge->engine()) s = mBridge->engine()->snapshot();
    const rl::soak::api_counts a = mApi ? mApi->counts() : rl::soak::api_counts{};
    const double rss = rl::process_resident_mib(), heap = rl::heap_in_use_mib(), heap_free = rl::heap_free_mib();
    const rl::resident_split split = rl::process_resident_split();
    const rl::soak::gpu_memory g = rl::soak::gpu_memory_mib();
    mMaxStalled = std::max(mMaxStalled, cur.stalled);
    QString ev = event;
    ev.replace(',', ' ');
    mOut << QString::number(elapsed(), 'f', 1) << ',' << kScenarios[std::max(0, mSegment) % 3] << ','
         << QString::number(rss, 'f', 2) << ',' << g.device_used << ',' << g.this_process << ',' << c.submitted << ','
         << ended << ',' << cur.inFlight << ',' << cur.stalled << ',' << c.mismatched << ',' << c.streamedTokens << ','
         << c.generatedTokens << ',' << (mEngineTokensBefore + s.generation_tokens) << ',' << s.kv_used << ',' << s.kv_cached << ','
         << s.kv_total << ',' << s.num_requests_running << ',' << s.num_requests_waiting << ',' << a.streams_ok << ','
         << a.plain_ok << ',' << a.abandoned << ',' << a.interrupted << ',' << a.failed << ',' << c.rejected << ',' << c.errors << ',' << QString::number(heap, 'f', 2) << ','
         << rl::diag::gemm_plans_created.load() << ',' << rl::diag::graphs_instantiated.load() << ',' << mLoads << ','
         << QString::number(split.anon_mib, 'f', 2) << ',' << QString::number(split.file_mib, 'f', 2) << ','
         << QString::number(heap_free, 'f', 2) << ',' << rl::diag::graphs_live.load() << ',' << ev << '\n';
    mOut.flush();
    std::fprintf(stderr,
                 "t=%6.0fs %-11s rss %7.1f MiB heap %7.1f MiB plans %llu graphs %llu gpu %6lld MiB | submitted %llu ended %llu in flight %d stalled %d "
                 "mismatched %llu | kv %d+%d cached/%d batch %d waiting %d | api ok %llu/%llu abandoned %llu interrupted %llu "
                 "failed %llu %s\n",
                 elapsed(), kScenarios[std::max(0, mSegment) % 3], rss, heap,
                 (unsigned long long)rl::diag::gemm_plans_created.load(),
                 (unsigned long long)rl::diag::graphs_instantiated.load(), (long long)g.device_used,
                 (unsigned long long)c.submitted, (unsigned long long)ended, cur.inFlight, cur.stalled,
                 (unsigned long long)c.mismatched, s.kv_used, s.kv_cached, s.kv_total, s.num_requests_running,
                 s.num_requests_waiting, (unsigned long long)a.streams_ok, (unsigned long long)a.plain_ok,
                 (unsigned long long)a.abandoned, (unsigned long long)a.interrupted, (unsigned long long)a.failed,
                 qPrintable(ev));
    if (c.errors > 0 && !c.lastError.isEmpty())
        std::fprintf(stderr, "  requests errored %llu, last: %s\n", (unsigned long long)c.errors, qPrintable(c.lastError));
    if (a.failed > 0 && !a.last_failure.empty())
        std::fprintf(stderr, "  last API failure: %s\n", a.last_failure.c_str());
}

void SoakRun::finish() {
    mEnded = true;
    mTick.stop();
    mBridge->stopLoadGenerator();   // first: its cancels free the batch for the API's last requests
    if (mApi) mApi->stop();
    if (mBridge->engine()) mBridge->engine()->wait_idle();
    sample(QStringLiteral("end"));
    const LoadCounters& c = mDone;   // every generator has stopped: all of it is here
    const quint64 ended = c.finished + c.rejected + c.errors + c.cancelled;
    const rl::soak::api_counts a = mApi ? mApi->counts() : rl::soak::api_counts{};
    const bool good = ended == c.submitted && c.mismatched == 0 && mMaxStalled == 0 && a.failed == 0 && c.errors == 0;
    std::fprintf(stderr,
                 "ridgeline-soak: %s: submitted %llu, ended %llu (stuck %lld), most stalled at once %d, "
                 "mismatched %llu, errored %llu, API failed %llu, pool restarts %d\n",
                 good ? "ok" : "FAILED", (unsigned long long)c.submitted, (unsigned long long)ended,
                 (long long)c.submitted - (long long)ended, mMaxStalled, (unsigned long long)c.mismatched,
                 (unsigned long long)c.errors, (unsigned long long)a.failed, mRestarts);
    emit finished(good ? 0 : 3);
}
