// ridgeline-serve's HTTP layer (server/), in-process on 127.0.0.1 and an ephemeral port, with the
// real default model on the CPU backend, driven by a real client: curl through popen.
// Covers /health, /v1/models and /v1/models/{id}, chat (plain and SSE) with usage, stop strings,
// error statuses, SDK default fields, the API key, /metrics (format, vLLM names, cumulative histograms; checked again by
// prometheus_client's parser from Debian's python3-prometheus-client) and a client that
// disconnects mid-stream (its request is cancelled).
#include "rl_test.h"
#include "serve_fixture.h"

#include "server/api_server.h"
#include "runtime/engine.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>
#include <unistd.h>

using nlohmann::json;

namespace {

bool haveModel() { return std::ifstream(RL_MODEL_PATH).good(); }

struct Reply {
    int status = 0;
    std::string body;
    int curlExit = 0;
};

// A running server over one engine, shared by every test slot (loading the model once).
struct Fixture {
    std::unique_ptr<rl::engine> engine;
    std::unique_ptr<rl::api_server> server;
    std::thread thread;
    int port = -1;
    int completed = 0;   // completions that ended normally (the e2e histogram's count)

    Fixture() {
        engine = raw_http::make_test_engine();
        server = make("", port);
        thread = std::thread([srv = server.get()] { srv->run(); });
    }
    // A server on an ephemeral port of 127.0.0.1, bound but not yet running.
    std::unique_ptr<rl::api_server> make(const std::string& key, int& boundPort) {
        rl::serve_options so;
        so.port = 0;
        so.api_key = key;
        auto s = std::make_unique<rl::api_server>(*engine, rl::api_server::model_id_for(RL_MODEL_PATH), so);
        std::string error;
        boundPort = s->bind(error);
        return s;
    }
    ~Fixture() {
        if (server) server->stop();
        if (thread.joinable()) thread.join();
        server.reset();
        engine.reset();
    }
    std::string model() const { return server->model_id(); }
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

std::string shellQuote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::string writeTemp(const std::string& content) {
    char name[] = "/tmp/rl_test_serve_XXXXXX";
    const int fd = mkstemp(name);
    if (fd >= 0) {
        (void)!write(fd, content.data(), content.size());
        close(fd);
    }
    return name;
}

// curl with the body from a file; the status code is appended after a marker line.
Reply curl(int port, const std::string& path, const std::string* body = nullptr, const std::string& extra = "") {
    std::string cmd = "curl -sS -N " + extra + " -o - -w '\\n@@STATUS %{http_code}' ";
    std::string file;
    if (body) {
        file = writeTemp(*body);
        cmd += "-H 'Content-Type: application/json' --data-binary @" + file + " ";
    }
    cmd += shellQuote("http://127.0.0.1:" + std::to_string(port) + path) + " 2>/dev/null";
    Reply r;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    char buf[65536];
    size_t n;
    std::string out;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    const int rc = pclose(p);
    r.curlExit = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (!file.empty()) std::remove(file.c_str());
    const size_t m = out.rfind("\n@@STATUS ");
    if (m != std::string::npos) {
        r.status = std::atoi(out.c_str() + m + 10);
        out.resize(m);
    }
    r.body = out;
    return r;
}

Reply post(const std::string& path, const json& body, const std::string& extra = "") {
    const std::string s = body.dump();
    return curl(fixture().port, path, &s, extra);
}

json chatBody(const std::string& model, int maxTokens, bool stream) {
    return {{"model", model},
            {"messages", {{{"role", "system"}, {"content", "You are brief."}}, {{"role", "user"}, {"content", "Name three colours."}}}},
            {"max_tokens", maxTokens},
            {"temperature", 0},
            {"stream", stream}};
}

// Parses an SSE body: the concatenated deltas, the finish reason, whether it ended with [DONE].
struct Sse {
    std::string text;
    std::string finish;
    bool done = false;
    int chunks = 0;
    bool wellFormed = true;
};
Sse parseSse(const std::string& body, bool chat) {
    Sse s;
    std::istringstream in(body);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == ':') continue;
        if (line.rfind("data: ", 0) != 0 || s.done) { s.wellFormed = false; continue; }
        const std::string data = line.substr(6);
        if (data == "[DONE]") { s.done = true; continue; }
        const json j = json::parse(data, nullptr, false);
        if (j.is_discarded() || !j.contains("choices")) { s.wellFormed = false; continue; }
        ++s.chunks;
        if (j["choices"].empty()) continue;
        const json& c = j["choices"][0];
        if (chat && c["delta"].contains("content")) s.text += c["delta"]["content"].get<std::string>();
        if (!chat) s.text += c["text"].get<std::string>();
        if (!c["finish_reason"].is_null()) s.finish = c["finish_reason"].get<std::string>();
    }
    return s;
}

