// CachingVerifier over a fake inner verifier: caching, single flight, what is never cached,
// forget() and its race with an in-flight verification, TTL and LRU end to end.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "auth/caching_verifier.hpp"
#include "core/error.hpp"
#include "run_awaitable.hpp"

namespace imagecpp::auth {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// The auth service as the cache sees it: tokens starting "ok" are valid, "down" cannot be
// told, anything else is rejected. Each call takes `delay` and is counted per token.
class FakeUpstream : public Verifier {
 public:
  explicit FakeUpstream(std::chrono::milliseconds delay = 0ms) : delay_(delay) {}

  asio::awaitable<User> verify(std::string token) override {
    {
      const std::lock_guard lock(mutex_);
      ++calls_[token];
    }
    if (delay_ > 0ms) {
      asio::steady_timer timer(co_await asio::this_coro::executor, delay_);
      co_await timer.async_wait(asio::use_awaitable);
    }
    if (token.starts_with("ok")) co_return User{"id-" + token, "name"};
    if (token.starts_with("down")) throw Error(ErrorCode::unavailable, "down");
    throw Error(ErrorCode::unauthorized, "rejected");
  }

  void forget(std::string_view) override { ++forgets; }

  int calls(const std::string& token) const {
    const std::lock_guard lock(mutex_);
    const auto it = calls_.find(token);
    return it == calls_.end() ? 0 : it->second;
  }

  std::atomic<int> forgets{0};

 private:
  const std::chrono::milliseconds delay_;
  mutable std::mutex mutex_;
  std::map<std::string, int> calls_;
};

struct Fixture {
  explicit Fixture(std::chrono::milliseconds delay = 0ms, TokenCacheSettings settings = {},
                   TokenCache::Clock clock = {})
      : upstream(new FakeUpstream(delay)),
        verifier(std::unique_ptr<Verifier>(upstream), settings, std::move(clock)) {}

  User verify(const std::string& token) {
    return test::run_awaitable(
        [&]() -> asio::awaitable<User> { co_return co_await verifier.verify(token); });
  }

  ErrorCode failure(const std::string& token) {
    try {
      verify(token);
    } catch (const Error& e) {
      return e.code();
    }
    ADD_FAILURE() << "no error for " << token;
    return ErrorCode::internal;
  }

