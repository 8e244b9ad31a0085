// SingleFlight and WorkerPool: the two pieces that make "each variant computed once" and
// "image work never runs on a network thread, and never piles up" true.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <latch>
#include <thread>

#include "core/single_flight.hpp"
#include "core/worker_pool.hpp"
#include "run_awaitable.hpp"

namespace imagecpp {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

TEST(SingleFlight, ConcurrentCallersShareOneComputation) {
  SingleFlight<int> flights;
  std::atomic<int> runs{0};
  std::vector<int> results;
  asio::io_context io;
  for (int i = 0; i < 50; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          const int value = co_await flights.run("key", [&]() -> asio::awaitable<int> {
            ++runs;
            asio::steady_timer timer(co_await asio::this_coro::executor, 20ms);
            co_await timer.async_wait(asio::use_awaitable);
            co_return 42;
          });
          results.push_back(value);
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(runs.load(), 1);
  ASSERT_EQ(results.size(), 50u);
  for (int r : results) EXPECT_EQ(r, 42);
  EXPECT_EQ(flights.in_flight(), 0u);
}

TEST(SingleFlight, CallersOnManyThreadsShareOneComputation) {
  SingleFlight<int> flights;
  std::atomic<int> runs{0};
  std::atomic<int> done{0};
  asio::io_context io;
  for (int i = 0; i < 64; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          const int value = co_await flights.run("k", [&]() -> asio::awaitable<int> {
            ++runs;
            asio::steady_timer timer(co_await asio::this_coro::executor, 30ms);
            co_await timer.async_wait(asio::use_awaitable);
            co_return 7;
          });
          if (value == 7) ++done;
        },
        asio::detached);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&] { io.run(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(done.load(), 64);
}

TEST(SingleFlight, DifferentKeysRunSeparately) {
  SingleFlight<int> flights;
  std::atomic<int> runs{0};
  asio::io_context io;
  for (int i = 0; i < 3; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          co_await flights.run("key" + std::to_string(i), [&]() -> asio::awaitable<int> {
            ++runs;
            co_return 1;
          });
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(runs.load(), 3);
}

TEST(SingleFlight, ErrorsReachEveryWaiterAndTheNextCallRetries) {
  SingleFlight<int> flights;
  std::atomic<int> runs{0};
  std::atomic<int> failures{0};
  asio::io_context io;
  for (int i = 0; i < 10; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          try {
            co_await flights.run("key", [&]() -> asio::awaitable<int> {
              ++runs;
              asio::steady_timer timer(co_await asio::this_coro::executor, 10ms);
              co_await timer.async_wait(asio::use_awaitable);
              throw Error(ErrorCode::unavailable, "store down");
            });
          } catch (const Error& e) {
            if (e.code() == ErrorCode::unavailable) ++failures;
          }
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(failures.load(), 10);
  const int value = test::run_awaitable([&]() -> asio::awaitable<int> {
    co_return co_await flights.run("key", []() -> asio::awaitable<int> { co_return 5; });
  });
  EXPECT_EQ(value, 5);
}

TEST(WorkerPool, RunsOffTheCallingThreadAndReturnsTheResult) {
  WorkerPool pool(2, 4);
  const auto caller = std::this_thread::get_id();
  const auto [value, worker] =
      test::run_awaitable([&]() -> asio::awaitable<std::pair<int, std::thread::id>> {
        co_return co_await pool.run([] { return std::pair{3, std::this_thread::get_id()}; });
      });
  EXPECT_EQ(value, 3);
  EXPECT_NE(worker, caller);
}

// A resize must yield the core to a network thread: workers (and the libvips threads they
// start) run at a lower priority than the thread that hands them the job.
TEST(WorkerPool, JobsRunAtALowerPriorityThanTheCaller) {
  WorkerPool pool(1, 1);
  const int caller = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  const auto [first, started] = test::run_awaitable([&]() -> asio::awaitable<std::pair<int, int>> {
    co_return co_await pool.run([] {
      const int own = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
      int inherited = 0;
      std::thread([&inherited] {
        inherited = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
      }).join();
      return std::pair{own, inherited};
    });
  });
  const int expected = std::min(caller + WorkerPool::kWorkerNiceness, 19);
  EXPECT_EQ(first, expected);
  EXPECT_EQ(started, expected);
  // Lowered once per thread, not once per job.
  const int second = test::run_awaitable([&]() -> asio::awaitable<int> {
    co_return co_await pool.run(
        [] { return getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())); });
  });
  EXPECT_EQ(second, expected);
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())), caller);
}

TEST(WorkerPool, ExceptionsReachTheCaller) {
  WorkerPool pool(1, 1);
  EXPECT_THROW(test::run_awaitable([&]() -> asio::awaitable<int> {
                 co_return co_await pool.run([]() -> int { throw Error::bad_input("image", "x"); });
               }),
               Error);
  EXPECT_EQ(pool.pending(), 0u);
}

TEST(WorkerPool, AnswersOverloadedWhenFullInsteadOfQueueing) {
  WorkerPool pool(1, 2);  // capacity: 1 running + 2 waiting
  std::latch release(1);
  std::atomic<int> overloaded{0};
  std::atomic<int> completed{0};
  asio::io_context io;
  for (int i = 0; i < 6; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          try {
            co_await pool.run([&] {
              release.wait();
              return 0;
            });
            ++completed;
          } catch (const Error& e) {
            if (e.code() == ErrorCode::overloaded) ++overloaded;
          }
        },
        asio::detached);
  }
  // All six reach pool.run before any job can finish: three are refused at once.
  io.poll();
  EXPECT_EQ(overloaded.load(), 3);
  release.count_down();
  io.run();
  EXPECT_EQ(completed.load(), 3);
  EXPECT_EQ(pool.pending(), 0u);
}

}  // namespace
}  // namespace imagecpp
