// What requests share, hammered the way production uses it: many threads on a few keys at the
// same moment, with every operation (get, put, replace, evict, erase; lead, join, fail), and
// checks that every answer belongs to its key and that the structure's own accounting holds.
// CI runs these under ASan/UBSan and under TSan. Bounded by operation counts, never by time.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <latch>
#include <list>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "auth/token_cache.hpp"
#include "core/bytes_cache.hpp"
#include "core/error.hpp"
#include "core/single_flight.hpp"
#include "core/worker_pool.hpp"
#include "stress_support.hpp"

namespace imagecpp {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr int kThreads = 8;

SharedBytes value_for(const std::string& key, std::size_t size, unsigned version) {
  return share(test::keyed_value(key, size, version));
}

using test::belongs_to;

// Runs `body(thread_index, rng)` on kThreads threads released together.
template <class Body>
void on_threads(Body body) {
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(1000u + static_cast<unsigned>(t));
      start.arrive_and_wait();
      body(t, rng);
    });
  }
  for (auto& thread : threads) thread.join();
}

// ---------------------------------------------------------------------------------------------
// BytesCache

// The same operations, one thread, against a plain model of a byte-bounded LRU: the cache must
// keep exactly the model's entries in the model's order of eviction.
TEST(BytesCacheStress, MatchesAModelOfAByteBoundedLru) {
  const std::size_t capacity = 8 * BytesCache::cost("k0", std::string(900, 'x'));
  BytesCache cache(capacity);
  std::list<std::pair<std::string, SharedBytes>> model;  // front = most recent
  std::size_t model_bytes = 0;
  const auto model_find = [&](const std::string& key) {
    return std::find_if(model.begin(), model.end(), [&](const auto& e) { return e.first == key; });
  };
  const auto model_erase = [&](const std::string& key) {
    if (const auto it = model_find(key); it != model.end()) {
      model_bytes -= BytesCache::cost(key, *it->second);
      model.erase(it);
    }
  };
  std::mt19937 rng(7);
  for (unsigned i = 0; i < 20000; ++i) {
    const std::string key = "k" + std::to_string(rng() % 12);
    switch (rng() % 4) {
      case 0: {  // get
        const SharedBytes got = cache.get(key);
        const auto it = model_find(key);
        ASSERT_EQ(got != nullptr, it != model.end()) << "op " << i << " key " << key;
        if (got) {
          ASSERT_EQ(got.get(), it->second.get());
          model.splice(model.begin(), model, it);
        }
        break;
      }
      case 1:
      case 2: {  // put: a new key, or a replace; now and then too large to keep
        const std::size_t size = rng() % 10 == 0 ? capacity : 200 + rng() % 1400;
        const SharedBytes value = value_for(key, size, i);
        cache.put(key, value);
        model_erase(key);
        const std::size_t charge = BytesCache::cost(key, *value);
        if (charge <= capacity / 8) {
          model.emplace_front(key, value);
          model_bytes += charge;
          while (model_bytes > capacity) {
            model_bytes -= BytesCache::cost(model.back().first, *model.back().second);
            model.pop_back();
          }
        }
        break;
      }
      default: {  // erase
        const bool had = model_find(key) != model.end();
        ASSERT_EQ(cache.erase(key), had);
        model_erase(key);
      }
    }
    const auto stats = cache.stats();
    ASSERT_EQ(stats.entries, model.size()) << "op " << i;
    ASSERT_EQ(stats.bytes, model_bytes) << "op " << i;
    ASSERT_LE(stats.bytes, capacity);
  }
}

