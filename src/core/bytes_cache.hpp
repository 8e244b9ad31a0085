#pragma once
// A byte-bounded LRU map of immutable buffers, shared by every request thread: the hot variants
// and encoded answers are served from memory instead of the store. Values are SharedBytes, so a
// hit costs a lock and a reference count, never a copy, and an evicted buffer lives on until the
// last response that holds it is written.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/bytes.hpp"

namespace imagecpp {

class BytesCache {
 public:
  struct Stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t evictions = 0;
    std::size_t bytes = 0;
    std::size_t entries = 0;
  };

  // `capacity_bytes` bounds the values plus their keys and bookkeeping; 0 turns the cache off.
  explicit BytesCache(std::size_t capacity_bytes);

  BytesCache(const BytesCache&) = delete;
  BytesCache& operator=(const BytesCache&) = delete;

  // The value and a refreshed recency, or nullptr.
  SharedBytes get(std::string_view key);

  // Inserts or replaces. A value above an eighth of the capacity is not kept: one large original
  // must not flush thousands of thumbnails.
  void put(std::string_view key, SharedBytes value);

  bool enabled() const noexcept { return capacity_ > 0; }
  std::size_t capacity() const noexcept { return capacity_; }
  Stats stats() const;

  // What an entry is charged: the value, the key, and the list and map nodes around them.
  static std::size_t cost(std::string_view key, const std::string& value) noexcept;

 private:
  struct Entry {
    std::string key;
    SharedBytes value;
    std::size_t cost;
  };
  using Lru = std::list<Entry>;  // front = most recently used

  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const noexcept {
      return std::hash<std::string_view>{}(key);
    }
  };

  void evict_to(std::size_t limit);  // with mutex_ held

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  Lru lru_;
  std::unordered_map<std::string_view, Lru::iterator, KeyHash, std::equal_to<>> index_;
  std::size_t bytes_ = 0;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
  std::uint64_t evictions_ = 0;
};

}  // namespace imagecpp
