// run_on (core/offload.hpp): the job runs on the pool, the caller resumes on its own executor.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <string>
#include <thread>

#include "core/bytes.hpp"
#include "core/error.hpp"
#include "core/offload.hpp"
#include "stress_support.hpp"

namespace asio = boost::asio;
using imagecpp::Error;
using imagecpp::ErrorCode;
using imagecpp::run_on;
using imagecpp::share;
using imagecpp::SharedBytes;

namespace {

std::thread::id thread_of(asio::thread_pool& pool) {
  return asio::post(pool, asio::use_future([] { return std::this_thread::get_id(); })).get();
}

}  // namespace

TEST(Offload, RunsTheJobOnThePoolAndResumesOnTheCallersThread) {
  asio::io_context io(1);
  asio::thread_pool pool(1);
  const std::thread::id pool_thread = thread_of(pool);
  std::thread::id caller;
  std::thread::id worker;
  std::thread::id resumed;
  std::string got;
  auto work = [&]() -> asio::awaitable<void> {
    caller = std::this_thread::get_id();
    auto job = [&worker] {
      worker = std::this_thread::get_id();
      return std::string("encoded");
    };
    got = co_await run_on(pool.get_executor(), std::move(job));
    resumed = std::this_thread::get_id();
  };
  asio::co_spawn(io, std::move(work), asio::detached);
  io.run();  // the test's thread is the caller's
  pool.join();
  EXPECT_EQ(got, "encoded");
  EXPECT_EQ(caller, std::this_thread::get_id());
  EXPECT_EQ(worker, pool_thread);
  EXPECT_NE(worker, caller);
  EXPECT_EQ(resumed, caller);
}

TEST(Offload, TheJobsExceptionReachesTheCallerOnItsThread) {
  asio::io_context io(1);
  asio::thread_pool pool(1);
  std::thread::id caught_on;
  ErrorCode code = ErrorCode::bad_input;
  auto work = [&]() -> asio::awaitable<void> {
    auto job = []() -> SharedBytes { throw Error(ErrorCode::unavailable, "disk gone"); };
    try {
      co_await run_on(pool.get_executor(), std::move(job));
    } catch (const Error& e) {
      caught_on = std::this_thread::get_id();
      code = e.code();
    }
  };
  asio::co_spawn(io, std::move(work), asio::detached);
  io.run();
  pool.join();
  EXPECT_EQ(code, ErrorCode::unavailable);
  EXPECT_EQ(caught_on, std::this_thread::get_id());
}

// Callers on four loops (as the network threads) hand jobs to one pool at once: each gets its
// own result back on its own loop's thread.
TEST(Offload, ManyCallersOnManyLoopsEachResumeOnTheirOwnWithTheirOwnResult) {
  constexpr int kCallers = 64;
  imagecpp::test::Loops loops(4);
  asio::thread_pool pool(2);
  std::atomic<int> right{0};
  std::atomic<int> off_thread{0};
  for (int i = 0; i < kCallers; ++i) {
    auto caller = [&pool, &right, &off_thread, i]() -> asio::awaitable<void> {
      const std::thread::id own = std::this_thread::get_id();
      const std::string key = "key-" + std::to_string(i);
      auto job = [&key, &off_thread, own] {
        if (std::this_thread::get_id() != own) off_thread.fetch_add(1);
        return share(imagecpp::test::keyed_value(key, 256 << 10, 1));
      };
      const SharedBytes value = co_await run_on(pool.get_executor(), std::move(job));
      if (std::this_thread::get_id() == own && value && value->size() == (256u << 10) &&
          imagecpp::test::belongs_to(*value, key)) {
        right.fetch_add(1);
      }
    };
    asio::co_spawn(loops[static_cast<std::size_t>(i)], std::move(caller), asio::detached);
  }
  loops.run();
  pool.join();
  EXPECT_EQ(off_thread.load(), kCallers);
  EXPECT_EQ(right.load(), kCallers);
}
