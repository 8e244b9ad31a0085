// The time at the start of every access line: the same text as spdlog's pattern for the other
// lines, whatever the time, on any thread, across second boundaries.
#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/pattern_formatter.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "log/time_text.hpp"

namespace imagecpp::log {
namespace {

using Clock = std::chrono::system_clock;

std::string ours(Clock::time_point t) {
  fmt::memory_buffer out;
  append_time(t, out);
  return fmt::to_string(out);
}

// The reference: spdlog's own formatter with the pattern the other lines use.
std::string spdlogs(Clock::time_point t) {
  spdlog::pattern_formatter formatter("%Y-%m-%dT%H:%M:%S.%eZ", spdlog::pattern_time_type::utc, "");
  spdlog::details::log_msg msg(t, spdlog::source_loc{}, "x", spdlog::level::info, "");
  spdlog::memory_buf_t out;
  formatter.format(msg, out);
  return fmt::to_string(out);
}

TEST(TimeText, KnownInstants) {
  using std::chrono::milliseconds;
  const Clock::time_point t{std::chrono::seconds(1796064311)};  // 2026-11-30T18:45:11Z
  EXPECT_EQ(ours(t), "2026-11-30T18:45:11.000Z");
  EXPECT_EQ(ours(t + milliseconds(7)), "2026-11-30T18:45:11.007Z");
  EXPECT_EQ(ours(t + milliseconds(999)), "2026-11-30T18:45:11.999Z");
  EXPECT_EQ(ours(t + milliseconds(1000)), "2026-11-30T18:45:12.000Z");
  EXPECT_EQ(ours(t + std::chrono::microseconds(1999)), "2026-11-30T18:45:11.001Z");  // truncated
  EXPECT_EQ(ours(Clock::time_point{}), "1970-01-01T00:00:00.000Z");
}

// Random instants, in and out of order (the per-thread cache of the second must not leak).
TEST(TimeText, AgreesWithSpdlogsPattern) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> us(0, std::int64_t{4102444800} * 1000000);  // to 2100
  Clock::time_point t{};
  for (int i = 0; i < 20000; ++i) {
    // Half the time a step of up to 2 s (the cached second is reused or just replaced).
    if (i % 2 == 0) {
      t = Clock::time_point{std::chrono::microseconds(us(rng))};
    } else {
      t += std::chrono::microseconds(us(rng) % 2000000);
    }
    ASSERT_EQ(ours(t), spdlogs(t)) << t.time_since_epoch().count();
  }
}

TEST(TimeText, ThreadsKeepTheirOwnSecond) {
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([k, &mismatches] {
      for (int i = 0; i < 5000; ++i) {
        const Clock::time_point t{
            std::chrono::milliseconds(std::int64_t{1796064311000} + k * 3600000 + i * 7)};
        if (ours(t) != spdlogs(t)) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace imagecpp::log