// The newest record of an API request (the tests send one request at a time; response ids are
// random, so the record is found by its owner's API bit, not by id).
const rl::request_record* lastApiRecord(const std::vector<rl::request_record>& recs) {
    const rl::request_record* last = nullptr;
    for (const auto& r : recs)
        if (r.owner & rl::kOwnerApiBit) last = &r;
    return last;
}

// name{labels} value  ->  (name, labels, value); false when the line does not have that shape.
bool parseSample(const std::string& line, std::string& name, std::string& labels, double& value) {
    static const std::regex re(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (\S+)$)");
    std::smatch m;
    if (!std::regex_match(line, m, re)) return false;
    name = m[1];
    labels = m[2];
    try {
        value = m[3] == "+Inf" ? INFINITY : std::stod(m[3]);
    } catch (const std::exception&) {
        return false;
    }
    return true;
}

} // namespace

class TestServe : public QObject {
    Q_OBJECT
private slots:
    void healthAndModels() {
        if (!haveModel()) QFAIL("model missing: run scripts/fetch-model");
        Fixture& f = fixture();
        QVERIFY(f.port > 0);
        Reply h = curl(f.port, "/health");
        QCOMPARE(h.status, 200);
        QCOMPARE(json::parse(h.body)["status"].get<std::string>(), std::string("ok"));
        Reply m = curl(f.port, "/v1/models");
        QCOMPARE(m.status, 200);
        const json j = json::parse(m.body);
        QCOMPARE(j["data"].size(), size_t(1));
        QCOMPARE(j["data"][0]["id"].get<std::string>(), f.model());
        QCOMPARE(f.model(), std::string("SmolLM2-135M-Instruct.Q4_1"));
        // GET /v1/models/{id}: the list's entry for our id, an OpenAI 404 for any other.
        Reply one = curl(f.port, "/v1/models/" + f.model());
        QCOMPARE(one.status, 200);
        QCOMPARE(json::parse(one.body), j["data"][0]);
        for (const std::string other : {"gpt-4o", "org/some-model"}) {
            Reply missing = curl(f.port, "/v1/models/" + other);
            QCOMPARE(missing.status, 404);
            const json e = json::parse(missing.body)["error"];
            QCOMPARE(e["code"].get<std::string>(), std::string("model_not_found"));
            QCOMPARE(e["type"].get<std::string>(), std::string("invalid_request_error"));
            QCOMPARE(e["param"].get<std::string>(), std::string("model"));
            QVERIFY2(e["message"].get<std::string>().find(other) != std::string::npos, missing.body.c_str());
        }
    }

    void chatWithUsageAndStreamingMatches() {
        Fixture& f = fixture();
        Reply r = post("/v1/chat/completions", chatBody(f.model(), 8, false));
        QVERIFY2(r.status == 200, r.body.c_str());
        const json j = json::parse(r.body);
        ++f.completed;
        QCOMPARE(j["object"].get<std::string>(), std::string("chat.completion"));
        const std::string text = j["choices"][0]["message"]["content"].get<std::string>();
        QVERIFY(!text.empty());
        const json& u = j["usage"];
        const auto prompt = f.engine->tokenize_chat({{"system", "You are brief."}, {"user", "Name three colours."}});
        QCOMPARE(u["prompt_tokens"].get<int>(), int(prompt.size()));
        const rl::request_record* rec = nullptr;
        const auto recs = f.engine->request_history();
        rec = lastApiRecord(recs);
        QVERIFY2(rec, "the request has no engine record under its API owner id");
        QCOMPARE(u["completion_tokens"].get<int>(), rec->generated_tokens);
        QCOMPARE(u["total_tokens"].get<int>(), int(prompt.size()) + rec->generated_tokens);
        QVERIFY(u["completion_tokens"].get<int>() <= 8);

        Reply s = post("/v1/chat/completions", chatBody(f.model(), 8, true));
        QVERIFY2(s.status == 200, s.body.c_str());
        ++f.completed;
        const Sse sse = parseSse(s.body, true);
        QVERIFY2(sse.wellFormed, s.body.c_str());
        QVERIFY(sse.done);
        QVERIFY(sse.chunks >= 3);   // role, content..., finish
        QCOMPARE(sse.text, text);
        QCOMPARE(sse.finish, j["choices"][0]["finish_reason"].get<std::string>());
    }

