#include "events/broker_status.hpp"

#include <atomic>

namespace imagecpp::events {
namespace {

std::atomic<BrokerState> g_state{BrokerState::off};

}  // namespace

void set_broker_state(BrokerState state) noexcept {
  g_state.store(state, std::memory_order_relaxed);
}

BrokerState broker_state() noexcept {
  return g_state.load(std::memory_order_relaxed);
}

std::string_view to_string(BrokerState state) noexcept {
  switch (state) {
    case BrokerState::connected:
      return "connected";
    case BrokerState::disconnected:
      return "disconnected";
    case BrokerState::off:
      break;
  }
  return "off";
}

}  // namespace imagecpp::events
