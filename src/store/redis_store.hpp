#pragma once
// The production engine: Redis, shared with the Node and Go peers. Keys as theirs ("{id}",
// "{id}_{size}"). Reads both value layouts (the peers' data-URL strings and raw bytes); writes
// raw bytes, or data-URL strings when configured to run beside the peers.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "store/redis_commands.hpp"
#include "store/redis_reply.hpp"
#include "store/redis_url.hpp"
#include "store/redis_value.hpp"
#include "store/store.hpp"

namespace imagecpp::store {

struct RedisConfig {
  RedisEndpoint endpoint;
  // A Redis Cluster (redis+cluster://...): its seed nodes, `endpoint` unused. Empty: one server.
  std::vector<RedisEndpoint> cluster_seeds{};
  ValueFormat write_format = ValueFormat::raw;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
  // The largest image a value may hold (the upload limit): a raw value above it, or a data URL
  // above its base64 form, is refused without being read whole.
  std::size_t max_value_bytes = std::size_t{16} << 20;
  // Replicas that must have a write before it is acknowledged: WAIT n after each SET, on a
  // connection of its own (WAIT blocks its connection). 0: acknowledged by the master alone.
  unsigned wait_replicas = 0;
};

class RedisStore : public Store {
 public:
  // Does not connect yet: the first command does (so the service starts while Redis is down,
  // answering 503 until it is up).
  explicit RedisStore(RedisConfig config);

  // The value at `key`: a data-URL value is decoded, anything else is the bytes themselves.
  // One round trip for a value up to 256 KiB (EXISTS, STRLEN and its first 256 KiB, pipelined);
  // a second one reads a larger value whole once its size is known to be acceptable.
  // Error(unavailable) when Redis is down, slow or refuses; Error(internal) for a value that is
  // not a string, an unreadable data URL, or one over the size limit (logged, never read whole).
  boost::asio::awaitable<std::optional<SharedBytes>> get(std::string key) override;

  // SET, acknowledged by Redis (durability is Redis' own persistence setting); with
  // wait_replicas, then WAIT: fewer replicas than asked within half the command timeout is
  // Error(unavailable), and the value stays written on the master (see the README).
  boost::asio::awaitable<void> put(std::string key, SharedBytes value) override;

  // PING within the command timeout.
  boost::asio::awaitable<bool> ping() override;

  // Any command, binary-safe, for tools and tests. Throws like get().
  boost::asio::awaitable<RedisReply> command(std::vector<std::string> args);

 private:
  boost::asio::awaitable<std::string> read_rest(const std::string& key);
  void check_size(const std::string& key, std::size_t size, std::size_t limit) const;
  SharedBytes decode(const std::string& key, std::string value) const;

  std::unique_ptr<RedisCommands> client_;
  std::unique_ptr<RedisCommands> writer_;  // SET + WAIT, when wait_replicas > 0
  const unsigned wait_replicas_;
  const std::chrono::milliseconds wait_timeout_;
  const ValueFormat write_format_;
  const std::size_t max_value_bytes_;   // raw bytes
  const std::size_t max_stored_bytes_;  // a value as stored: the data-URL form of the above
};

}  // namespace imagecpp::store