// The crash of issue 11: two requests that missed put the same key, while others read, evict
// and erase it. Every value read must be one stored under that key, and the accounting exact.
TEST(BytesCacheStress, ManyThreadsOnAFewKeysWithEveryOperation) {
  // Room for about eight values: sixteen keys keep it evicting.
  constexpr unsigned kKeys = 16;
  const std::size_t capacity = 8 * BytesCache::cost("key-0", std::string(4096, 'x'));
  BytesCache cache(capacity);
  std::atomic<std::uint64_t> wrong{0};
  std::atomic<std::uint64_t> hits{0};
  on_threads([&](int t, std::mt19937& rng) {
    for (unsigned i = 0; i < 20000; ++i) {
      const std::string key = "key-" + std::to_string(rng() % kKeys);
      switch (rng() % 6) {
        case 0:
        case 1:
          if (const SharedBytes got = cache.get(key)) {
            hits.fetch_add(1, std::memory_order_relaxed);
            if (!belongs_to(*got, key)) wrong.fetch_add(1, std::memory_order_relaxed);
          }
          break;
        case 2:  // the same key put twice in a row: the replace path
        case 3: {
          const SharedBytes value = value_for(key, 1024 + rng() % 3000, i * kThreads + t);
          cache.put(key, value);
          cache.put(key, value);
          break;
        }
        case 4:  // too large to keep: supersedes the key's entry
          cache.put(key, value_for(key, capacity / 4, i));
          break;
        default:
          cache.erase(key);
      }
    }
  });
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_GT(hits.load(), 0u);
  // The accounting adds up: what is left is exactly what the stats say.
  std::size_t bytes = 0;
  std::size_t entries = 0;
  for (unsigned k = 0; k < kKeys; ++k) {
    const std::string key = "key-" + std::to_string(k);
    if (const SharedBytes got = cache.get(key)) {
      EXPECT_TRUE(belongs_to(*got, key));
      bytes += BytesCache::cost(key, *got);
      ++entries;
    }
  }
  const auto stats = cache.stats();
  EXPECT_EQ(stats.entries, entries);
  EXPECT_EQ(stats.bytes, bytes);
  EXPECT_LE(stats.bytes, capacity);
  EXPECT_GT(stats.evictions, 0u);
}

// ---------------------------------------------------------------------------------------------
// TokenCache

TEST(TokenCacheStress, ManyThreadsOnAFewTokensWithEveryOperation) {
  auth::TokenCache cache(auth::TokenCacheSettings{.ttl = 3600s, .capacity = 4});
  std::atomic<std::uint64_t> wrong{0};
  on_threads([&](int, std::mt19937& rng) {
    for (unsigned i = 0; i < 20000; ++i) {
      const std::string key = auth::token_key("token-" + std::to_string(rng() % 7));
      switch (rng() % 4) {
        case 0:
        case 1:
          if (const auto user = cache.find(key); user && user->id != key.substr(0, 8)) {
            wrong.fetch_add(1, std::memory_order_relaxed);
          }
          break;
        case 2:
          cache.insert(key, auth::User{key.substr(0, 8), "someone"}, cache.generation());
          break;
        default:
          cache.erase(key);
      }
      if (cache.size() > 4) wrong.fetch_add(1, std::memory_order_relaxed);
    }
  });
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_LE(cache.size(), 4u);
}

// ---------------------------------------------------------------------------------------------
// The network threads as production runs them: one io_context per thread.

using test::Loops;

