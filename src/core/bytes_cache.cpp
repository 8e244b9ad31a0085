#include "core/bytes_cache.hpp"

namespace imagecpp {
namespace {

// A list node, a hash node and a bucket, roughly: small against any image, but it keeps a cache
// of many tiny values honest about its size.
constexpr std::size_t kEntryOverhead = 128;

}  // namespace

BytesCache::BytesCache(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}

std::size_t BytesCache::cost(std::string_view key, const std::string& value) noexcept {
  return value.size() + 2 * key.size() + kEntryOverhead;
}

SharedBytes BytesCache::get(std::string_view key) {
  if (!enabled()) return nullptr;
  const std::lock_guard lock(mutex_);
  const auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->value;
}

void BytesCache::put(std::string_view key, SharedBytes value) {
  if (!enabled() || !value) return;
  const std::size_t charge = cost(key, *value);
  if (charge > capacity_ / 8) return;
  const std::lock_guard lock(mutex_);
  if (const auto it = index_.find(key); it != index_.end()) {
    bytes_ -= it->second->cost;
    lru_.erase(it->second);
    index_.erase(it);
  }
  evict_to(capacity_ - charge);
  // The index's key views the entry's own string: list nodes never move.
  lru_.push_front(Entry{std::string(key), std::move(value), charge});
  index_.emplace(lru_.front().key, lru_.begin());
  bytes_ += charge;
}

void BytesCache::evict_to(std::size_t limit) {
  while (bytes_ > limit && !lru_.empty()) {
    const Entry& last = lru_.back();
    bytes_ -= last.cost;
    index_.erase(last.key);
    lru_.pop_back();
    ++evictions_;
  }
}

BytesCache::Stats BytesCache::stats() const {
  const std::lock_guard lock(mutex_);
  return {hits_, misses_, evictions_, bytes_, index_.size()};
}

}  // namespace imagecpp
