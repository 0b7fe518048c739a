// EngineBridge: engine ownership and the engine-thread -> GUI-thread hop (see EngineBridge.h).
// Threading contract: the loader thread and the engine thread only ever call
// QMetaObject::invokeMethod(this, ..., Qt::QueuedConnection); every member is read and written on
// the GUI thread, except mPending* (under mPendingMutex). The destructor joins the loader, stops
// the virtual users, and destroys the engine (which joins its thread) before QObject's destructor
// drops any events still queued for us, so no callback outlives this object.
#include "EngineBridge.h"
#include "PeakCache.h"

#include "SamplingKnobs.h"

#include "MetricsPump.h"

#include "backend/host_info.h"

#include "common/engine_error.h"
#include "runtime/engine.h"
#include "runtime/load_generator.h"

#include <QFileInfo>

#include <optional>
#include <utility>

namespace {

ReplyStats toReplyStats(const rl::token_event& ev) {
    ReplyStats s;
    s.finishReason = QString::fromLatin1(rl::to_string(ev.finish));
    s.error = QString::fromStdString(ev.error);
    s.promptTokens = ev.stats.prompt_tokens;
    s.generatedTokens = ev.stats.generated_tokens;
    s.cachedPromptTokens = ev.stats.cached_prompt_tokens;
    s.queueMs = ev.stats.queue_ms;
    s.ttftMs = ev.stats.ttft_ms;
    s.decodeTokS = ev.stats.decode_tok_s;
    s.e2eMs = ev.stats.e2e_ms;
    return s;
}

ModelSummary toSummary(const rl::engine_info& i) {
    ModelSummary m;
    m.path = QString::fromStdString(i.model_path);
    m.name = Format::modelName(m.path, QString::fromStdString(i.model_name));
    m.arch = QString::fromStdString(i.arch);
    m.backend = QString::fromStdString(i.backend);
    m.chatTemplate = QString::fromStdString(i.chat_template);
    m.templateWarning = QString::fromStdString(i.template_warning);
    m.params = i.params;
    m.weightBytes = i.weight_bytes;
    m.weightTypes = QString::fromStdString(i.weight_types);
    m.contextLength = i.context_length;
    m.kvBlocks = i.kv_blocks;
    m.blockSize = i.block_size;
    m.autoBatchedTokens = i.auto_batched_tokens;
    return m;
}

} // namespace

EngineBridge::EngineBridge(QObject* parent) : QObject(parent), mPump(new MetricsPump(this)) {
    qRegisterMetaType<ModelSummary>();
    qRegisterMetaType<ReplyStats>();
    qRegisterMetaType<LoadCounters>();
    mCountersTimer.setInterval(500);
    connect(&mCountersTimer, &QTimer::timeout, this, [this] { emit loadCountersChanged(loadCounters()); });
}

EngineBridge::~EngineBridge() {
    if (mLoader.joinable()) mLoader.join();
    {
        std::lock_guard lock(mPendingMutex);
        mPendingEngine.reset();
    }
    mCountersTimer.stop();
    mPump->stop();
    if (mLoadGen) mLoadGen->stop();
    mLoadGen.reset();  // before the engine it talks to
    mEngine.reset();   // joins the engine thread; its last events are queued and then dropped
    if (mCalibrator.joinable()) mCalibrator.join();   // its future is settled or broken now
}

bool EngineBridge::loadModel(const EngineSettings& settings) {
    if (mLoaderBusy) return false;
    if (mLoader.joinable()) mLoader.join();   // finished: it has posted its result already
    mPendingSource = settings;
    mLoading = mLoaderBusy = true;
    const quint64 ticket = ++mLoadTicket;

    rl::engine_options opt;
    opt.model_path = settings.modelPath.toStdString();
    opt.backend = settings.backend.toStdString();
    if (!rl::parse_weight_storage(settings.weights.toStdString(), opt.weights)) opt.weights = rl::weight_storage::automatic;
    opt.threads = settings.threads;
    opt.calibrate = settings.calibrate;
    if (mPeakStore) opt.known_peaks = PeakCache::read(*mPeakStore);
    opt.serving = settings.serving;

    // A reload of the same model (a pool restart) keeps the virtual users running: they resume
    // on the new engine with fresh conversations, so before and after can be compared.
    mResume.reset();
    if (mLoadGen && settings.modelPath == mSource.modelPath) {
        mResume = std::make_unique<rl::scenario>(mLoadGen->get_scenario());
        mResumePaused = mLoadPaused;
    }
    // On a GPU the old engine's weights and KV pool hold the memory the new one is sized from
    // (its pool takes gpu_memory_utilization of the card, less what is in use): loaded beside
    // the old one it finds no room ("KV pool of 0 blocks"). So there the old engine goes first;
    // on the CPU it serves until the new one is ready.
    if (mEngine && mModel.backend.section(QLatin1Char(' '), 0, 0) != QLatin1String("cpu")) unload();

    // A measurement taken while the old engine still serves (the CPU reload) reads a busy machine:
    // it is used, not kept for later launches.
    mPendingAlone = mEngine == nullptr;
    emit loadStarted(settings.modelPath);
    mLoader = std::thread([this, ticket, opt] {
        std::unique_ptr<rl::engine> e;
        QString error;
        try {
            e = rl::engine::create(opt);
        } catch (const std::exception& ex) {
            error = QString::fromStdString(ex.what());
        } catch (...) {
            error = QStringLiteral("unknown error while loading the model");
        }
        {
            std::lock_guard lock(mPendingMutex);
            mPendingEngine = std::move(e);
            mPendingError = error;
        }
        QMetaObject::invokeMethod(this, [this, ticket] { onLoadDone(ticket); }, Qt::QueuedConnection);
    });
    return true;
}