  FakeUpstream* upstream;  // owned by verifier
  CachingVerifier verifier;
};

TEST(CachingVerifier, SecondUseIsAnsweredFromTheCache) {
  Fixture f;
  EXPECT_EQ(f.verify("ok1").id, "id-ok1");
  EXPECT_EQ(f.verify("ok1").id, "id-ok1");
  EXPECT_EQ(f.upstream->calls("ok1"), 1);
  EXPECT_EQ(f.verifier.stats().hits.load(), 1u);
  EXPECT_EQ(f.verifier.stats().upstream_calls.load(), 1u);
}

TEST(CachingVerifier, ConcurrentFirstUsesMakeOneCall) {
  Fixture f(20ms);
  asio::io_context io;
  std::atomic<int> done{0};
  for (int i = 0; i < 20; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          const User u = co_await f.verifier.verify("ok-shared");
          if (u.id == "id-ok-shared") ++done;
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(done.load(), 20);
  EXPECT_EQ(f.upstream->calls("ok-shared"), 1);
}

TEST(CachingVerifier, ConcurrentFirstUsesOnManyThreadsMakeOneCall) {
  Fixture f(20ms);
  asio::io_context io;
  std::atomic<int> done{0};
  for (int i = 0; i < 64; ++i) {
    asio::co_spawn(
        asio::make_strand(io),
        [&]() -> asio::awaitable<void> {
          const User u = co_await f.verifier.verify("ok-threads");
          if (u.id == "id-ok-threads") ++done;
        },
        asio::detached);
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&io] { io.run(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(done.load(), 64);
  EXPECT_EQ(f.upstream->calls("ok-threads"), 1);
}

TEST(CachingVerifier, RejectionsAreNotCached) {
  Fixture f;
  EXPECT_EQ(f.failure("bad"), ErrorCode::unauthorized);
  EXPECT_EQ(f.failure("bad"), ErrorCode::unauthorized);
  EXPECT_EQ(f.upstream->calls("bad"), 2);
}

TEST(CachingVerifier, AnAuthServiceDownIsSharedButNotCached) {
  Fixture f(20ms);
  asio::io_context io;
  std::atomic<int> unavailable{0};
  for (int i = 0; i < 5; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          try {
            co_await f.verifier.verify("down1");
          } catch (const Error& e) {
            if (e.code() == ErrorCode::unavailable) ++unavailable;
          }
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(unavailable.load(), 5);
  EXPECT_EQ(f.upstream->calls("down1"), 1);
  EXPECT_EQ(f.failure("down1"), ErrorCode::unavailable);
  EXPECT_EQ(f.upstream->calls("down1"), 2);
}

TEST(CachingVerifier, ForgetDropsTheTokenAtOnce) {
  Fixture f;
  f.verify("ok2");
  f.verifier.forget("ok2");
  EXPECT_EQ(f.verifier.cached(), 0u);
  EXPECT_EQ(f.upstream->forgets.load(), 1);
  f.verify("ok2");
  EXPECT_EQ(f.upstream->calls("ok2"), 2);
  EXPECT_EQ(f.verifier.stats().forgotten.load(), 1u);
}

TEST(CachingVerifier, AVerificationThatRacedALogoutIsNotCached) {
  Fixture f(50ms);
  asio::io_context io;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { co_await f.verifier.verify("ok-race"); },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(io, 10ms);  // the upstream call is in flight now
        co_await timer.async_wait(asio::use_awaitable);
        f.verifier.forget("ok-race");
      },
      asio::detached);
  io.run();
  EXPECT_EQ(f.verifier.cached(), 0u);
  f.verify("ok-race");
  EXPECT_EQ(f.upstream->calls("ok-race"), 2);
}

// The logout consumer calls forget() on its own thread while network threads verify.
TEST(CachingVerifier, ForgetFromAnotherThreadWhileVerifying) {
  Fixture f(1ms);
  asio::io_context io;
  std::atomic<bool> done{false};
  std::atomic<int> ok{0};
  for (int i = 0; i < 32; ++i) {
    asio::co_spawn(
        asio::make_strand(io),
        [&, i]() -> asio::awaitable<void> {
          for (int round = 0; round < 20; ++round) {
            const User u = co_await f.verifier.verify("ok-" + std::to_string(i % 4));
            if (!u.id.empty()) ++ok;
          }
        },
        asio::detached);
  }
  std::thread forgetter([&] {
    while (!done) {
      for (int i = 0; i < 4; ++i) f.verifier.forget("ok-" + std::to_string(i));
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) threads.emplace_back([&io] { io.run(); });
  for (auto& t : threads) t.join();
  done = true;
  forgetter.join();
  EXPECT_EQ(ok.load(), 32 * 20);
}

TEST(CachingVerifier, ExpiredTokensAreVerifiedAgain) {
  auto now = std::chrono::steady_clock::time_point{};
  Fixture f(0ms, {.ttl = 10s, .capacity = 10}, [&now] { return now; });
  f.verify("ok3");
  now += 9s;
  f.verify("ok3");
  EXPECT_EQ(f.upstream->calls("ok3"), 1);
  now += 2s;
  f.verify("ok3");
  EXPECT_EQ(f.upstream->calls("ok3"), 2);
}

TEST(CachingVerifier, TheLeastRecentlyUsedTokenIsVerifiedAgain) {
  Fixture f(0ms, {.ttl = 60s, .capacity = 2});
  f.verify("ok-a");
  f.verify("ok-b");
  f.verify("ok-c");  // evicts ok-a
  f.verify("ok-c");
  f.verify("ok-a");
  EXPECT_EQ(f.upstream->calls("ok-a"), 2);
  EXPECT_EQ(f.upstream->calls("ok-c"), 1);
}

}  // namespace
}  // namespace imagecpp::auth
