#pragma once
// Rate limiting for log lines about a failure that can repeat once per request (an auth service
// answering nonsense, a limit being hit): one line per interval, and that line says how many
// were held back since the previous one, so a burst costs one line, not one per request.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace imagecpp::log {

class Throttle {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `clock` is injectable for tests; the default is the steady clock.
  explicit Throttle(std::chrono::steady_clock::duration interval, Clock clock = {});

  // Called once per event. Returns the number of events held back since the last line when
  // this one may be logged now, nullopt when it must be held back. Thread-safe.
  std::optional<std::uint64_t> admit();

 private:
  const std::chrono::steady_clock::duration interval_;
  const Clock clock_;
  std::mutex mutex_;
  std::optional<std::chrono::steady_clock::time_point> last_line_;
  std::uint64_t held_back_ = 0;
};

// The tail of a throttled line: "" when nothing was held back, else "; N more since the
// previous line".
std::string held_back_note(std::uint64_t held_back);

}  // namespace imagecpp::log