asio::awaitable<void> pause_for(std::chrono::microseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

// Callers on four loops, on three keys, over and over: one computation at a time per key, each
// caller gets its own key's value or its failure, and no flight is left behind.
TEST(SingleFlightStress, CallersOnManyLoopsOnAFewKeys) {
  SingleFlight<std::string> flights;
  std::array<std::atomic<int>, 3> running{};
  std::atomic<int> overlaps{0};
  std::atomic<int> wrong{0};
  std::atomic<int> failures{0};
  std::atomic<int> answers{0};
  std::atomic<int> runs{0};
  Loops loops(4);
  constexpr int kCallers = 96;
  constexpr int kRounds = 40;
  for (int c = 0; c < kCallers; ++c) {
    asio::co_spawn(
        loops[c],
        [&, c]() -> asio::awaitable<void> {
          std::mt19937 rng(static_cast<unsigned>(c));
          for (int round = 0; round < kRounds; ++round) {
            const int k = static_cast<int>(rng() % 3);
            const std::string key = "key-" + std::to_string(k);
            const bool fail = rng() % 5 == 0;
            const auto delay = std::chrono::microseconds(rng() % 300);
            auto work = [&, k, fail, delay]() -> asio::awaitable<std::string> {
              runs.fetch_add(1);
              if (running[k].fetch_add(1) != 0) overlaps.fetch_add(1);
              co_await pause_for(delay);
              running[k].fetch_sub(1);
              if (fail) throw Error(ErrorCode::unavailable, "store down");
              co_return "value-" + std::to_string(k);
            };
            try {
              const std::string got = co_await flights.run(key, std::move(work));
              if (got != "value-" + std::to_string(k)) wrong.fetch_add(1);
            } catch (const Error& e) {
              if (e.code() != ErrorCode::unavailable) wrong.fetch_add(1);
              failures.fetch_add(1);
            }
            answers.fetch_add(1);
          }
        },
        asio::detached);
  }
  loops.run();
  EXPECT_EQ(answers.load(), kCallers * kRounds);
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(failures.load(), 0);
  EXPECT_LT(runs.load(), kCallers * kRounds);  // callers did share flights
  EXPECT_EQ(flights.in_flight(), 0u);
}

// A leader whose loop is torn down while it waits must not strand its waiters on another loop,
// nor leave its key claimed for ever.
TEST(SingleFlightStress, AnAbandonedLeaderReleasesItsWaitersAndItsKey) {
  SingleFlight<int> flights;
  std::atomic<bool> waiter_failed{false};
  asio::io_context waiter_loop;
  {
    auto leader_loop = std::make_unique<asio::io_context>();
    asio::co_spawn(
        *leader_loop,
        [&]() -> asio::awaitable<void> {
          co_await flights.run("key", []() -> asio::awaitable<int> {
            co_await pause_for(std::chrono::hours(1));
            co_return 1;
          });
        },
        asio::detached);
    leader_loop->poll();  // the leader now waits on its timer
    ASSERT_EQ(flights.in_flight(), 1u);
    asio::co_spawn(
        waiter_loop,
        [&]() -> asio::awaitable<void> {
          try {
            co_await flights.run("key", []() -> asio::awaitable<int> { co_return 2; });
          } catch (const std::exception&) {
            waiter_failed = true;
          }
        },
        asio::detached);
    waiter_loop.poll();  // the waiter joined the flight
  }                      // the leader's loop dies with its suspended frame
  waiter_loop.run();
  EXPECT_TRUE(waiter_failed.load());
  EXPECT_EQ(flights.in_flight(), 0u);
  const int again = [&] {
    asio::io_context io;
    int value = 0;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          value = co_await flights.run("key", []() -> asio::awaitable<int> { co_return 3; });
        },
        asio::detached);
    io.run();
    return value;
  }();
  EXPECT_EQ(again, 3);
}

// ---------------------------------------------------------------------------------------------
// WorkerPool

// Callers on four loops flood a small pool: every job either runs (once, with its own result) or
// is refused as overloaded, and the pool's count of pending jobs returns to zero.
TEST(WorkerPoolStress, CallersOnManyLoopsFloodASmallPool) {
  WorkerPool pool(2, 6);
  Loops loops(4);
  std::atomic<int> completed{0};
  std::atomic<int> refused{0};
  std::atomic<int> wrong{0};
  std::atomic<int> max_pending{0};
  constexpr int kCallers = 64;
  constexpr int kJobs = 30;
  for (int c = 0; c < kCallers; ++c) {
    asio::co_spawn(
        loops[c],
        [&, c]() -> asio::awaitable<void> {
          for (int j = 0; j < kJobs; ++j) {
            const int input = c * 1000 + j;
            auto job = [input, &pool, &max_pending] {
              const int now = static_cast<int>(pool.pending());
              int seen = max_pending.load();
              while (now > seen && !max_pending.compare_exchange_weak(seen, now)) {
              }
              return input * 2;
            };
            try {
              if (co_await pool.run(std::move(job)) != input * 2) wrong.fetch_add(1);
              completed.fetch_add(1);
            } catch (const Error& e) {
              if (e.code() != ErrorCode::overloaded) wrong.fetch_add(1);
              refused.fetch_add(1);
            }
          }
        },
        asio::detached);
  }
  loops.run();
  EXPECT_EQ(completed.load() + refused.load(), kCallers * kJobs);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(completed.load(), 0);
  EXPECT_LE(max_pending.load(), 8);
  EXPECT_EQ(pool.pending(), 0u);
}

}  // namespace
}  // namespace imagecpp
