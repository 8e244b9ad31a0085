#pragma once
// Where the Redis engine connects, from REDIS_URL in every form the peers use:
//   host:port                                     the Go peers (go-redis Addr)
//   redis://[[user]:password@]host[:port][/db]    the URL form
//   host, with the port from REDIS_PORT           the Node peers (ioredis new Redis(port, host))
//   redis+cluster://[[user]:password@]host1[:port1],host2[:port2],...[/]
//                                                 a Redis Cluster, by a list of seed nodes
// Parsing is kept apart from the engine so that every form is unit-tested without a server.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace imagecpp::store {

inline constexpr std::uint16_t kRedisDefaultPort = 6379;

struct RedisEndpoint {
  std::string host;  // a name or an IP address (IPv6 without brackets)
  std::uint16_t port = kRedisDefaultPort;
  std::string user;            // empty: AUTH with the password alone (the pre-ACL form)
  std::string password;        // empty: no AUTH
  std::optional<unsigned> db;  // SELECT only when given

  bool operator==(const RedisEndpoint&) const = default;
};

// `port` (REDIS_PORT) applies when the URL names no port of its own; without either, 6379.
// A userinfo without ':' is the password (as redis-cli reads it). Query and fragment are
// ignored. Throws std::invalid_argument naming the problem (never the password).
RedisEndpoint parse_redis_url(std::string_view url, std::optional<std::uint16_t> port = {});

// For logs: "redis://user:***@host:port/db", the password masked.
std::string describe(const RedisEndpoint& endpoint);

// True for the cluster form: the scheme is redis+cluster (any letter case).
bool is_cluster_url(std::string_view url) noexcept;

// The seed nodes of a cluster URL, each with the URL's credentials; any one that answers gives
// the whole slot map. `port` (REDIS_PORT) applies to a seed without a port. A path naming a
// database other than 0 is refused: a cluster has database 0 alone. Throws like
// parse_redis_url.
std::vector<RedisEndpoint> parse_redis_cluster_url(std::string_view url,
                                                   std::optional<std::uint16_t> port = {});

// For logs: "redis+cluster://user:***@h1:p1,h2:p2/".
std::string describe(const std::vector<RedisEndpoint>& seeds);

}  // namespace imagecpp::store
