#include "core/bytes_cache.hpp"

namespace imagecpp {
namespace {

// A node with its two index links and a bucket, roughly: small against any image, but it keeps
// a cache of many tiny values honest about its size.
constexpr std::size_t kEntryOverhead = 128;

}  // namespace

BytesCache::BytesCache(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}

std::size_t BytesCache::cost(std::string_view key, const std::string& value) noexcept {
  return value.size() + key.size() + kEntryOverhead;
}

SharedBytes BytesCache::get(std::string_view key) {
  const std::lock_guard lock(mutex_);
  if (const Kept* kept = entries_.find(key)) {
    ++hits_;
    return kept->value;
  }
  if (SharedBytes held = held_.find(key)) {
    ++shared_hits_;
    return held;
  }
  ++misses_;
  return nullptr;
}

void BytesCache::put(std::string_view key, SharedBytes value) {
  if (!value) return;
  const std::size_t charge = cost(key, *value);
  const std::lock_guard lock(mutex_);
  if (charge > capacity_ / 8) {
    erase_locked(key);  // not kept, but it supersedes whatever the key held
    held_.put(key, value);
    return;
  }
  held_.erase(key);
  erase_locked(key);
  entries_.put(key, Kept{std::move(value), charge});
  bytes_ += charge;
  evict_over_capacity();
}

bool BytesCache::erase(std::string_view key) {
  const std::lock_guard lock(mutex_);
  held_.erase(key);
  return erase_locked(key);
}

bool BytesCache::erase_locked(std::string_view key) {
  Kept removed;
  if (!entries_.erase(key, &removed)) return false;
  bytes_ -= removed.cost;
  return true;
}

// The entry just put is at the front and is at most an eighth of the capacity: it stays.
void BytesCache::evict_over_capacity() {
  while (bytes_ > capacity_ && !entries_.empty()) {
    bytes_ -= entries_.oldest().value.cost;
    entries_.pop_oldest();
    ++evictions_;
  }
}

BytesCache::Stats BytesCache::stats() const {
  const std::lock_guard lock(mutex_);
  return {hits_, misses_, evictions_, shared_hits_, bytes_, entries_.size(), held_.size()};
}

}  // namespace imagecpp
