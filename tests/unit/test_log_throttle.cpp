// log::Throttle: one line per interval, and the count of the lines held back in between.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "log/throttle.hpp"

namespace imagecpp::log {
namespace {

using namespace std::chrono_literals;

TEST(LogThrottle, OneLinePerIntervalWithTheCountHeldBack) {
  auto now = std::chrono::steady_clock::time_point{} + 1h;
  Throttle throttle(10s, [&now] { return now; });
  EXPECT_EQ(throttle.admit(), 0u);
  for (int i = 0; i < 5; ++i) {
    now += 1s;
    EXPECT_FALSE(throttle.admit());
  }
  now += 5s;  // 10 s after the first line
  EXPECT_EQ(throttle.admit(), 5u);
  now += 9s;
  EXPECT_FALSE(throttle.admit());
  now += 1h;
  EXPECT_EQ(throttle.admit(), 1u);
  now += 1h;
  EXPECT_EQ(throttle.admit(), 0u);
}

TEST(LogThrottle, TheNoteSaysHowManyWereHeldBack) {
  EXPECT_EQ(held_back_note(0), "");
  EXPECT_EQ(held_back_note(41), "; 41 more since the previous line");
}

TEST(LogThrottle, ABurstOnManyThreadsGetsOneLine) {
  Throttle throttle(1h);
  std::atomic<int> lines{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (throttle.admit()) ++lines;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(lines.load(), 1);
}

}  // namespace
}  // namespace imagecpp::log
