// What cluster nodes send to the router: a CLUSTER SLOTS reply (any RESP a node could send,
// parsed by hiredis' reader as on a connection) and MOVED/ASK error lines. A usable map is one
// whose every range is served as parsed; anything else is refused whole; never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "store/redis_cluster_redirect.hpp"
#include "store/redis_cluster_slots.hpp"
#include "store/redis_reply.hpp"

namespace {

using namespace imagecpp::store;

const NodeAddress kAsked{"127.0.0.1", 7000};

void check_redirect(const std::optional<Redirect>& redirect) {
  if (!redirect) return;
  if (redirect->slot >= kClusterSlots || redirect->node.port == 0 || redirect->node.host.empty()) {
    std::abort();
  }
}

void check_slots(const RedisReply& reply) {
  const ParsedSlots parsed = parse_cluster_slots(reply, kAsked);
  if (!parsed.error.empty()) {
    if (!parsed.ranges.empty()) std::abort();
    return;
  }
  if (parsed.ranges.empty()) std::abort();
  const SlotMap map(parsed.ranges);
  std::size_t expected = 0;
  for (const SlotRange& r : parsed.ranges) {
    if (r.first > r.last || r.last >= kClusterSlots || r.master.port == 0 ||
        r.master.host.empty()) {
      std::abort();
    }
    expected += r.last - r.first + 1u;
    const NodeAddress* first = map.owner(r.first);
    const NodeAddress* last = map.owner(r.last);
    if (first == nullptr || last == nullptr || *first != r.master || *last != r.master) {
      std::abort();
    }
  }
  if (map.covered() != expected) std::abort();  // ranges never overlap
}

// hiredis' reader allocates a multi-bulk's element array by its declared count before any
// element arrives: "*999999999" is an allocation of gigabytes (which fails cleanly outside ASan,
// and which ASan reports as a crash). Such headers are left out; the counts a real CLUSTER SLOTS
// reply holds are far below.
bool declares_a_huge_array(std::string_view input) {
  for (std::size_t at = input.find('*'); at != std::string_view::npos;
       at = input.find('*', at + 1)) {
    std::size_t digits = 0;
    while (at + 1 + digits < input.size() && input[at + 1 + digits] >= '0' &&
           input[at + 1 + digits] <= '9') {
      ++digits;
    }
    if (digits > 4) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (declares_a_huge_array(input)) return 0;
  if (const auto reply = parse_resp(input)) {
    check_slots(*reply);
    const NextStep step = next_step({*reply}, kAsked);
    if ((step.kind == NextStep::Kind::redirect) != step.redirect.has_value()) std::abort();
    check_redirect(step.redirect);
  }
  check_redirect(parse_redirect(input, kAsked));
  return 0;
}
