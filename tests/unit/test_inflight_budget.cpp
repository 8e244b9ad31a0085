// The in-flight budget: bodies by their declared size, answers once per shared buffer, and
// everything released with its hold, also from many threads at once.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "http/inflight_budget.hpp"

namespace imagecpp::http {
namespace {

TEST(InflightBudget, BodiesFitUpToTheLimitAndAreReleasedWithTheirHold) {
  InflightBudget budget(100);
  auto first = budget.reserve(60);
  ASSERT_TRUE(first);
  EXPECT_FALSE(budget.reserve(41));
  auto second = budget.reserve(40);
  ASSERT_TRUE(second);
  EXPECT_EQ(budget.used(), 100u);
  first.reset();
  EXPECT_EQ(budget.used(), 40u);
  EXPECT_TRUE(budget.reserve(60));  // a temporary: released at once
  EXPECT_EQ(budget.used(), 40u);
}

TEST(InflightBudget, AnAnswerBufferCountsOnceHoweverManyClientsItGoesTo) {
  InflightBudget budget(100);
  const SharedBytes image = share(std::string(70, 'x'));
  std::vector<InflightBudget::Hold> holds;
  for (int i = 0; i < 10; ++i) {
    auto hold = budget.hold_answer(image);
    ASSERT_TRUE(hold) << i;
    holds.push_back(std::move(*hold));
  }
  EXPECT_EQ(budget.used(), 70u);
  EXPECT_FALSE(budget.hold_answer(share(std::string(31, 'y'))));  // another buffer: no room
  holds.resize(1);
  EXPECT_EQ(budget.used(), 70u);  // still being sent to one client
  holds.clear();
  EXPECT_EQ(budget.used(), 0u);
}

TEST(InflightBudget, ZeroMeansUnbounded) {
  InflightBudget budget(0);
  EXPECT_TRUE(budget.reserve(std::uint64_t{1} << 40));
  EXPECT_TRUE(budget.hold_answer(share(std::string(1000, 'x'))));
}

TEST(InflightBudget, MovedHoldsReleaseOnce) {
  InflightBudget budget(100);
  auto hold = budget.reserve(50);
  ASSERT_TRUE(hold);
  InflightBudget::Hold moved = std::move(*hold);
  InflightBudget::Hold assigned;
  assigned = std::move(moved);
  hold.reset();
  EXPECT_EQ(budget.used(), 50u);
  assigned = InflightBudget::Hold();
  EXPECT_EQ(budget.used(), 0u);
}

TEST(InflightBudget, ManyThreadsReserveHoldAndReleaseWithinTheLimit) {
  constexpr std::uint64_t kLimit = 10'000;
  InflightBudget budget(kLimit);
  const std::vector<SharedBytes> buffers{
      share(std::string(3000, 'a')), share(std::string(2000, 'b')), share(std::string(500, 'c'))};
  std::atomic<int> over{0};
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < 20000; ++i) {
        std::optional<InflightBudget::Hold> hold =
            rng() % 2 == 0 ? budget.reserve(rng() % 3000) : budget.hold_answer(buffers[rng() % 3]);
        if (hold) granted.fetch_add(1, std::memory_order_relaxed);
        if (budget.used() > kLimit) over.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(over.load(), 0);
  EXPECT_GT(granted.load(), 0);
  EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace imagecpp::http
