#pragma once
// Remote mode: asks the auth service (GET /v1/users/current with the bearer token). 200 with a
// user is valid; 401, 403 and 404 are rejections; anything else, a timeout or a connection
// failure means the service cannot tell (Error unavailable: a 503, never a 401). No caching
// here: CachingVerifier wraps this.
#include <memory>
#include <optional>
#include <string_view>

#include "auth/http_client.hpp"
#include "auth/verifier.hpp"

namespace imagecpp::auth {

// The user in the auth service's answer {"id", "name", "login", "permissions"}: nullopt unless
// it is a JSON object with a non-empty id (string or integer).
std::optional<User> parse_user(std::string_view body);

class RemoteVerifier : public Verifier {
 public:
  explicit RemoteVerifier(std::shared_ptr<HttpClient> client);

  boost::asio::awaitable<User> verify(std::string token) override;

 private:
  const std::shared_ptr<HttpClient> client_;
};

}  // namespace imagecpp::auth
