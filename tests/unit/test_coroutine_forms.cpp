// The coroutine forms the code relies on, checked for balanced constructions and destructions
// under GCC 12 (docs/DEVELOPING.md: it destroys a lambda temporary's captures twice when the
// lambda is created inside a co_await expression; these forms avoid that and must stay correct).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

#include "core/offload.hpp"
#include "run_awaitable.hpp"

namespace asio = boost::asio;
using imagecpp::test::run_awaitable;

namespace {

struct Counts {
  int made = 0;
  int destroyed = 0;
  int destroyed_twice = 0;
};

// Counts its lives; a destroyed object destroyed again is counted apart (and its value poisoned
// first, so a use after destruction shows as a wrong result too).
class Tracked {
 public:
  explicit Tracked(Counts& counts) : counts_(&counts) { ++counts_->made; }
  Tracked(const Tracked& other) : counts_(other.counts_), value_(other.value_) { ++counts_->made; }
  Tracked(Tracked&& other) noexcept : counts_(other.counts_), value_(other.value_) {
    ++counts_->made;
  }
  Tracked& operator=(const Tracked&) = delete;
  Tracked& operator=(Tracked&&) = delete;
  ~Tracked() {
    if (value_ == kDead) ++counts_->destroyed_twice;
    value_ = kDead;
    ++counts_->destroyed;
  }
  int value() const { return value_; }

 private:
  static constexpr int kDead = -7;
  Counts* counts_;
  int value_ = 42;
};

asio::awaitable<int> by_value_parameter(Tracked t) {
  co_return t.value();
}

void ExpectBalanced(const Counts& c) {
  EXPECT_GT(c.made, 0);
  EXPECT_EQ(c.made, c.destroyed);
  EXPECT_EQ(c.destroyed_twice, 0);
}

}  // namespace

// auth/http_client.cpp: a named lambda with owning captures, moved into co_spawn on a strand.
TEST(CoroutineForms, NamedLambdaMovedIntoCoSpawnInsideCoAwait) {
  Counts counts;
  const int result = run_awaitable([&]() -> asio::awaitable<int> {
    Tracked t(counts);
    auto strand = asio::make_strand(co_await asio::this_coro::executor);
    auto job = [t]() -> asio::awaitable<int> { co_return t.value(); };
    co_return co_await asio::co_spawn(strand, std::move(job), asio::use_awaitable);
  });
  EXPECT_EQ(result, 42);
  ExpectBalanced(counts);
}

// store/lmdb_store.cpp: a coroutine function with by-value parameters, called inside co_await.
TEST(CoroutineForms, CoroutineWithByValueParametersInsideCoAwait) {
  Counts counts;
  const int result = run_awaitable([&]() -> asio::awaitable<int> {
    Tracked t(counts);
    const auto executor = co_await asio::this_coro::executor;
    co_return co_await asio::co_spawn(executor, by_value_parameter(std::move(t)),
                                      asio::use_awaitable);
  });
  EXPECT_EQ(result, 42);
  ExpectBalanced(counts);
}

// The tests' run_awaitable and image_service's write-behind: a capturing lambda temporary given to
// co_spawn from plain code (not inside a co_await).
TEST(CoroutineForms, LambdaTemporaryCoSpawnedFromPlainCode) {
  Counts counts;
  {
    const Tracked t(counts);
    EXPECT_EQ(run_awaitable([t]() -> asio::awaitable<int> { co_return t.value(); }), 42);
  }
  ExpectBalanced(counts);
}

// core/offload.hpp (store/lmdb_store.cpp, api/api.cpp): a named job with owning captures moved
// into run_on inside co_await; run_on's initiation is a lambda temporary without captures. The
// job goes to the caller's own executor here: the counts are plain ints, kept on one thread.
TEST(CoroutineForms, NamedJobMovedIntoRunOnInsideCoAwait) {
  Counts counts;
  const int result = run_awaitable([&]() -> asio::awaitable<int> {
    Tracked t(counts);
    const auto executor = co_await asio::this_coro::executor;
    auto job = [t] { return t.value(); };
    co_return co_await imagecpp::run_on(executor, std::move(job));
  });
  EXPECT_EQ(result, 42);
  ExpectBalanced(counts);
}
