#include "events/logout_consumer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/token.hpp"
#include "events/logout_message.hpp"
#include "log/escape.hpp"

namespace imagecpp::events {

LogoutConsumer::LogoutConsumer(ConsumerSettings settings, ForgetToken forget)
    : settings_(std::move(settings)),
      address_(AmqpAddress::parse(settings_.url)),
      forget_(std::move(forget)) {}

LogoutConsumer::~LogoutConsumer() {
  stop();
}

void LogoutConsumer::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void LogoutConsumer::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  set_connected(false);
}

bool LogoutConsumer::pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, delay, [this] { return stopping(); });
}

void LogoutConsumer::set_connected(bool connected) {
  connected_ = connected;
}

// Reconnects for ever: 0.1 s, 0.2 s, ... doubling up to the cap; back to the minimum after a
// connection that worked. The first failure after a good connection is a warning, the
// repeats are debug lines, so a broker down for a day does not flood the log.
void LogoutConsumer::run() {
  auto delay = settings_.backoff_min;
  bool warned = false;
  while (!stopping()) {
    try {
      session();
      delay = settings_.backoff_min;
      warned = false;
    } catch (const std::exception& e) {
      const bool was_connected = connected();
      set_connected(false);
      if (was_connected) {
        delay = settings_.backoff_min;
        warned = false;
      }
      if (!warned) {
        // The broker's own text (a close reason) is escaped like every outside value.
        spdlog::warn("logout broadcast: broker {} unavailable ({}); retrying with backoff",
                     address_.display(), log::escape(e.what(), log::kMaxErrorBytes));
        warned = true;
      } else {
        spdlog::debug("logout broadcast: reconnect failed: {}",
                      log::escape(e.what(), log::kMaxErrorBytes));
      }
    }
    if (!pause(delay)) break;
    delay = std::min(delay * 2, settings_.backoff_max);
  }
  spdlog::debug("logout broadcast: consumer stopped");
}

// One connection's life: connect, subscribe, then deliver until stop() or an error (thrown).
void LogoutConsumer::session() {
  AmqpConnection connection(address_, settings_.io_timeout);
  connection.subscribe_fanout(settings_.exchange);
  set_connected(true);
  spdlog::info("logout broadcast: consuming exchange '{}' on {}", settings_.exchange,
               address_.display());
  while (!stopping()) {
    if (const auto delivery = connection.next(settings_.poll, kMaxLogoutBody)) handle(*delivery);
  }
  set_connected(false);
}

// A bad message is logged and dropped: it must never end the consumer.
void LogoutConsumer::handle(const Delivery& delivery) {
  if (delivery.oversized) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("logout broadcast: dropped a {}-byte message (limit {})", delivery.size,
                 kMaxLogoutBody);
    return;
  }
  const LogoutMessage message = read_logout(delivery.body);
  switch (message.kind) {
    case LogoutKind::token:
      forget_(message.token);
      applied_.fetch_add(1, std::memory_order_relaxed);
      spdlog::info("logout broadcast: token {} forgotten", token::tag(message.token));
      return;
    case LogoutKind::ignored:
      spdlog::debug("logout broadcast: ignored a message of another type");
      return;
    case LogoutKind::malformed:
      dropped_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("logout broadcast: dropped a malformed {}-byte message (body tag {})",
                   delivery.size, token::tag(delivery.body));
      return;
  }
}

void LogoutConsumer::register_metrics(metrics::Registry& registry) const {
  registry.add_sample("imagecpp_broker_connected", "gauge",
                      "1 while the logout broadcast consumer is connected to the broker.",
                      [this] { return connected() ? 1.0 : 0.0; });
  registry.add_sample("imagecpp_logouts_applied_total", "counter",
                      "Logout broadcasts applied (token dropped from the cache).",
                      [this] { return static_cast<double>(applied()); });
  registry.add_sample("imagecpp_logout_messages_dropped_total", "counter",
                      "Logout broadcast messages dropped as malformed or oversized.",
                      [this] { return static_cast<double>(dropped()); });
}

}  // namespace imagecpp::events
