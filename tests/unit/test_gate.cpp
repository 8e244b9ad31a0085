// The slow-job lane (AVIF): at most `slots` passes held at once, a bounded queue, overloaded
// beyond it, passes handed over in order, and nothing left held or waiting afterwards, also from
// many threads at once.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "core/gate.hpp"

namespace imagecpp {
namespace {

namespace asio = boost::asio;

// Yields to the io_context a few times while holding a pass, so that others get to run.
asio::awaitable<void> yield_times(int n) {
  for (int i = 0; i < n; ++i)
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
}

struct Tally {
  std::atomic<int> held{0};
  std::atomic<int> most{0};
  std::atomic<int> done{0};
  std::atomic<int> overloaded{0};
  std::vector<int> order;  // single-threaded tests only

  void hold() {
    const int now = ++held;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
  }
};

asio::awaitable<void> use(Gate& gate, Tally& tally, int id, int hold_for, bool record) {
  try {
    const Gate::Pass pass = co_await gate.enter();
    tally.hold();
    if (record) tally.order.push_back(id);
    co_await yield_times(hold_for);
    --tally.held;
    ++tally.done;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::overloaded);
    ++tally.overloaded;
  }
}

TEST(Gate, BoundsRunningAndWaitingJobs) {
  Gate gate(1, 3);
  Tally tally;
  asio::io_context io;
  for (int i = 0; i < 10; ++i) asio::co_spawn(io, use(gate, tally, i, 5, true), asio::detached);
  io.run();
  // All ten asked before the first got its pass: one ran, three waited, six were refused.
  EXPECT_EQ(tally.most.load(), 1);
  EXPECT_EQ(tally.done.load(), 4);
  EXPECT_EQ(tally.overloaded.load(), 6);
  EXPECT_EQ(tally.order, (std::vector<int>{0, 1, 2, 3}));  // handed over first come, first served
  EXPECT_EQ(gate.running(), 0u);
  EXPECT_EQ(gate.waiting(), 0u);
}

TEST(Gate, SeveralSlotsRunTogether) {
  Gate gate(3, 100);
  Tally tally;
  asio::io_context io;
  for (int i = 0; i < 30; ++i) asio::co_spawn(io, use(gate, tally, i, 3, false), asio::detached);
  io.run();
  EXPECT_EQ(tally.most.load(), 3);
  EXPECT_EQ(tally.done.load(), 30);
  EXPECT_EQ(tally.overloaded.load(), 0);
}

TEST(Gate, ZeroQueueRefusesAtOnceWhenFull) {
  Gate gate(2, 0);
  Tally tally;
  asio::io_context io;
  for (int i = 0; i < 5; ++i) asio::co_spawn(io, use(gate, tally, i, 2, false), asio::detached);
  io.run();
  EXPECT_EQ(tally.done.load(), 2);
  EXPECT_EQ(tally.overloaded.load(), 3);
}

TEST(Gate, ZeroSlotsMeansOne) {
  Gate gate(0, 10);
  Tally tally;
  asio::io_context io;
  for (int i = 0; i < 4; ++i) asio::co_spawn(io, use(gate, tally, i, 2, false), asio::detached);
  io.run();
  EXPECT_EQ(tally.most.load(), 1);
  EXPECT_EQ(tally.done.load(), 4);
}

TEST(Gate, PassesMoveAndReleaseOnce) {
  Gate gate(1, 0);
  asio::io_context io;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        Gate::Pass first = co_await gate.enter();
        EXPECT_EQ(gate.running(), 1u);
        Gate::Pass moved = std::move(first);
        EXPECT_EQ(gate.running(), 1u);
        Gate::Pass other;
        other = std::move(moved);
        EXPECT_EQ(gate.running(), 1u);
        other = Gate::Pass();  // released here, once
        EXPECT_EQ(gate.running(), 0u);
        const Gate::Pass again = co_await gate.enter();
        EXPECT_EQ(gate.running(), 1u);
      },
      asio::detached);
  io.run();
  EXPECT_EQ(gate.running(), 0u);
}

TEST(GateStress, ManyThreadsNeverExceedTheSlots) {
  constexpr int kThreads = 4;
  constexpr int kJobs = 400;
  Gate gate(3, kJobs);
  Tally tally;
  asio::io_context io(kThreads);
  for (int i = 0; i < kJobs; ++i) asio::co_spawn(io, use(gate, tally, i, 2, false), asio::detached);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back([&io] { io.run(); });
  for (auto& t : threads) t.join();
  EXPECT_LE(tally.most.load(), 3);
  EXPECT_EQ(tally.done.load(), kJobs);
  EXPECT_EQ(tally.overloaded.load(), 0);
  EXPECT_EQ(gate.running(), 0u);
  EXPECT_EQ(gate.waiting(), 0u);
}

}  // namespace
}  // namespace imagecpp