void EngineBridge::cancelLoad() {
    if (!mLoading) return;
    ++mLoadTicket;   // the result, when it arrives, is stale
    mLoading = false;
    emit loadCancelled();
}

void EngineBridge::onLoadDone(quint64 ticket) {
    if (mLoader.joinable()) mLoader.join();   // it has posted us and is returning
    mLoaderBusy = false;
    std::unique_ptr<rl::engine> e;
    QString error;
    {
        std::lock_guard lock(mPendingMutex);
        e = std::move(mPendingEngine);
        error = mPendingError;
    }
    if (ticket != mLoadTicket) return;   // cancelled: e (if any) is destroyed here, unused
    mLoading = false;
    if (!e) {
        if (error.isEmpty()) error = QStringLiteral("the engine returned no model");
        emit loadFailed(error);
        return;
    }
    const std::unique_ptr<rl::scenario> resume = std::move(mResume);
    const bool paused = mResumePaused;
    unload();
    mSource = mPendingSource;
    mEngine = std::move(e);
    mModel = toSummary(mEngine->info());
    mModel.layers = mEngine->config().n_layers;
    if (mPeakStore && mPendingAlone && !mEngine->info().peaks_known)
        PeakCache::remember(*mPeakStore, mEngine->info().peaks_key, mEngine->peaks());
    mPump->start(mEngine.get());
    if (resume && startLoadGenerator(*resume).isEmpty()) setLoadGeneratorPaused(paused);
    emit loaded(mModel);
}

void EngineBridge::unload() {
    if (!mEngine) return;
    stopLoadGenerator();
    mPump->stop();
    emit aboutToUnload();
    ++mGeneration;                   // anything the old engine still sends is stale
    const QSet<quint64> ids = mInFlight;
    mInFlight.clear();
    const bool measuring = mMeasuring;
    mEngine.reset();   // a measurement under way breaks off; its waiter then ends
    joinCalibrator();
    if (measuring) emit peaksMeasureFailed(QStringLiteral("the model was unloaded before the measurement ended"));
    rl::release_free_heap();
    mModel = ModelSummary();
    for (quint64 id : ids) {
        ReplyStats s;
        s.finishReason = QStringLiteral("cancelled");
        s.error = QStringLiteral("model unloaded");
        emit requestFinished(id, s);
    }
    emit unloaded();
}

quint64 EngineBridge::submitChat(const QList<ChatTurn>& turns, const GenerationSettings& gen,
                                 quint64 conversationId, QString* error) {
    auto fail = [&](const QString& why) -> quint64 {
        if (error) *error = why;
        return 0;
    };
    if (!mEngine) return fail(mLoading ? tr("the model is still loading") : tr("no model is loaded"));

    std::vector<rl::chat_message> messages;
    messages.reserve(size_t(turns.size()));
    for (const ChatTurn& t : turns) messages.push_back({t.role.toStdString(), t.content.toStdString()});

    rl::request r;
    try {
        r.prompt = mEngine->tokenize_chat(messages);
    } catch (const std::exception& ex) {
        return fail(tr("could not build the prompt: %1").arg(QString::fromStdString(ex.what())));
    }
    r.conversation_id = conversationId;
    r.priority = gen.priority;
    r.max_tokens = gen.maxTokens;
    r.sampling = toSamplingParams(gen);
    r.report_progress = true;   // the chat says "processing prompt N%" while it waits
    const quint64 generation = mGeneration;
    // Engine thread: copy the event, post it to the GUI thread, return.
    r.on_event = [this, generation](const rl::token_event& ev) {
        QMetaObject::invokeMethod(this, [this, generation, ev] { deliver(generation, ev); },
                                  Qt::QueuedConnection);
    };
    quint64 id = 0;
    try {
        id = mEngine->submit(std::move(r));
    } catch (const std::exception& ex) {
        return fail(QString::fromStdString(ex.what()));
    }
    mInFlight.insert(id);
    return id;
}

