#include "store/redis_cluster_slots.hpp"

#include <algorithm>
#include <utility>

namespace imagecpp::store {
namespace {

// Replies that cannot be parsed are reported with the first problem found.
struct Refused {
  std::string why;
};

const RedisReply& element(const RedisReply& array, std::size_t index, const char* what) {
  if (array.type != RedisReply::Type::array || index >= array.items.size()) {
    throw Refused{std::string("missing ") + what};
  }
  return array.items[index];
}

long long integer(const RedisReply& reply, long long min, long long max, const char* what) {
  if (reply.type != RedisReply::Type::integer || reply.integer < min || reply.integer > max) {
    throw Refused{std::string(what) + " is not an integer in " + std::to_string(min) + ".." +
                  std::to_string(max)};
  }
  return reply.integer;
}

// [endpoint, port, id?, metadata?]: Redis 7 may add the id and a map of host names after the
// two fields used here; older versions send the endpoint and port alone.
NodeAddress node(const RedisReply& entry, const NodeAddress& asked) {
  const RedisReply& endpoint = element(entry, 0, "node endpoint");
  NodeAddress out;
  if (endpoint.type == RedisReply::Type::string) {
    out.host = endpoint.text;
  } else if (endpoint.type != RedisReply::Type::nil) {
    throw Refused{"node endpoint is not a string"};
  }
  if (out.host.empty() || out.host == "?") out.host = asked.host;
  if (out.host.size() > 255 ||
      out.host.find_first_of(std::string_view("\0 \r\n,", 5)) != std::string::npos) {
    throw Refused{"node endpoint is not a host name or address"};
  }
  out.port =
      static_cast<std::uint16_t>(integer(element(entry, 1, "node port"), 1, 65535, "node port"));
  return out;
}

SlotRange range(const RedisReply& entry, const NodeAddress& asked) {
  if (entry.type != RedisReply::Type::array || entry.items.size() < 3) {
    throw Refused{"a slot range is not an array of at least 3 elements"};
  }
  SlotRange out;
  out.first =
      static_cast<std::uint16_t>(integer(entry.items[0], 0, kClusterSlots - 1, "first slot"));
  out.last = static_cast<std::uint16_t>(integer(entry.items[1], 0, kClusterSlots - 1, "last slot"));
  if (out.first > out.last) throw Refused{"a slot range ends before it starts"};
  out.master = node(entry.items[2], asked);
  for (std::size_t i = 3; i < entry.items.size(); ++i) {
    out.replicas.push_back(node(entry.items[i], asked));
  }
  return out;
}

}  // namespace

std::string NodeAddress::text() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

ParsedSlots parse_cluster_slots(const RedisReply& reply, const NodeAddress& asked) {
  ParsedSlots out;
  try {
    if (reply.type == RedisReply::Type::error) throw Refused{"error reply: " + reply.text};
    if (reply.type != RedisReply::Type::array) throw Refused{"not an array"};
    for (const RedisReply& entry : reply.items) out.ranges.push_back(range(entry, asked));
    std::sort(out.ranges.begin(), out.ranges.end(),
              [](const SlotRange& a, const SlotRange& b) { return a.first < b.first; });
    for (std::size_t i = 1; i < out.ranges.size(); ++i) {
      if (out.ranges[i].first <= out.ranges[i - 1].last) throw Refused{"slot ranges overlap"};
    }
    if (out.ranges.empty()) throw Refused{"no slot is served"};
  } catch (const Refused& refused) {
    out.ranges.clear();
    out.error = refused.why;
  }
  return out;
}

SlotMap::SlotMap(const std::vector<SlotRange>& ranges) : SlotMap() {
  for (const SlotRange& r : ranges) {
    const std::uint16_t index = index_of(r.master);
    for (unsigned slot = r.first; slot <= r.last; ++slot) owner_[slot] = index;
    for (const NodeAddress& replica : r.replicas) remember(replica);
  }
}

const NodeAddress* SlotMap::owner(std::uint16_t slot) const noexcept {
  if (slot >= kClusterSlots || owner_[slot] == kNone) return nullptr;
  return &masters_[owner_[slot]];
}

void SlotMap::assign(std::uint16_t slot, const NodeAddress& master) {
  // Past one master per slot the map is stale beyond repair by MOVEDs: the next refresh
  // replaces it whole.
  if (slot >= kClusterSlots || masters_.size() >= kClusterSlots) return;
  owner_[slot] = index_of(master);
}

std::size_t SlotMap::covered() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(owner_.begin(), owner_.end(), [](std::uint16_t o) { return o != kNone; }));
}

std::uint16_t SlotMap::index_of(const NodeAddress& master) {
  const auto it = std::find(masters_.begin(), masters_.end(), master);
  if (it != masters_.end()) return static_cast<std::uint16_t>(it - masters_.begin());
  // A cluster has at most 16384 masters (one per slot), so the index always fits below kNone.
  masters_.push_back(master);
  remember(master);
  return static_cast<std::uint16_t>(masters_.size() - 1);
}

void SlotMap::remember(const NodeAddress& node) {
  if (std::find(nodes_.begin(), nodes_.end(), node) == nodes_.end()) nodes_.push_back(node);
}

}  // namespace imagecpp::store
