#pragma once
// The in-memory cache of verified tokens: a TTL per entry, a bounded size with LRU eviction,
// and a generation counter so that a verification that raced a logout is not cached.
// Entries are keyed by SHA-256 of the token: a heap dump shows no tokens.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "auth/verifier.hpp"
#include "core/lru_map.hpp"

namespace imagecpp::auth {

// The cache (and single-flight) key of a token: its SHA-256, 32 raw bytes.
std::string token_key(std::string_view token);

struct TokenCacheSettings {
  std::chrono::seconds ttl{3600};
  std::size_t capacity = 100'000;
};

class TokenCache {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `clock` is injectable for tests; the default is the steady clock.
  explicit TokenCache(TokenCacheSettings settings, Clock clock = {});

  // The user of a live entry (which becomes the most recently used); an expired one is dropped.
  std::optional<User> find(const std::string& key);

  // Bumped by every erase: read it before asking the auth service, hand it to insert().
  std::uint64_t generation() const;

  // Stores `user` unless an erase happened since `seen_generation` (a logout may have raced
  // the verification: better to ask again than to keep a revoked token for a whole TTL).
  // Returns whether it was stored.
  bool insert(const std::string& key, User user, std::uint64_t seen_generation);

  // Drops the entry now (logout). Returns whether there was one.
  bool erase(const std::string& key);

  std::size_t size() const;

 private:
  struct Entry {
    User user;
    std::chrono::steady_clock::time_point expires;
  };

  void evict_over_capacity();

  const TokenCacheSettings settings_;
  const Clock clock_;
  mutable std::mutex mutex_;
  LruMap<Entry> entries_;
  std::uint64_t generation_ = 0;
};

}  // namespace imagecpp::auth
