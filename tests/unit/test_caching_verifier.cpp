// CachingVerifier over a fake inner verifier: caching, single flight, what is never cached,
// forget() and its race with an in-flight verification, TTL and LRU end to end, remembered
// rejections, and the limit on calls in flight.
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
    const InFlight in_flight(*this);
    if (delay_ > 0ms) {
      asio::steady_timer timer(co_await asio::this_coro::executor, delay_);
      co_await timer.async_wait(asio::use_awaitable);
    }
    ++answered;
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

  int total_calls() const {
    const std::lock_guard lock(mutex_);
    int total = 0;
    for (const auto& [token, count] : calls_) total += count;
    return total;
  }

  std::atomic<int> forgets{0};
  std::atomic<int> answered{0};       // calls that got past their delay
  std::atomic<int> in_flight{0};      // calls running now
  std::atomic<int> max_in_flight{0};  // the most calls ever running at once

 private:
  // Counts a call as running from its start to its end, whichever way it ends.
  class InFlight {
   public:
    explicit InFlight(FakeUpstream& owner) : owner_(owner) {
      const int now = ++owner_.in_flight;
      int seen = owner_.max_in_flight.load();
      while (now > seen && !owner_.max_in_flight.compare_exchange_weak(seen, now)) {
      }
    }
    ~InFlight() { --owner_.in_flight; }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

   private:
    FakeUpstream& owner_;
  };

  const std::chrono::milliseconds delay_;
  mutable std::mutex mutex_;
  std::map<std::string, int> calls_;
};

