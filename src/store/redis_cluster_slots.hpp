#pragma once
// The cluster's slot map: which master serves each of the 16384 slots, read from the reply of
// CLUSTER SLOTS. The reply comes from the network: it is parsed defensively (types, ranges,
// ports, overlaps), and a reply with anything wrong in it is refused whole rather than used in
// part.
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/redis_reply.hpp"
#include "store/redis_slot.hpp"

namespace imagecpp::store {

struct NodeAddress {
  std::string host;  // as the cluster announces it: an IP address or a name
  std::uint16_t port = 0;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 flags the defaulted <=> itself
  auto operator<=>(const NodeAddress&) const = default;
  // "host:port" (IPv6 in brackets), for logs.
  std::string text() const;
};

struct SlotRange {
  std::uint16_t first = 0;  // inclusive
  std::uint16_t last = 0;   // inclusive
  NodeAddress master;
  std::vector<NodeAddress> replicas;
};

// The ranges of a CLUSTER SLOTS reply, or why it cannot be used. `asked` is the node the reply
// came from: an endpoint announced as empty, NULL or "?" (Redis' "unknown endpoint") means
// that node's own host.
struct ParsedSlots {
  std::vector<SlotRange> ranges;
  std::string error;  // empty when the reply was usable
};
ParsedSlots parse_cluster_slots(const RedisReply& reply, const NodeAddress& asked);

class SlotMap {
 public:
  SlotMap() { owner_.fill(kNone); }
  // The ranges must not overlap (parse_cluster_slots guarantees it).
  explicit SlotMap(const std::vector<SlotRange>& ranges);

  // The master serving `slot`, or nullptr while no master serves it (a partial map).
  const NodeAddress* owner(std::uint16_t slot) const noexcept;
  // After a MOVED: `slot` is served by `master` now.
  void assign(std::uint16_t slot, const NodeAddress& master);

  std::size_t covered() const noexcept;
  const std::vector<NodeAddress>& masters() const noexcept { return masters_; }
  // Masters and replicas, each once: whom to ask for a new map.
  const std::vector<NodeAddress>& nodes() const noexcept { return nodes_; }

 private:
  static constexpr std::uint16_t kNone = 0xFFFF;
  std::uint16_t index_of(const NodeAddress& master);
  void remember(const NodeAddress& node);

  std::array<std::uint16_t, kClusterSlots> owner_{};  // index into masters_, or kNone
  std::vector<NodeAddress> masters_;
  std::vector<NodeAddress> nodes_;
};

}  // namespace imagecpp::store
