// The hot cache: bounded by bytes, least recently used out first, values shared not copied.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "core/bytes_cache.hpp"

namespace imagecpp {
namespace {

SharedBytes bytes_of(std::size_t n, char fill = 'x') {
  return share(std::string(n, fill));
}

// Room for exactly `n` entries of `value_size` bytes under 2-byte keys.
std::size_t room_for(std::size_t n, std::size_t value_size) {
  return n * BytesCache::cost("k0", std::string(value_size, 'x'));
}

TEST(BytesCache, HitReturnsTheSameBufferAndCounts) {
  BytesCache cache(1 << 20);
  const SharedBytes value = bytes_of(100);
  cache.put("a", value);
  EXPECT_EQ(cache.get("a").get(), value.get());
  EXPECT_EQ(cache.get("b"), nullptr);
  const auto stats = cache.stats();
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.entries, 1u);
  EXPECT_EQ(stats.bytes, BytesCache::cost("a", *value));
}

TEST(BytesCache, EvictsTheLeastRecentlyUsedToStayWithinItsBytes) {
  // Eight entries fit (and each is exactly an eighth of the capacity, the largest admitted).
  BytesCache cache(room_for(8, 1000));
  for (int i = 0; i < 8; ++i) cache.put("k" + std::to_string(i), bytes_of(1000));
  ASSERT_NE(cache.get("k0"), nullptr);  // k0 is now the most recent; k1 the least
  cache.put("k8", bytes_of(1000));
  EXPECT_EQ(cache.get("k1"), nullptr);
  EXPECT_NE(cache.get("k0"), nullptr);
  EXPECT_NE(cache.get("k8"), nullptr);
  const auto stats = cache.stats();
  EXPECT_EQ(stats.entries, 8u);
  EXPECT_EQ(stats.evictions, 1u);
  EXPECT_LE(stats.bytes, cache.capacity());
}

TEST(BytesCache, AValueOverAnEighthOfTheCapacityIsNotKept) {
  BytesCache cache(room_for(8, 1000));
  cache.put("small", bytes_of(10));
  cache.put("big", bytes_of(1001));
  EXPECT_EQ(cache.get("big"), nullptr);
  EXPECT_NE(cache.get("small"), nullptr);  // and it flushed nothing
}

TEST(BytesCache, ReplacingAKeyChargesOnlyTheNewValue) {
  BytesCache cache(1 << 20);
  cache.put("a", bytes_of(500));
  cache.put("a", bytes_of(200, 'y'));
  EXPECT_EQ(*cache.get("a"), std::string(200, 'y'));
  EXPECT_EQ(cache.stats().entries, 1u);
  EXPECT_EQ(cache.stats().bytes, BytesCache::cost("a", std::string(200, 'y')));
}

TEST(BytesCache, AnEvictedValueLivesOnWhileSomeoneHoldsIt) {
  BytesCache cache(room_for(8, 1000));
  cache.put("k0", bytes_of(1000, 'z'));
  const SharedBytes held = cache.get("k0");
  for (int i = 1; i <= 8; ++i) cache.put("k" + std::to_string(i), bytes_of(1000));
  EXPECT_EQ(cache.get("k0"), nullptr);
  EXPECT_EQ(*held, std::string(1000, 'z'));
}

TEST(BytesCache, CapacityZeroKeepsNothing) {
  BytesCache cache(0);
  EXPECT_FALSE(cache.enabled());
  cache.put("a", bytes_of(1));
  EXPECT_EQ(cache.get("a"), nullptr);
  EXPECT_EQ(cache.stats().entries, 0u);
}

// However many clients read one large image at once, its bytes are in memory once: a value too
// large to keep is found while a response still holds it, and only then.
TEST(BytesCache, AValueTooLargeToKeepIsSharedWhileHeld) {
  BytesCache cache(room_for(8, 1000));
  SharedBytes held = bytes_of(5000);
  cache.put("big", held);
  EXPECT_EQ(cache.get("big").get(), held.get());
  EXPECT_EQ(cache.stats().shared_hits, 1u);
  EXPECT_EQ(cache.stats().entries, 0u);  // not charged: it is not kept
  EXPECT_EQ(cache.stats().bytes, 0u);
  held.reset();
  EXPECT_EQ(cache.get("big"), nullptr);
}

TEST(BytesCache, WithCapacityZeroValuesAreStillSharedWhileHeld) {
  BytesCache cache(0);
  const SharedBytes held = bytes_of(10);
  cache.put("a", held);
  EXPECT_EQ(cache.get("a").get(), held.get());
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST(BytesCache, EraseForgetsHeldValuesToo) {
  BytesCache cache(room_for(8, 1000));
  const SharedBytes held = bytes_of(5000);
  cache.put("big", held);
  cache.erase("big");
  EXPECT_EQ(cache.get("big"), nullptr);
}

TEST(BytesCache, DeadHeldEntriesArePrunedAsTheIndexGrows) {
  BytesCache cache(room_for(8, 1000));
  for (int i = 0; i < 10000; ++i) cache.put("big" + std::to_string(i), bytes_of(2000));
  const SharedBytes held = bytes_of(2000);
  cache.put("alive", held);
  EXPECT_EQ(cache.get("alive").get(), held.get());
  EXPECT_EQ(cache.get("big9999"), nullptr);
  EXPECT_LE(cache.stats().held_entries, 130u);  // bounded by the live ones, not by history
}

TEST(BytesCache, ConcurrentReadersAndWritersKeepItConsistent) {
  BytesCache cache(room_for(64, 256));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 5000; ++i) {
        const std::string key = "k" + std::to_string((i * 7 + t) % 200);
        if (const SharedBytes hit = cache.get(key)) {
          ASSERT_EQ(hit->size(), 256u);
        } else {
          cache.put(key, bytes_of(256));
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto stats = cache.stats();
  EXPECT_LE(stats.bytes, cache.capacity());
  EXPECT_LE(stats.entries, 64u);
  EXPECT_EQ(stats.hits + stats.misses, 4u * 5000u);
}

}  // namespace
}  // namespace imagecpp