    void stopSequence() {
        Fixture& f = fixture();
        json body = {{"model", f.model()}, {"prompt", "The capital of France is"}, {"max_tokens", 8}, {"temperature", 0}};
        Reply full = post("/v1/completions", body);
        QVERIFY2(full.status == 200, full.body.c_str());
        ++f.completed;
        const std::string text = json::parse(full.body)["choices"][0]["text"].get<std::string>();
        QVERIFY2(text.size() >= 6, text.c_str());
        const std::string stop = text.substr(text.size() / 2, 2);
        const std::string expected = text.substr(0, text.find(stop));
        body["stop"] = json::array({"@@never@@", stop});
        Reply cut = post("/v1/completions", body);
        QVERIFY2(cut.status == 200, cut.body.c_str());
        ++f.completed;
        const json c = json::parse(cut.body);
        QCOMPARE(c["choices"][0]["text"].get<std::string>(), expected);
        QCOMPARE(c["choices"][0]["finish_reason"].get<std::string>(), std::string("stop"));
        body["stream"] = true;
        body["stop"] = stop;
        Reply cs = post("/v1/completions", body);
        QVERIFY2(cs.status == 200, cs.body.c_str());
        ++f.completed;
        const Sse sse = parseSse(cs.body, false);
        QVERIFY(sse.done);
        QCOMPARE(sse.text, expected);
        QCOMPARE(sse.finish, std::string("stop"));
    }

    void errorStatuses() {
        Fixture& f = fixture();
        json n2 = chatBody(f.model(), 4, false);
        n2["n"] = 0;
        Reply r = post("/v1/chat/completions", n2);
        QCOMPARE(r.status, 400);
        QVERIFY2(json::parse(r.body)["error"]["message"].get<std::string>().find("'n'") != std::string::npos, r.body.c_str());
        const std::string bad = R"({"model": "x", "messages": [)";
        r = curl(f.port, "/v1/chat/completions", &bad);
        QCOMPARE(r.status, 400);
        QVERIFY(json::parse(r.body)["error"].contains("message"));
        json wrong = chatBody("gpt-4o", 4, false);
        r = post("/v1/chat/completions", wrong);
        QCOMPARE(r.status, 404);
        QCOMPARE(json::parse(r.body)["error"]["code"].get<std::string>(), std::string("model_not_found"));
        json unknown = chatBody(f.model(), 4, false);
        unknown["frobnicate"] = true;
        QCOMPARE(post("/v1/chat/completions", unknown).status, 400);
        // What SDKs send at their defaults is served; a non-default value is refused, naming the field.
        json sdk = chatBody(f.model(), 2, false);
        sdk.update({{"logprobs", false}, {"top_logprobs", 0}, {"presence_penalty", 0}, {"frequency_penalty", 0},
                    {"response_format", {{"type", "text"}}}, {"logit_bias", json::object()}, {"store", false},
                    {"parallel_tool_calls", true}, {"service_tier", "auto"}, {"metadata", {{"k", "v"}}}});
        sdk["messages"][0]["role"] = "developer";
        r = post("/v1/chat/completions", sdk);
        QVERIFY2(r.status == 200, r.body.c_str());
        ++f.completed;
        sdk["top_logprobs"] = 3;   // without logprobs: true
        r = post("/v1/chat/completions", sdk);
        QCOMPARE(r.status, 400);
        QCOMPARE(json::parse(r.body)["error"]["param"].get<std::string>(), std::string("top_logprobs"));
        QVERIFY2(r.body.find("needs 'logprobs': true") != std::string::npos, r.body.c_str());
        json badType = chatBody(f.model(), 4, false);
        badType["temperature"] = "hot";
        QCOMPARE(post("/v1/chat/completions", badType).status, 400);
        json tooLong = chatBody(f.model(), 600, false);   // context is 512
        r = post("/v1/chat/completions", tooLong);
        QCOMPARE(r.status, 400);
        QCOMPARE(json::parse(r.body)["error"]["code"].get<std::string>(), std::string("context_length_exceeded"));
        const std::string huge(2u << 20, 'a');
        r = curl(f.port, "/v1/chat/completions", &huge);
        QCOMPARE(r.status, 413);
        QVERIFY(json::parse(r.body)["error"].contains("message"));
    }

