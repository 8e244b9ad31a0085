#include "log/time_text.hpp"

#include <array>
#include <cstdint>
#include <ctime>
#include <limits>

namespace imagecpp::log {

void append_time(std::chrono::system_clock::time_point time, fmt::memory_buffer& out) {
  using std::chrono::seconds;
  const auto second = std::chrono::floor<seconds>(time);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time - second).count();
  constexpr std::size_t kPrefix = 19;  // "2026-11-30T18:45:11"
  thread_local std::int64_t cached = std::numeric_limits<std::int64_t>::min();
  thread_local std::array<char, kPrefix + 1> prefix{};
  const std::int64_t epoch_second = second.time_since_epoch().count();
  if (epoch_second != cached) {
    const auto t = static_cast<std::time_t>(epoch_second);
    std::tm tm{};
    gmtime_r(&t, &tm);
    if (std::strftime(prefix.data(), prefix.size(), "%Y-%m-%dT%H:%M:%S", &tm) != kPrefix) {
      prefix.fill('0');  // a year past 9999: a fixed width still, never a short read
    }
    cached = epoch_second;
  }
  const std::array<char, 5> tail = {'.', static_cast<char>('0' + ms / 100),
                                    static_cast<char>('0' + ms / 10 % 10),
                                    static_cast<char>('0' + ms % 10), 'Z'};
  out.append(prefix.data(), prefix.data() + kPrefix);
  out.append(tail.data(), tail.data() + tail.size());
}

}  // namespace imagecpp::log
