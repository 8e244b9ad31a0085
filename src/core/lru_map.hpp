#pragma once
// The recency-ordered map both caches are made of (the hot bytes, the verified tokens). One
// Boost.MultiIndex container holds each entry once, with its own key, under two indices (a
// recency list and a hash index): an insert, a replace, an eviction or an erase updates both in
// one step, so no index can point at an entry, or a key, that is gone. Not thread-safe: its
// owner locks around it.
#include <boost/multi_index/hashed_index.hpp>
#include <boost/multi_index/member.hpp>
#include <boost/multi_index/sequenced_index.hpp>
#include <boost/multi_index_container.hpp>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace imagecpp {

template <class Value>
class LruMap {
 public:
  struct Entry {
    std::string key;
    mutable Value value;  // not part of any index: changed in place
  };

  // The value, made the most recently used; nullptr when the key is absent.
  Value* find(std::string_view key) {
    auto& by_key = entries_.template get<1>();
    const auto it = by_key.find(key, KeyHash{}, KeyEqual{});
    if (it == by_key.end()) return nullptr;
    entries_.relocate(entries_.begin(), entries_.template project<0>(it));
    return &it->value;
  }

  // Inserts or replaces, as the most recently used. A replaced key keeps its node.
  Value& put(std::string_view key, Value value) {
    auto& by_key = entries_.template get<1>();
    if (const auto it = by_key.find(key, KeyHash{}, KeyEqual{}); it != by_key.end()) {
      it->value = std::move(value);
      entries_.relocate(entries_.begin(), entries_.template project<0>(it));
      return it->value;
    }
    return entries_.push_front(Entry{std::string(key), std::move(value)}).first->value;
  }

  // The value the key had, if any, is moved into `*removed` when given.
  bool erase(std::string_view key, Value* removed = nullptr) {
    auto& by_key = entries_.template get<1>();
    const auto it = by_key.find(key, KeyHash{}, KeyEqual{});
    if (it == by_key.end()) return false;
    if (removed != nullptr) *removed = std::move(it->value);
    by_key.erase(it);
    return true;
  }

  // The least recently used entry; the map must not be empty.
  const Entry& oldest() const { return entries_.back(); }
  void pop_oldest() { entries_.pop_back(); }

  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }

 private:
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

  Entries entries_;
};

}  // namespace imagecpp
