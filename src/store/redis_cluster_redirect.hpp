#pragma once
// What a cluster node's replies mean for the command that got them: done, or go elsewhere
// (MOVED: the slot has a new owner; ASK: this one key is being migrated, ask the importing
// node once, after ASKING), or try again shortly (TRYAGAIN, CLUSTERDOWN). Pure functions, so
// that every case is unit-tested and fuzzed without a cluster.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.hpp"
#include "store/redis_cluster_slots.hpp"
#include "store/redis_reply.hpp"

namespace imagecpp::store {

struct Redirect {
  enum class Kind { moved, ask };
  Kind kind = Kind::moved;
  std::uint16_t slot = 0;
  NodeAddress node;

  bool operator==(const Redirect&) const = default;
};

// "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" (an empty host is the replying
// node's own, as Redis 7 announces an unknown endpoint). nullopt for anything else, a
// malformed redirect included.
std::optional<Redirect> parse_redirect(std::string_view error, const NodeAddress& replied_by);

struct NextStep {
  enum class Kind {
    done,         // the replies are the answer (error replies included)
    redirect,     // send everything again to `redirect->node` (with ASKING for an ASK)
    retry_later,  // TRYAGAIN or CLUSTERDOWN: wait, then try again
  };
  Kind kind = Kind::done;
  std::optional<Redirect> redirect;
  std::string why;       // for retry_later: the error reply
  bool refresh = false;  // the slot map is stale: MOVED or CLUSTERDOWN
};

// The replies of one pipeline sent to one node (all its commands on one slot). A redirect of
// any command sends the whole pipeline again: its commands read or write one key, so running
// them again is harmless, and they must run together on the node that owns the key.
NextStep next_step(const std::vector<RedisReply>& replies, const NodeAddress& replied_by);

// The commands to send to an ASK target: each preceded by ASKING (it admits one command).
std::vector<std::vector<SharedBytes>> with_asking(
    const std::vector<std::vector<SharedBytes>>& commands);
// The replies of those commands, without the ASKING ones. Empty when the count is wrong.
std::vector<RedisReply> without_asking(std::vector<RedisReply> replies);

// The key a command is routed by: its first argument, except for the commands without a key
// that the engine sends (PING, ECHO, WAIT, ...), which any master can answer.
std::optional<std::string_view> routing_key(const std::vector<SharedBytes>& command);

}  // namespace imagecpp::store
