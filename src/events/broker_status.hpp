#pragma once
// The logout consumer's connection state, readable anywhere (readiness reports it as detail).
// Process-wide because there is one consumer per process and /readyz must not depend on it.
#include <string_view>

namespace imagecpp::events {

enum class BrokerState { off, disconnected, connected };  // off: no consumer (static auth)

void set_broker_state(BrokerState state) noexcept;
BrokerState broker_state() noexcept;
std::string_view to_string(BrokerState state) noexcept;

}  // namespace imagecpp::events
