#pragma once
// A byte-bounded LRU map of immutable buffers, shared by every request thread: the hot variants
// and encoded answers are served from memory instead of the store. Values are SharedBytes, so a
// hit costs a lock and a reference count, never a copy, and an evicted buffer lives on until the
// last response that holds it is written.
//
// One Boost.MultiIndex container holds each entry once, with its own key, under two indices (a
// recency list and a hash index): an insert, a replace, an eviction or an erase updates both in
// one step, so no index can ever point at an entry, or a key, that is gone.
//
// A value too large to keep (or any value, when the cache is off) is still found by key while a
// response holds it (WeakIndex): however many clients read one large image at once, its bytes
// are in memory once.
#include <boost/multi_index/hashed_index.hpp>
#include <boost/multi_index/member.hpp>
#include <boost/multi_index/sequenced_index.hpp>
#include <boost/multi_index_container.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "core/bytes.hpp"
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
  struct Entry {
    std::string key;
    SharedBytes value;
    std::size_t cost;
  };
  struct KeyHash {
    std::size_t operator()(std::string_view key) const noexcept {
      return std::hash<std::string_view>{}(key);
    }
  };
  struct KeyEqual {
    bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
  };
  // Index 0: recency, front = most recently used. Index 1: by key.
  using Entries = boost::multi_index_container<
      Entry,
      boost::multi_index::indexed_by<
          boost::multi_index::sequenced<>,
          boost::multi_index::hashed_unique<
              boost::multi_index::member<Entry, std::string, &Entry::key>, KeyHash, KeyEqual>>>;

  // With mutex_ held.
  bool erase_locked(std::string_view key);
  void evict_over_capacity();

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  Entries entries_;
  WeakIndex held_;  // values not kept, while a response holds them
  std::size_t bytes_ = 0;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
  std::uint64_t evictions_ = 0;
  std::uint64_t shared_hits_ = 0;
};

}  // namespace imagecpp
