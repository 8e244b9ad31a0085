// TokenCache: TTL against an injectable clock, the LRU bound, and the logout race guard.
#include <gtest/gtest.h>

#include <chrono>

#include "auth/token_cache.hpp"

namespace imagecpp::auth {
namespace {

using namespace std::chrono_literals;
using TimePoint = std::chrono::steady_clock::time_point;

struct FakeClock {
  TimePoint now{};
  TokenCache::Clock fn() {
    return [this] { return now; };
  }
};

User user(std::string id) {
  return User{std::move(id), "name"};
}

TEST(TokenKey, IsSha256AndNeverTheToken) {
  const std::string key = token_key("abc");
  ASSERT_EQ(key.size(), 32u);
  EXPECT_EQ(static_cast<unsigned char>(key[0]), 0xbau);  // SHA-256("abc") = ba7816bf...
  EXPECT_EQ(static_cast<unsigned char>(key[31]), 0xadu);
  EXPECT_NE(token_key("abd"), key);
}

TEST(TokenCache, FindsWhatWasInserted) {
  TokenCache cache({.ttl = 60s, .capacity = 10});
  EXPECT_FALSE(cache.find(token_key("t")));
  EXPECT_TRUE(cache.insert(token_key("t"), user("u1"), cache.generation()));
  const auto found = cache.find(token_key("t"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, "u1");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(TokenCache, EntriesExpireAfterTheTtl) {
  FakeClock clock;
  TokenCache cache({.ttl = 60s, .capacity = 10}, clock.fn());
  cache.insert(token_key("t"), user("u1"), cache.generation());
  clock.now += 59s;
  EXPECT_TRUE(cache.find(token_key("t")));
  clock.now += 1s;
  EXPECT_FALSE(cache.find(token_key("t")));
  EXPECT_EQ(cache.size(), 0u);  // dropped on lookup
}

TEST(TokenCache, ReinsertRenewsTheTtl) {
  FakeClock clock;
  TokenCache cache({.ttl = 60s, .capacity = 10}, clock.fn());
  cache.insert(token_key("t"), user("u1"), cache.generation());
  clock.now += 50s;
  cache.insert(token_key("t"), user("u2"), cache.generation());
  clock.now += 50s;
  const auto found = cache.find(token_key("t"));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, "u2");
}

TEST(TokenCache, EvictsTheLeastRecentlyUsedBeyondCapacity) {
  TokenCache cache({.ttl = 60s, .capacity = 2});
  cache.insert(token_key("a"), user("a"), cache.generation());
  cache.insert(token_key("b"), user("b"), cache.generation());
  EXPECT_TRUE(cache.find(token_key("a")));  // a is now more recent than b
  cache.insert(token_key("c"), user("c"), cache.generation());
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.find(token_key("a")));
  EXPECT_FALSE(cache.find(token_key("b")));
  EXPECT_TRUE(cache.find(token_key("c")));
}

TEST(TokenCache, EraseDropsAtOnce) {
  TokenCache cache({.ttl = 60s, .capacity = 10});
  cache.insert(token_key("t"), user("u"), cache.generation());
  EXPECT_TRUE(cache.erase(token_key("t")));
  EXPECT_FALSE(cache.find(token_key("t")));
  EXPECT_FALSE(cache.erase(token_key("t")));
}

TEST(TokenCache, AnInsertThatRacedAnEraseIsNotStored) {
  TokenCache cache({.ttl = 60s, .capacity = 10});
  const auto seen = cache.generation();                         // the verification starts...
  cache.erase(token_key("t"));                                  // ...a logout arrives meanwhile...
  EXPECT_FALSE(cache.insert(token_key("t"), user("u"), seen));  // ...its answer is stale
  EXPECT_FALSE(cache.find(token_key("t")));
  EXPECT_TRUE(cache.insert(token_key("t"), user("u"), cache.generation()));
}

TEST(TokenCache, ZeroCapacityIsRefused) {
  EXPECT_THROW(TokenCache({.ttl = 60s, .capacity = 0}), std::invalid_argument);
}

}  // namespace
}  // namespace imagecpp::auth
