#pragma once
// A byte-bounded LRU map of immutable buffers, shared by every request thread: the hot variants
// and encoded answers are served from memory instead of the store. Values are SharedBytes, so a
// hit costs a lock and a reference count, never a copy, and an evicted buffer lives on until the
// last response that holds it is written.
//
// Entries live in an LruMap (core/lru_map.hpp): one container, two indices, always consistent.
//
// A value too large to keep (or any value, when the cache is off) is still found by key while a
// response holds it (WeakIndex): however many clients read one large image at once, its bytes
// are in memory once.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
#include "core/lru_map.hpp"
#include "core/weak_index.hpp"

namespace imagecpp {

class BytesCache {
 public:
  struct Stats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t evictions = 0;
    std::uint64_t shared_hits = 0;  // large values found still held by another response
    std::size_t bytes = 0;
    std::size_t entries = 0;
    std::size_t held_entries = 0;  // keys of values not kept (some may have died since)
  };

  // `capacity_bytes` bounds the values plus their keys and bookkeeping; 0 keeps nothing (values
  // are then only shared while held).
  explicit BytesCache(std::size_t capacity_bytes);

  BytesCache(const BytesCache&) = delete;
  BytesCache& operator=(const BytesCache&) = delete;

  // The value and a refreshed recency, or a value too large to keep that is still held
  // elsewhere, or nullptr.
  SharedBytes get(std::string_view key);

  // Inserts or replaces, as the most recently used. A value above an eighth of the capacity is
  // not kept (one large original must not flush thousands of thumbnails), and drops what the
  // key held.
  void put(std::string_view key, SharedBytes value);

  // Drops the entry, if any (a value found to be unusable). Returns whether there was one kept.
  bool erase(std::string_view key);

  // Whether values are kept at all (beyond their last holder).
  bool enabled() const noexcept { return capacity_ > 0; }
  std::size_t capacity() const noexcept { return capacity_; }
  Stats stats() const;

  // What an entry is charged: the value, the key, and the nodes around them.
  static std::size_t cost(std::string_view key, const std::string& value) noexcept;

 private:
  struct Kept {
    SharedBytes value;
    std::size_t cost = 0;
  };

  // With mutex_ held.
  bool erase_locked(std::string_view key);
  void evict_over_capacity();

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  LruMap<Kept> entries_;
  WeakIndex held_;  // values not kept, while a response holds them
  std::size_t bytes_ = 0;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
  std::uint64_t evictions_ = 0;
  std::uint64_t shared_hits_ = 0;
};

}  // namespace imagecpp
