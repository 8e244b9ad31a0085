#pragma once
// What the store needs of a Redis connection, whatever stands behind it: one server
// (RedisClient) or a cluster (ClusterClient, which routes each command to the master of its
// key's slot). Callers co_await on any executor and resume on their own.
#include <boost/asio/awaitable.hpp>
#include <vector>

#include "core/bytes.hpp"
#include "store/redis_reply.hpp"

namespace imagecpp::store {

class RedisCommands {
 public:
  virtual ~RedisCommands() = default;

  // One command; arguments are binary-safe. Redis error replies come back as replies. Throws
  // Error(unavailable) when Redis cannot be reached or does not answer in time.
  virtual boost::asio::awaitable<RedisReply> command(std::vector<SharedBytes> args) = 0;

  // Several commands written together (one round trip), their replies in order. In a cluster
  // they must all be on one slot (the store's pipelines are on one key). Throws like command()
  // when any of them gets no reply.
  virtual boost::asio::awaitable<std::vector<RedisReply>> pipeline(
      std::vector<std::vector<SharedBytes>> commands) = 0;
};

}  // namespace imagecpp::store
