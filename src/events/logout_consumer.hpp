#pragma once
// The logout broadcast consumer: on its own thread, subscribes to the `auth` fanout exchange
// and makes the verifier forget each logged-out token at once. A broker that is absent, killed
// or restarted never affects the HTTP service: the consumer reconnects with capped exponential
// backoff for ever, and reports its state (connected()) meanwhile. It knows no verifier: it is
// handed what to do with a logged-out token.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "events/amqp_connection.hpp"
#include "metrics/registry.hpp"

namespace imagecpp::events {

struct ConsumerSettings {
  std::string url = "amqp://localhost";
  std::string exchange = "auth";
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds io_timeout{3000};  // connect, login, each RPC
  std::chrono::milliseconds poll{200};         // how fast a stop() is noticed while idle
};

// Called on the consumer's thread with each logged-out token.
using ForgetToken = std::function<void(std::string_view token)>;

class LogoutConsumer {
 public:
  // Validates the URL now (throws std::invalid_argument) so a bad setting fails at startup.
  LogoutConsumer(ConsumerSettings settings, ForgetToken forget);
  ~LogoutConsumer();
  LogoutConsumer(const LogoutConsumer&) = delete;
  LogoutConsumer& operator=(const LogoutConsumer&) = delete;

  void start();
  // Asks the thread to end and joins it: within about one poll interval, or one I/O timeout
  // when a connection attempt is under way.
  void stop();

  bool connected() const noexcept { return connected_.load(std::memory_order_relaxed); }
  std::uint64_t applied() const noexcept { return applied_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

  void register_metrics(metrics::Registry& registry) const;

 private:
  void run();
  void session();
  void handle(const Delivery& delivery);
  void set_connected(bool connected);
  // Sleeps for `delay` unless stop() comes first; false when stopping.
  bool pause(std::chrono::milliseconds delay);
  bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }

  const ConsumerSettings settings_;
  const AmqpAddress address_;
  const ForgetToken forget_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> connected_{false};
  std::atomic<std::uint64_t> applied_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace imagecpp::events
