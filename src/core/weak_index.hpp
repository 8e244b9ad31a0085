#pragma once
// Finds a buffer by key while anyone still holds it, without keeping it alive: a 16 MB original
// too large for the hot cache, read by one client while others ask for it, is shared rather than
// read and held again per client. Entries whose buffer died are dropped as the index grows, so
// it holds at most about twice as many entries as there are live buffers (plus a small floor).
// Not thread-safe: the owner locks.
#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/bytes.hpp"

namespace imagecpp {

class WeakIndex {
 public:
  // The buffer if it is still alive, else nullptr (and the dead entry is dropped).
  SharedBytes find(std::string_view key) {
    const auto it = entries_.find(std::string(key));
    if (it == entries_.end()) return nullptr;
    SharedBytes alive = it->second.lock();
    if (!alive) entries_.erase(it);
    return alive;
  }

  void put(std::string_view key, const SharedBytes& value) {
    entries_.insert_or_assign(std::string(key), value);
    if (entries_.size() > prune_at_) prune();
  }

  void erase(std::string_view key) { entries_.erase(std::string(key)); }

  std::size_t size() const noexcept { return entries_.size(); }

 private:
  static constexpr std::size_t kFloor = 64;

  void prune() {
    std::erase_if(entries_, [](const auto& entry) { return entry.second.expired(); });
    prune_at_ = std::max(kFloor, 2 * entries_.size());
  }

  std::unordered_map<std::string, std::weak_ptr<const std::string>> entries_;
  std::size_t prune_at_ = kFloor;
};

}  // namespace imagecpp
