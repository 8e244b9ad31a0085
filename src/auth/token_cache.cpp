#include "auth/token_cache.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace imagecpp::auth {

std::string token_key(std::string_view token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(token.data(), token.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

TokenCache::TokenCache(TokenCacheSettings settings, Clock clock)
    : settings_(settings),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })) {
  if (settings_.capacity == 0) throw std::invalid_argument("token cache: capacity must be > 0");
}

std::optional<User> TokenCache::find(const std::string& key) {
  const auto now = clock_();
  const std::lock_guard lock(mutex_);
  const auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  if (it->second->expires <= now) {
    lru_.erase(it->second);
    index_.erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->user;
}

std::uint64_t TokenCache::generation() const {
  const std::lock_guard lock(mutex_);
  return generation_;
}

bool TokenCache::insert(const std::string& key, User user, std::uint64_t seen_generation) {
  const auto expires = clock_() + settings_.ttl;
  const std::lock_guard lock(mutex_);
  if (generation_ != seen_generation) return false;
  if (const auto it = index_.find(key); it != index_.end()) {
    it->second->user = std::move(user);
    it->second->expires = expires;
    lru_.splice(lru_.begin(), lru_, it->second);
    return true;
  }
  lru_.push_front(Entry{key, std::move(user), expires});
  index_.emplace(key, lru_.begin());
  evict_over_capacity();
  return true;
}

bool TokenCache::erase(const std::string& key) {
  const std::lock_guard lock(mutex_);
  ++generation_;
  const auto it = index_.find(key);
  if (it == index_.end()) return false;
  lru_.erase(it->second);
  index_.erase(it);
  return true;
}

std::size_t TokenCache::size() const {
  const std::lock_guard lock(mutex_);
  return index_.size();
}

// Called with the lock held. Expired entries are not swept eagerly: they fall off the LRU end
// like any other cold entry, or are dropped when next looked up.
void TokenCache::evict_over_capacity() {
  while (index_.size() > settings_.capacity) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

}  // namespace imagecpp::auth
