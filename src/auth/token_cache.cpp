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
  const Entry* entry = entries_.find(key);
  if (entry == nullptr) return std::nullopt;
  if (entry->expires <= now) {
    entries_.erase(key);
    return std::nullopt;
  }
  return entry->user;
}

std::uint64_t TokenCache::generation() const {
  const std::lock_guard lock(mutex_);
  return generation_;
}

bool TokenCache::insert(const std::string& key, User user, std::uint64_t seen_generation) {
  const auto expires = clock_() + settings_.ttl;
  const std::lock_guard lock(mutex_);
  if (generation_ != seen_generation) return false;
  entries_.put(key, Entry{std::move(user), expires});
  evict_over_capacity();
  return true;
}

bool TokenCache::erase(const std::string& key) {
  const std::lock_guard lock(mutex_);
  ++generation_;
  return entries_.erase(key);
}

std::size_t TokenCache::size() const {
  const std::lock_guard lock(mutex_);
  return entries_.size();
}

// Called with the lock held. Expired entries are not swept eagerly: they fall off the LRU end
// like any other cold entry, or are dropped when next looked up.
void TokenCache::evict_over_capacity() {
  while (entries_.size() > settings_.capacity) entries_.pop_oldest();
}

}  // namespace imagecpp::auth