void EngineBridge::cancel(quint64 requestId) {
    if (mEngine && mInFlight.contains(requestId)) mEngine->cancel(requestId);
}

void EngineBridge::deliver(quint64 generation, const rl::token_event& ev) {
    if (generation != mGeneration || !mInFlight.contains(ev.request_id)) return;
    if (ev.prompt_computed >= 0) {
        emit promptProgress(ev.request_id, ev.prompt_computed, ev.prompt_total);
        return;
    }
    if (!ev.text.empty()) emit tokenReceived(ev.request_id, QString::fromStdString(ev.text));
    if (ev.finish != rl::finish_reason::none) {
        mInFlight.remove(ev.request_id);
        emit requestFinished(ev.request_id, toReplyStats(ev));
    }
}

QString EngineBridge::applyServing(const rl::serving_config& cfg) {
    if (!mEngine) return tr("no model is loaded");
    return QString::fromStdString(mEngine->apply(cfg));
}

QString EngineBridge::startLoadGenerator(const rl::scenario& sc) {
    if (!mEngine) return tr("no model is loaded");
    stopLoadGenerator();
    try {
        mLoadGen = std::make_unique<rl::load_generator>(*mEngine, sc);
        mLoadGen->start();
    } catch (const std::exception& ex) {
        mLoadGen.reset();
        return QString::fromStdString(ex.what());
    }
    mLoadPaused = false;
    mCountersTimer.start();
    emit loadCountersChanged(loadCounters());
    return {};
}

void EngineBridge::setLoadGeneratorPaused(bool paused) {
    if (!mLoadGen) return;
    mLoadGen->set_paused(paused);
    mLoadPaused = paused;
    emit loadCountersChanged(loadCounters());
}

void EngineBridge::stopLoadGenerator() {
    if (!mLoadGen) return;
    mCountersTimer.stop();
    mLoadGen->stop();
    LoadCounters last = loadCounters();
    mLoadGen.reset();
    last.running = false;
    last.paused = false;
    emit loadCountersChanged(last);
}

LoadCounters EngineBridge::loadCounters() const {
    LoadCounters c;
    if (!mLoadGen) return c;
    const rl::load_counters k = mLoadGen->counters();
    c.running = true;
    c.paused = mLoadPaused;
    c.scenario = QString::fromStdString(mLoadGen->get_scenario().name);
    c.submitted = k.submitted;
    c.finished = k.finished;
    c.rejected = k.rejected;
    c.errors = k.errors;
    c.streamedTokens = k.streamed_tokens;
    c.cancelled = k.cancelled;
    c.generatedTokens = k.generated_tokens;
    c.mismatched = k.mismatched;
    c.inFlight = k.in_flight;
    c.stalled = k.stalled;
    c.activeUsers = k.active_users;
    c.lastError = QString::fromStdString(k.last_error);
    return c;
}

bool EngineBridge::remeasurePeaks() {
    if (!mEngine || mMeasuring) return false;
    joinCalibrator();
    mMeasuring = true;
    // Queued here, on the GUI thread: the waiter holds only the future, never the engine, so an
    // unload need not wait for it (the engine's end breaks the promise).
    std::future<rl::device_peaks> result = mEngine->recalibrate();
    const quint64 generation = mGeneration;
    mCalibrator = std::thread([this, generation, f = std::move(result)]() mutable {
        rl::device_peaks p;
        bool ok = false;
        QString error;
        try {
            p = f.get();
            ok = true;
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());
        } catch (...) {
            error = QStringLiteral("unknown error");
        }
        QMetaObject::invokeMethod(this, [this, generation, p, ok, error] {
            if (generation != mGeneration || !mEngine) return;   // that engine is gone (unload said so)
            mMeasuring = false;
            if (!ok) {
                emit peaksMeasureFailed(error);
                return;
            }
            if (mPeakStore) PeakCache::remember(*mPeakStore, mEngine->info().peaks_key, p);
            emit peaksMeasured(p.flops, p.bytes_per_s);
        }, Qt::QueuedConnection);
    });
    return true;
}

void EngineBridge::joinCalibrator() {
    // The waiter ends once its future is ready: the measurement done, or the engine gone.
    if (mCalibrator.joinable()) mCalibrator.join();
    mMeasuring = false;
}