    // Without temperature a request samples at 1.0 (tests/test_serve_request.cpp checks the parsed
    // defaults); an explicit seed keeps it reproducible through the engine.
    void samplingDefaults() {
        Fixture& f = fixture();
        // End to end: an explicit seed at the default temperature gives the same answer twice.
        json body = chatBody(f.model(), 8, false);
        body.erase("temperature");
        body["seed"] = 42;
        Reply r1 = post("/v1/chat/completions", body);
        Reply r2 = post("/v1/chat/completions", body);
        QVERIFY2(r1.status == 200, r1.body.c_str());
        QVERIFY2(r2.status == 200, r2.body.c_str());
        f.completed += 2;
        const std::string t1 = json::parse(r1.body)["choices"][0]["message"]["content"].get<std::string>();
        QVERIFY(!t1.empty());
        QCOMPARE(json::parse(r2.body)["choices"][0]["message"]["content"].get<std::string>(), t1);
    }

    void apiKey() {
        Fixture& f = fixture();
        int port = -1;
        auto keyed = f.make("sekret", port);
        QVERIFY(port > 0);
        std::thread t([&] { keyed->run(); });
        Reply h;
        for (int i = 0; i < 50 && h.status != 200; ++i) {
            h = curl(port, "/health");
            if (h.status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        QCOMPARE(h.status, 200);                         // /health stays open
        Reply none = curl(port, "/v1/models");
        Reply wrongKey = curl(port, "/v1/models", nullptr, "-H 'Authorization: Bearer nope'");
        Reply right = curl(port, "/v1/models", nullptr, "-H 'Authorization: Bearer sekret'");
        const json body = chatBody(f.model(), 2, false);
        const std::string b = body.dump();
        Reply chatNoKey = curl(port, "/v1/chat/completions", &b);
        keyed->stop();
        t.join();
        QCOMPARE(none.status, 401);
        QCOMPARE(json::parse(none.body)["error"]["type"].get<std::string>(), std::string("authentication_error"));
        QCOMPARE(wrongKey.status, 401);
        QCOMPARE(right.status, 200);
        QCOMPARE(chatNoKey.status, 401);
    }

    void metricsExposition() {
        Fixture& f = fixture();
        Reply r = post("/v1/chat/completions", chatBody(f.model(), 2, false));
        QVERIFY2(r.status == 200, r.body.c_str());
        ++f.completed;
        std::map<std::string, double> v;   // name -> value (histogram buckets: keyed with le)
        std::string text;
        double wholePrompts = 0, cachedPrompts = 0;   // from the engine's request records
        for (int attempt = 0; attempt < 30; ++attempt) {   // stop-string requests end asynchronously
            v.clear();
            // vllm:prompt_tokens_total counts every prompt whole (prefix-cached tokens included),
            // once, when its first token comes. Every request so far had one.
            wholePrompts = cachedPrompts = 0;
            for (const auto& rec : f.engine->request_history())
                if (rec.generated_tokens > 0) {
                    wholePrompts += rec.prompt_tokens;
                    cachedPrompts += rec.cached_prompt_tokens;
                }
            Reply m = curl(f.port, "/metrics");
            QCOMPARE(m.status, 200);
            text = m.body;
            std::istringstream in(text);
            std::string line, name, labels;
            double value = 0;
            while (std::getline(in, line)) {
                if (line.empty()) continue;
                if (line[0] == '#') {
                    QVERIFY2(line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0, line.c_str());
                    continue;
                }
                QVERIFY2(parseSample(line, name, labels, value), line.c_str());
                QVERIFY2(labels.find("engine=\"0\",model_name=\"" + f.model() + "\"") == 0, line.c_str());
                const size_t le = labels.find(",le=\"");
                v[le == std::string::npos ? name : name + labels.substr(le)] = value;
            }
            if (v["vllm:e2e_request_latency_seconds_count"] == f.completed && v["vllm:prompt_tokens_total"] == wholePrompts)
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        for (const char* n : {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
                              "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total",
                              "vllm:num_preemptions_total", "vllm:prompt_tokens_total", "vllm:generation_tokens_total",
                              "vllm:iteration_tokens_total_count", "vllm:time_to_first_token_seconds_count",
                              "vllm:time_per_output_token_seconds_count", "vllm:e2e_request_latency_seconds_count",
                              "vllm:request_queue_time_seconds_count", "ridgeline:flops_utilization",
                              "ridgeline:bandwidth_utilization", "ridgeline:kv_evicted_blocks_total",
                              "ridgeline:recomputed_tokens_total", "ridgeline:rejected_requests_total"})
            QVERIFY2(v.count(n), (std::string("missing ") + n).c_str());
        QVERIFY(text.find("# TYPE vllm:prompt_tokens_total counter") != std::string::npos);
        QVERIFY(text.find("# TYPE vllm:e2e_request_latency_seconds histogram") != std::string::npos);
        QVERIFY(text.find("# TYPE vllm:num_requests_running gauge") != std::string::npos);
        QVERIFY(v["vllm:prompt_tokens_total"] > 0);
        QCOMPARE(v["vllm:prompt_tokens_total"], wholePrompts);
        QVERIFY2(cachedPrompts > 0, "no prompt hit the prefix cache: the check above cannot tell whole from computed");
        QVERIFY(v["vllm:prefix_cache_hits_total"] > 0);
        QVERIFY(v["vllm:generation_tokens_total"] > 0);
        QVERIFY(v["vllm:prefix_cache_queries_total"] > 0);
        QVERIFY(v["vllm:iteration_tokens_total_count"] > 0);
        QCOMPARE(v["vllm:e2e_request_latency_seconds_count"], double(f.completed));
        QCOMPARE(v["vllm:request_queue_time_seconds_count"], double(f.completed));
        QCOMPARE(v["vllm:time_to_first_token_seconds_count"], double(f.completed));
        QCOMPARE(v["vllm:e2e_request_latency_seconds_bucket,le=\"+Inf\""], double(f.completed));
        QVERIFY(v["vllm:e2e_request_latency_seconds_bucket,le=\"0.3\""] <=
                v["vllm:e2e_request_latency_seconds_bucket,le=\"7680\""]);
        QCOMPARE(v["vllm:num_requests_running"], 0.0);

        // The reference parser: Debian's python3-prometheus-client, which the set-up scripts install.
        // Debian's interpreter, which sees python3-* packages (a python3 earlier on PATH, such as a
        // pyenv shim, may not).
        const std::string python = std::ifstream("/usr/bin/python3").good() ? "/usr/bin/python3" : "python3";
        if (std::system((python + " -c 'import prometheus_client' >/dev/null 2>&1").c_str()) != 0)
            QFAIL("python3 cannot import prometheus_client: apt-get install python3-prometheus-client "
                  "(scripts/setup.sh installs it)");
        const std::string file = writeTemp(text);
        const std::string py =
            "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\n"
            "fams = {f.name: f for f in p(open(sys.argv[1]).read())}\n"
            // 0.0.4 text: "# TYPE x_total counter" is family x with sample x_total. An empty
            // family plus an untyped x_total one means the TYPE line named the wrong family.
            "for n in ['vllm:prompt_tokens', 'vllm:generation_tokens', 'vllm:prefix_cache_queries',\n"
            "          'vllm:prefix_cache_hits', 'vllm:num_preemptions', 'ridgeline:kv_evicted_blocks',\n"
            "          'ridgeline:recomputed_tokens', 'ridgeline:rejected_requests']:\n"
            "    assert fams[n].type == 'counter', (n, fams[n].type)\n"
            "    assert [s.name for s in fams[n].samples] == [n + '_total'], (n, fams[n].samples)\n"
            "    assert n + '_total' not in fams, n + '_total parsed as a family of its own'\n"
            "assert all(f.samples for f in fams.values()), [f.name for f in fams.values() if not f.samples]\n"
            "assert not [f.name for f in fams.values() if f.type == 'unknown'], [f.name for f in fams.values() if f.type == 'unknown']\n"
            "assert fams['vllm:prompt_tokens'].samples[0].value > 0\n"
            "assert fams['vllm:e2e_request_latency_seconds'].type == 'histogram'\n"
            "assert fams['vllm:num_requests_running'].type == 'gauge'\n"
            "assert fams['vllm:iteration_tokens_total'].type == 'histogram'\n"
            "assert all(s.labels.get('model_name') and s.labels.get('engine') == '0' for f in fams.values() for s in f.samples)\n"
            // Every series vLLM's Grafana dashboard queries, in a typed, non-empty family.
            "owner = {s.name: f for f in fams.values() for s in f.samples}\n"
            "for line in open(sys.argv[2]):\n"
            "    if not line.strip() or line.startswith('#'): continue\n"
            "    n = line.split()[0]\n"
            "    assert n in owner, n + ' is not exported'\n"
            "    assert owner[n].type in ('counter', 'gauge', 'histogram'), (n, owner[n].type)\n"
            "reasons = {s.labels['finished_reason'] for s in fams['vllm:request_success'].samples}\n"
            "assert reasons == {'stop', 'length', 'abort'}, reasons\n"
            "assert sum(s.value for s in fams['vllm:request_success'].samples) > 0\n"
            "for n in ['vllm:request_inference_time_seconds', 'vllm:inter_token_latency_seconds',\n"
            "          'vllm:request_time_per_output_token_seconds', 'vllm:request_prefill_time_seconds']:\n"
            "    assert fams[n].type == 'histogram', n\n"
            "    assert [s.value for s in fams[n].samples if s.name == n + '_count'][0] > 0, n\n"
            "assert fams['vllm:prompt_tokens_cached'].type == 'counter'\n"
            "assert fams['vllm:cache_config_info'].samples[0].labels['block_size']\n"
            "print(len(fams))\n";
        const std::string pyFile = writeTemp(py);
        const std::string names = std::string(RL_TEST_DATA) + "/data/vllm_dashboard_metrics.txt";
        const int rc = std::system((python + " " + pyFile + " " + file + " " + names + " >/dev/null").c_str());
        std::remove(file.c_str());
        std::remove(pyFile.c_str());
        QCOMPARE(rc, 0);
    }

    void disconnectCancels() {
        Fixture& f = fixture();
        json body = {{"model", f.model()},
                     {"messages", {{{"role", "user"}, {"content", "Write a long story about a dragon named Ember."}}}},
                     {"max_tokens", 450}, {"temperature", 0}, {"stream", true}};
        size_t before = 0;   // cancelled API requests so far (stop strings end that way too)
        for (const auto& x : f.engine->request_history()) before += (x.owner & rl::kOwnerApiBit) && x.cancelled;
        // The client hangs up after a deadline; on a busy machine the first chunk may come later
        // than the first deadline, so it tries again with longer ones (each try is cancelled).
        Reply r;
        for (const char* limit : {"--max-time 1", "--max-time 3", "--max-time 6"}) {
            r = post("/v1/chat/completions", body, limit);
            if (r.body.find("data: ") != std::string::npos) break;
        }
        const auto tLeft = std::chrono::steady_clock::now();
        QCOMPARE(r.curlExit, 28);   // curl's "operation timed out": it hung up mid-stream
        QVERIFY2(r.body.find("data: ") != std::string::npos, "no chunk arrived before the client left");
        // The server notices at its next write and cancels: the request ends as cancelled.
        const rl::request_record* rec = nullptr;
        std::vector<rl::request_record> recs;
        while (std::chrono::steady_clock::now() - tLeft < std::chrono::seconds(6)) {
            recs = f.engine->request_history();
            rec = nullptr;
            size_t seen = 0;
            for (const auto& x : recs)
                if ((x.owner & rl::kOwnerApiBit) && x.cancelled && ++seen > before) rec = &x;
            if (rec) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        QVERIFY2(rec, "the disconnected client's request was not cancelled within 5 s");
        QVERIFY(rec->generated_tokens < 450);
        // The engine republishes its gauges at the end of the round that cancelled the request.
        const std::string running0 = "vllm:num_requests_running{engine=\"0\",model_name=\"" + f.model() + "\"} 0\n";
        const std::string kv0 = "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"" + f.model() + "\"} 0\n";
        Reply m = curl(f.port, "/metrics");
        for (int i = 0; i < 100 && (m.body.find(running0) == std::string::npos || m.body.find(kv0) == std::string::npos); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            m = curl(f.port, "/metrics");
        }
        QVERIFY(m.body.find(running0) != std::string::npos);
        QVERIFY(m.body.find(kv0) != std::string::npos);
        // The engine's own gauges are those of its latest step: run one more tiny request; once its
        // step is recorded, no block may still be held by the cancelled request.
        const uint64_t stepsBefore = f.engine->snapshot().steps;
        Reply probe = post("/v1/completions", {{"model", f.model()}, {"prompt", "Hi"}, {"max_tokens", 1}});
        QCOMPARE(probe.status, 200);
        ++f.completed;
        rl::metrics_snapshot s = f.engine->snapshot();
        for (int i = 0; i < 60 && (s.steps <= stepsBefore || s.kv_used != 0); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            s = f.engine->snapshot();
        }
        QVERIFY(s.steps > stepsBefore);
        QCOMPARE(s.kv_used, 0);
        QCOMPARE(s.num_requests_waiting, 0);
    }

    // /v1/completions takes OpenAI's prompt forms: text whose special tokens are parsed (as in
    // llama-server), token ids as given, batches (one choice per prompt, prompt-major); bad ids are refused.
    void completionPromptForms() {
        Fixture& f = fixture();
        auto usage = [&](const json& prompt) {
            const Reply r = post("/v1/completions", {{"model", f.model()}, {"prompt", prompt}, {"max_tokens", 1}});
            if (r.status != 200) return -r.status;
            ++f.completed;
            return json::parse(r.body)["usage"]["prompt_tokens"].get<int>();
        };
        const int special = usage("<|im_start|>"), plain = usage("<|im_start"), ids = usage(json::array({1, 2, 3}));
        QVERIFY2(special > 0 && special < plain, ("'<|im_start|>' took " + std::to_string(special) + " tokens, '<|im_start' " +
                                                  std::to_string(plain)).c_str());
        QCOMPARE(ids, 3);
        QCOMPARE(usage(json::array({"Hello"})), usage("Hello"));
        QCOMPARE(usage(json::array({json::array({1, 2})})), 2);
        const Reply batch = post("/v1/completions", {{"model", f.model()}, {"prompt", {"a", "b c d"}}, {"max_tokens", 1}});
        QVERIFY2(batch.status == 200, batch.body.c_str());
        f.completed += 2;   // one engine request per prompt
        const json bj = json::parse(batch.body);
        QCOMPARE(int(bj["choices"].size()), 2);
        QCOMPARE(bj["choices"][1]["index"].get<int>(), 1);
        QCOMPARE(bj["usage"]["prompt_tokens"].get<int>(), usage("a") + usage("b c d"));
        json off = {{"model", f.model()}, {"prompt", "<|im_start|>"}, {"max_tokens", 1}, {"parse_special", false}};
        const Reply raw = post("/v1/completions", off);
        QVERIFY2(raw.status == 200, raw.body.c_str());
        ++f.completed;
        QVERIFY2(json::parse(raw.body)["usage"]["prompt_tokens"].get<int>() > special, raw.body.c_str());
        // Response ids are random (24 hex digits), never a per-run counter that restarts at 1.
        const std::string id1 = json::parse(raw.body)["id"].get<std::string>();
        const Reply again = post("/v1/completions", off);
        QVERIFY2(again.status == 200, again.body.c_str());
        ++f.completed;
        const std::string id2 = json::parse(again.body)["id"].get<std::string>();
        QVERIFY2(id1 != id2 && id1.size() == 5 + 24 && id1.rfind("cmpl-", 0) == 0, (id1 + " " + id2).c_str());
        QCOMPARE(usage(json::array({1, 999999999})), -400);
        QCOMPARE(usage(json::array({1, -2})), -400);
    }
};

RL_TEST_MAIN(TestServe, healthAndModels, chatWithUsageAndStreamingMatches, stopSequence, errorStatuses,
             samplingDefaults, apiKey,
             metricsExposition, disconnectCancels, completionPromptForms)
#include "test_serve.moc"
