#pragma once
// The storage interface. Keys: "{id}" for an original, "{id}_{size}" for a variant, and
// "{id}_jpeg" for an original converted to JPEG. Engines: LMDB (embedded) and Redis.
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "core/bytes.hpp"

namespace imagecpp::store {

class Store {
 public:
  virtual ~Store() = default;

  // nullopt when the key is absent. Throws Error(unavailable) when the store cannot answer.
  virtual boost::asio::awaitable<std::optional<SharedBytes>> get(std::string key) = 0;

  // Completes only once the write is durable (committed). Throws Error(unavailable).
  virtual boost::asio::awaitable<void> put(std::string key, SharedBytes value) = 0;

  // For readiness: true when the store answers.
  virtual boost::asio::awaitable<bool> ping() = 0;
};

}  // namespace imagecpp::store
