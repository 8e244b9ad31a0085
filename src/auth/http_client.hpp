#pragma once
// A small asynchronous HTTP/1.1 client for one origin (the auth service): http:// or https://
// (peer certificates checked against the system store), keep-alive with a pool of idle
// connections, and one deadline per call covering resolve, connect, TLS, write and read.
// Beast and OpenSSL stay out of this header: it is included by main.cpp.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imagecpp::auth {

struct HttpClientSettings {
  std::chrono::milliseconds timeout{3000};  // per call, all steps included
  std::size_t max_idle = 8;                 // idle keep-alive connections kept for reuse
  std::string ca_file;  // extra trusted CAs (PEM) on top of the system store; empty = none
  std::size_t max_response_bytes = 1 << 20;
};

struct HttpResponse {
  unsigned status = 0;
  std::string body;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  // `base_url`: scheme http or https, host, optional port and path prefix. Throws
  // std::invalid_argument for anything else.
  HttpClient(std::string_view base_url, HttpClientSettings settings);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // GET {base path}{path}. Runs on the caller's executor (each connection on its own strand of
  // it) and never blocks a thread. Any HTTP status is a result; a transport failure or the
  // deadline throws boost::system::system_error.
  boost::asio::awaitable<HttpResponse> get(std::string_view path, HttpHeaders headers);

  // Drops the idle connections and stops pooling. Pooled sockets belong to the callers'
  // execution context: call this before that context is destroyed.
  void close();

  std::size_t idle_connections() const;
  // Connections opened so far (a measure of keep-alive reuse).
  std::size_t connections_opened() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with in-flight calls, which may outlive a close()
};

}  // namespace imagecpp::auth