struct Fixture {
  explicit Fixture(std::chrono::milliseconds delay = 0ms, CachingVerifierSettings settings = {},
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

TEST(CachingVerifier, RejectionsAreRemembered) {
  Fixture f;
  EXPECT_EQ(f.failure("bad"), ErrorCode::unauthorized);
  EXPECT_EQ(f.failure("bad"), ErrorCode::unauthorized);
  EXPECT_EQ(f.failure("bad"), ErrorCode::unauthorized);
  EXPECT_EQ(f.upstream->calls("bad"), 1);
  EXPECT_EQ(f.verifier.stats().rejected_hits.load(), 2u);
  EXPECT_EQ(f.verifier.stats().hits.load(), 0u);
  EXPECT_EQ(f.verifier.rejected_cached(), 1u);
  EXPECT_EQ(f.verifier.cached(), 0u);
}

TEST(CachingVerifier, RememberedRejectionsExpire) {
  auto now = std::chrono::steady_clock::time_point{};
  Fixture f(0ms,
            {.valid = {.ttl = 3600s, .capacity = 10}, .rejected = {.ttl = 10s, .capacity = 10}},
            [&now] { return now; });
  EXPECT_EQ(f.failure("bad"), ErrorCode::unauthorized);
  now += 9s;
  EXPECT_EQ(f.failure("bad"), ErrorCode::unauthorized);
  EXPECT_EQ(f.upstream->calls("bad"), 1);
  now += 2s;
  EXPECT_EQ(f.failure("bad"), ErrorCode::unauthorized);
  EXPECT_EQ(f.upstream->calls("bad"), 2);
}

TEST(CachingVerifier, TheLeastRecentlyUsedRejectionIsForgottenFirst) {
  Fixture f(0ms, {.valid = {}, .rejected = {.ttl = 60s, .capacity = 2}});
  f.failure("bad-a");
  f.failure("bad-b");
  f.failure("bad-c");  // forgets bad-a
  f.failure("bad-c");
  f.failure("bad-a");
  EXPECT_EQ(f.upstream->calls("bad-a"), 2);
  EXPECT_EQ(f.upstream->calls("bad-c"), 1);
  EXPECT_EQ(f.verifier.rejected_cached(), 2u);
}

// Junk tokens have their own bound: a flood of them never pushes valid tokens out.
TEST(CachingVerifier, RejectionsNeverEvictValidTokens) {
  Fixture f(0ms, {.valid = {.ttl = 60s, .capacity = 1}, .rejected = {.ttl = 60s, .capacity = 4}});
  f.verify("ok-kept");
  for (int i = 0; i < 20; ++i) f.failure("bad-" + std::to_string(i));
  f.verify("ok-kept");
  EXPECT_EQ(f.upstream->calls("ok-kept"), 1);
  EXPECT_EQ(f.verifier.rejected_cached(), 4u);
}

TEST(CachingVerifier, ALogoutLeavesARememberedRejection) {
  Fixture f;
  f.failure("bad");
  f.verifier.forget("bad");
  EXPECT_EQ(f.failure("bad"), ErrorCode::unauthorized);
  EXPECT_EQ(f.upstream->calls("bad"), 1);
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
  Fixture f(0ms, {.valid = {.ttl = 10s, .capacity = 10}}, [&now] { return now; });
  f.verify("ok3");
  now += 9s;
  f.verify("ok3");
  EXPECT_EQ(f.upstream->calls("ok3"), 1);
  now += 2s;
  f.verify("ok3");
  EXPECT_EQ(f.upstream->calls("ok3"), 2);
}

TEST(CachingVerifier, TheLeastRecentlyUsedTokenIsVerifiedAgain) {
  Fixture f(0ms, {.valid = {.ttl = 60s, .capacity = 2}});
  f.verify("ok-a");
  f.verify("ok-b");
  f.verify("ok-c");  // evicts ok-a
  f.verify("ok-c");
  f.verify("ok-a");
  EXPECT_EQ(f.upstream->calls("ok-a"), 2);
  EXPECT_EQ(f.upstream->calls("ok-c"), 1);
}

// -- the limit on calls in flight ---------------------------------------------------------

CachingVerifierSettings limited(std::size_t max_in_flight) {
  return {.valid = {}, .rejected = {}, .max_in_flight = max_in_flight};
}

// One thread: each check runs until it waits for the (slow) upstream, so the first four take
// the four places and every later one is refused before any upstream call has answered.
TEST(CachingVerifier, BeyondTheLimitChecksAreRefusedAtOnce) {
  Fixture f(100ms, limited(4));
  asio::io_context io;
  std::atomic<int> ok{0};
  std::atomic<int> refused{0};
  std::atomic<int> refused_after_an_answer{0};
  for (int i = 0; i < 50; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          try {
            co_await f.verifier.verify("ok-" + std::to_string(i));
            ++ok;
          } catch (const Error& e) {
            if (e.code() != ErrorCode::overloaded) throw;
            ++refused;
            if (f.upstream->answered.load() > 0) ++refused_after_an_answer;
          }
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(refused.load(), 46);
  EXPECT_EQ(refused_after_an_answer.load(), 0) << "a refused check waited for the upstream";
  EXPECT_EQ(f.upstream->max_in_flight.load(), 4);
  EXPECT_EQ(f.upstream->total_calls(), 4);
  EXPECT_EQ(f.verifier.stats().refused.load(), 46u);
  EXPECT_EQ(f.verifier.stats().upstream_calls.load(), 4u);
  EXPECT_EQ(f.verifier.in_flight(), 0u);
}

// Many distinct tokens, valid and not, checked on four threads against a slow upstream.
TEST(CachingVerifier, TheLimitHoldsOnManyThreads) {
  constexpr int kChecks = 200;
  Fixture f(200ms, limited(8));  // long enough that the first eight are still out
  asio::io_context io;
  std::atomic<int> ok{0};
  std::atomic<int> rejected{0};
  std::atomic<int> refused{0};
  for (int i = 0; i < kChecks; ++i) {
    asio::co_spawn(
        asio::make_strand(io),
        [&, i]() -> asio::awaitable<void> {
          try {
            co_await f.verifier.verify((i % 2 ? "ok-" : "bad-") + std::to_string(i));
            ++ok;
          } catch (const Error& e) {
            if (e.code() == ErrorCode::unauthorized) ++rejected;
            if (e.code() == ErrorCode::overloaded) ++refused;
          }
        },
        asio::detached);
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&io] { io.run(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load() + rejected.load() + refused.load(), kChecks);
  EXPECT_GE(refused.load(), 1);
  EXPECT_LE(f.upstream->max_in_flight.load(), 8);
  EXPECT_EQ(f.upstream->total_calls(), ok.load() + rejected.load());
  EXPECT_EQ(f.verifier.stats().refused.load(), static_cast<std::uint64_t>(refused.load()));
  EXPECT_EQ(f.verifier.in_flight(), 0u);
}

TEST(CachingVerifier, ConcurrentChecksOfOneTokenTakeOnePlace) {
  Fixture f(20ms, limited(1));
  asio::io_context io;
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await f.verifier.verify("ok-shared");
          ++ok;
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(f.upstream->calls("ok-shared"), 1);
  EXPECT_EQ(f.verifier.stats().refused.load(), 0u);
}

TEST(CachingVerifier, ARefusedCheckIsNotRemembered) {
  Fixture f(20ms, limited(1));
  asio::io_context io;
  std::atomic<int> refused{0};
  for (const char* token : {"ok-first", "ok-second", "bad-third"}) {
    asio::co_spawn(
        io,
        [&, token]() -> asio::awaitable<void> {
          try {
            co_await f.verifier.verify(token);
          } catch (const Error& e) {
            if (e.code() == ErrorCode::overloaded) ++refused;
          }
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(refused.load(), 2);
  EXPECT_EQ(f.verify("ok-second").id, "id-ok-second");
  EXPECT_EQ(f.failure("bad-third"), ErrorCode::unauthorized);
  EXPECT_EQ(f.upstream->calls("ok-second"), 1);
  EXPECT_EQ(f.upstream->calls("bad-third"), 1);
}

TEST(CachingVerifier, APlaceIsGivenBackWhenTheCallFails) {
  Fixture f(0ms, limited(1));
  EXPECT_EQ(f.failure("down1"), ErrorCode::unavailable);
  EXPECT_EQ(f.failure("bad1"), ErrorCode::unauthorized);
  EXPECT_EQ(f.verify("ok1").id, "id-ok1");
  EXPECT_EQ(f.verifier.in_flight(), 0u);
  EXPECT_EQ(f.verifier.stats().refused.load(), 0u);
}

// A loop torn down (shutdown) while a check waits for the upstream destroys its coroutine
// frame: the place it held must come back.
TEST(CachingVerifier, APlaceIsGivenBackWhenTheCallIsAbandoned) {
  Fixture f(3600s, limited(1));
  {
    asio::io_context io;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { co_await f.verifier.verify("ok-abandoned"); },
        asio::detached);
    while (f.upstream->in_flight.load() == 0) io.run_one();
    EXPECT_EQ(f.verifier.in_flight(), 1u);
  }
  EXPECT_EQ(f.verifier.in_flight(), 0u);
  EXPECT_EQ(f.upstream->in_flight.load(), 0);
}

TEST(CachingVerifier, ALimitOfZeroIsRefused) {
  EXPECT_THROW(CachingVerifier(std::make_unique<FakeUpstream>(), limited(0)),
               std::invalid_argument);
}

}  // namespace
}  // namespace imagecpp::auth
