// soak_api_load: the soak's bounded API client. A few threads talk to the window's API server
// (ServerController) the way SDKs do: whole streams read to `[DONE]`, plain requests, and streams
// opened and then abandoned after their first chunks (the client closes the socket, so the
// server must cancel the request and free its KV). Every outcome is counted; "failed" is any
// answer other than the expected one, except while a pool restart has the server down (those
// count as interrupted, reported apart, since the window stops its server for a restart).
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rl::soak {

struct api_counts {
    uint64_t streams_ok = 0, plain_ok = 0, abandoned = 0;
    uint64_t interrupted = 0;   // began or ended while a pool restart had the server down
    uint64_t failed = 0;        // anything else: a transport error, a non-200, a stream without [DONE]
    std::string last_failure;   // the latest failure, for the log
};

class api_load {
public:
    /// port: where the server listens; model: the id /v1/models serves. Threads start at once.
    api_load(int port, std::string model, int clients, uint64_t seed);
    ~api_load();
    /// While true, outcomes count as interrupted rather than failed (a pool restart).
    void set_restarting(bool on) { restarting_ = on; if (on) ++restart_epoch_; }
    api_counts counts() const;
    /// Ends the client threads; a request in flight is cut (its socket shut down), not awaited.
    void stop();

private:
    void client(int index);
    void record(bool ok, uint64_t api_counts::*field, uint64_t epoch_at_start, const std::string& why);

    int port_;
    std::string model_;
    uint64_t seed_;
    std::atomic<bool> stop_{false}, restarting_{false};
    std::atomic<uint64_t> restart_epoch_{0};
    mutable std::mutex counts_mu_;
    api_counts counts_;
    std::vector<std::thread> threads_;
    std::mutex clients_mu_;
    std::vector<void*> clients_;   // each thread's httplib::Client, so stop() can shut its socket
};

} // namespace rl::soak
