// raw_http: a raw-socket HTTP/1.1 client for the server tests, so headers, half-sent requests and
// dropped connections are under the test's control: connect, send, read a whole answer, parse
// its status, headers and body, and check the OpenAI error shape.
#pragma once
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <cstdlib>
#include <map>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace raw_http {

using nlohmann::json;

// Liveness guard for blocking reads (a hung server fails the test instead of hanging it).
constexpr int kGuardS = 120;

inline int connectTo(int port, const std::string& ip = "127.0.0.1") {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{kGuardS, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

inline bool sendAll(int fd, const std::string& s) {
    for (size_t off = 0; off < s.size();) {
        const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += size_t(n);
    }
    return true;
}

inline std::string rawRequest(const std::string& method, const std::string& path, const std::string& body,
                       const std::string& extraHeaders = "") {
    return method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
           "Content-Length: " + std::to_string(body.size()) + "\r\n" + extraHeaders + "Connection: close\r\n\r\n" + body;
}

struct Reply {
    int status = 0;
    std::map<std::string, std::string> headers;   // lower-case names
    std::string body;
};

inline Reply parseReply(const std::string& raw) {
    Reply r;
    const size_t end = raw.find("\r\n\r\n");
    if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return r;
    r.status = std::atoi(raw.c_str() + 9);
    size_t at = raw.find("\r\n") + 2;
    while (at < end) {
        const size_t eol = raw.find("\r\n", at);
        const std::string line = raw.substr(at, eol - at);
        const size_t colon = line.find(':');
        std::string name = line.substr(0, colon);
        for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
        r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
        at = eol + 2;
    }
    r.body = raw.substr(end + 4);
    return r;
}

// What a stream's socket holds up to its first SSE event (headers included), or to EOF.
inline std::string readToFirstEvent(int fd) {
    std::string got;
    char buf[4096];
    ssize_t n;
    while (got.find("data: ") == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, size_t(n));
    return got;
}

// Sends one request (raw: exactly these bytes) with Connection: close and reads the whole answer.
inline Reply http(int port, const std::string& method, const std::string& path, const std::string& body = "",
           const std::string& extraHeaders = "", const std::string& raw_request = "") {
    const int fd = connectTo(port);
    if (fd < 0) return {};
    sendAll(fd, raw_request.empty() ? rawRequest(method, path, body, extraHeaders) : raw_request);
    std::string raw;
    char buf[16384];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, size_t(n));
    ::close(fd);
    return parseReply(raw);
}

inline std::string header(const Reply& r, const std::string& name) {
    const auto it = r.headers.find(name);
    return it == r.headers.end() ? std::string() : it->second;
}

// The OpenAI error shape: {"error": {"message": "...", "type": "...", "code": ..., "param": ...}}.
inline bool isOpenAiError(const Reply& r, const std::string& type = "invalid_request_error") {
    const json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.contains("error") || !j["error"].is_object()) return false;
    const json& e = j["error"];
    return e.contains("message") && e["message"].is_string() && !e["message"].get<std::string>().empty() &&
           e.value("type", "") == type && e.contains("code") && e.contains("param");
}

inline std::string errorCode(const Reply& r) {
    const json j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j["error"]["code"].is_string()) return "";
    return j["error"]["code"].get<std::string>();
}

} // namespace raw_http
