#pragma once
// HTTP/1.1 server on Beast: one io_context per network thread, each connection on one of them for
// its life (round robin at accept), one coroutine per connection. A connection's events never
// cross threads, so there is no strand and no wake-up of another thread per request (a futex
// call each, the largest per-request cost once shared). Keep-alive, bounded header and body
// reads, timeouts for idle connections and slow clients, and a graceful drain on shutdown.
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/types.hpp"

namespace imagecpp::http {

struct ServerSettings {
  std::string address = "0.0.0.0";
  std::uint16_t port = 3001;
  unsigned threads = 1;
  std::size_t max_connections = 10000;
  std::uint64_t max_body_bytes = 16ull << 20;
  std::uint32_t max_header_bytes = 16 * 1024;
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds body_timeout{60};
  // Bodies being received (by declared size; a chunked one by max_body_bytes) and answers being
  // sent (each buffer once), in all; beyond it, 503. 0 = unbounded.
  std::uint64_t inflight_budget_bytes = 256ull << 20;
  // An answer the client takes slower than this, over a window, is cut (a stalled reader after
  // one window). 0 = only a stall is cut.
  std::uint64_t min_send_rate = std::uint64_t{16} * 1024;  // bytes per second
  std::chrono::seconds send_window{5};
  // Spare capacity reserved past a body of declared length before it is read, for a parser that
  // reads past the end (simdjson): the body is then parsed where it was received, not copied.
  std::size_t body_padding = 0;
};

struct AccessRecord {
  std::string_view method;
  std::string_view target;
  const Exchange& exchange;
  unsigned status;
  std::uint64_t bytes;
  std::chrono::steady_clock::duration duration;
};

using AccessObserver = std::function<void(const AccessRecord&)>;

// What the server calls: the application, and its observer.
struct ServerHooks {
  Handler handle;
  Admitter admit;
  EarlyResponder early;
  AccessObserver observe;
};

class Server {
 public:
  Server(ServerSettings settings, ServerHooks hooks);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds (throws on failure) and starts the network threads.
  void start();
  std::uint16_t port() const noexcept { return bound_port_; }
  // The first network thread's context (the acceptor's): for signals and timers.
  boost::asio::io_context& context() noexcept { return *contexts_.front(); }

  // Stops accepting, closes idle connections, lets in-flight requests finish for up to `grace`,
  // then stops the network threads. `busy`, when given, is work the requests left running on
  // the network threads (writes behind an answer): the threads stop only once it says false too.
  // Safe to call from any thread, once.
  void shutdown(std::chrono::seconds grace, std::function<bool()> busy = {});

  // Blocks until the network threads have ended.
  void join();

  std::size_t open_connections() const;
  // Bytes of bodies and answers in flight, counted against inflight_budget_bytes.
  std::uint64_t inflight_bytes() const;

 private:
  struct State;
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  void stop_contexts();

  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;  // one per network thread
  std::vector<WorkGuard> idle_guards_;  // a context without connections keeps its thread
  std::shared_ptr<State> state_;
  std::vector<std::thread> threads_;
  std::uint16_t bound_port_ = 0;
};

}  // namespace imagecpp::http
