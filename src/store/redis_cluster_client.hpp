#pragma once
// A Redis Cluster client: each command goes to the master of its key's slot, over one
// pipelined connection per node (a RedisClient each: today's link, its deadlines, reconnection
// and backoff). hiredis has no cluster support, so the routing is here:
//   - the slot map comes from CLUSTER SLOTS, asked of the known masters, then the seeds, then
//     the replicas, whichever answers first with a usable map;
//   - MOVED assigns the slot to its new owner, refreshes the map and sends again there at once;
//     ASK sends ASKING and the command to the importing node, once;
//   - TRYAGAIN, CLUSTERDOWN and a node that cannot be reached are retried with a doubling
//     pause while the command timeout lasts (the map is refreshed first, at most every
//     min_refresh_interval); then Error(unavailable), the 503 of a lost connection.
// A command never waits for a node longer than the command timeout, and retries start only
// inside it, so a request's Redis time is bounded by twice the command timeout.
//
// The routing state is shared by callers on every thread under one mutex; nothing waits while
// holding it.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/redis_client.hpp"
#include "store/redis_cluster_redirect.hpp"
#include "store/redis_cluster_slots.hpp"
#include "store/redis_commands.hpp"
#include "store/redis_url.hpp"

namespace imagecpp::store {

struct ClusterClientSettings {
  std::vector<RedisEndpoint> seeds;  // the credentials of the first apply to every node
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
  std::chrono::milliseconds min_retry_pause{10};  // doubles after every retry of one command
  std::chrono::milliseconds max_retry_pause{200};
  std::chrono::milliseconds min_refresh_interval{100};
  int max_redirects = 16;  // per command: more means the cluster is moving faster than us
};

class ClusterClient : public RedisCommands {
 public:
  // Connects lazily: the first command reads the slot map.
  explicit ClusterClient(ClusterClientSettings settings);
  ~ClusterClient() override;
  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;

  // Routed by the first command's key; keyless commands (PING...) go to the masters in turn.
  boost::asio::awaitable<RedisReply> command(std::vector<SharedBytes> args) override;
  boost::asio::awaitable<std::vector<RedisReply>> pipeline(
      std::vector<std::vector<SharedBytes>> commands) override;

 private:
  using Clock = std::chrono::steady_clock;

  struct Target {
    NodeAddress node;
    std::shared_ptr<RedisClient> client;
  };

  std::optional<Target> route(std::optional<std::uint16_t> slot, std::uint64_t& generation);
  Target target(const NodeAddress& node);
  std::shared_ptr<RedisClient> client_for(const NodeAddress& node);  // with the mutex held
  void assign(const Redirect& moved);
  std::vector<NodeAddress> refresh_candidates();  // with the mutex held
  boost::asio::awaitable<void> refresh(std::uint64_t seen_generation);
  void install(const ParsedSlots& parsed, const NodeAddress& from);
  void refresh_done(bool installed, const std::string& why) noexcept;

  const ClusterClientSettings settings_;
  std::vector<NodeAddress> seeds_;

  std::mutex mutex_;
  std::optional<SlotMap> map_;
  std::uint64_t generation_ = 0;  // counts installed maps
  bool refreshing_ = false;
  bool warned_ = false;  // a failed refresh was logged since the last map
  Clock::time_point last_refresh_{};
  std::uint16_t keyless_slot_ = 0;
  std::map<NodeAddress, std::shared_ptr<RedisClient>> clients_;
};

}  // namespace imagecpp::store
