#include "log/throttle.hpp"

namespace imagecpp::log {

Throttle::Throttle(std::chrono::steady_clock::duration interval, Clock clock)
    : interval_(interval),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })) {}

std::optional<std::uint64_t> Throttle::admit() {
  const auto now = clock_();
  const std::lock_guard lock(mutex_);
  if (last_line_ && now - *last_line_ < interval_) {
    ++held_back_;
    return std::nullopt;
  }
  last_line_ = now;
  const std::uint64_t held_back = held_back_;
  held_back_ = 0;
  return held_back;
}

std::string held_back_note(std::uint64_t held_back) {
  if (held_back == 0) return {};
  return "; " + std::to_string(held_back) + " more since the previous line";
}

}  // namespace imagecpp::log
