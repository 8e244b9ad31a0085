#pragma once
// The production engine: Redis, shared with the Node and Go peers. Keys as theirs ("{id}",
// "{id}_{size}"). Reads both value layouts (the peers' data-URL strings and raw bytes); writes
// raw bytes, or data-URL strings when configured to run beside the peers.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "store/redis_client.hpp"
#include "store/redis_value.hpp"
#include "store/store.hpp"

namespace imagecpp::store {

struct RedisConfig {
  RedisEndpoint endpoint;
  ValueFormat write_format = ValueFormat::raw;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
};

class RedisStore : public Store {
 public:
  // Does not connect yet: the first command does (so the service starts while Redis is down,
  // answering 503 until it is up).
  explicit RedisStore(RedisConfig config);

  // GET; a data-URL value is decoded, anything else is the bytes themselves.
  // Error(unavailable) when Redis is down, slow or refuses; Error(internal) for a value that is
  // not a string or an unreadable data URL.
  boost::asio::awaitable<std::optional<SharedBytes>> get(std::string key) override;

  // SET, acknowledged by Redis (durability is Redis' own persistence setting).
  boost::asio::awaitable<void> put(std::string key, SharedBytes value) override;

  // PING within the command timeout.
  boost::asio::awaitable<bool> ping() override;

  // Any command, binary-safe, for tools and tests. Throws like get().
  boost::asio::awaitable<RedisReply> command(std::vector<std::string> args);

 private:
  RedisClient client_;
  const ValueFormat write_format_;
};

}  // namespace imagecpp::store
