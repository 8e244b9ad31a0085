#pragma once
// Token verification. Static mode checks a tokens file; remote mode asks the auth service.
// The call is asynchronous because the remote mode sits on a network round trip.
#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

namespace imagecpp::auth {

struct User {
  std::string id;
  std::string name;
};

class Verifier {
 public:
  virtual ~Verifier() = default;

  // Returns the user for a valid token. Throws Error(unauthorized) for a rejected token and
  // Error(unavailable) when the verifier cannot tell (auth service down).
  virtual boost::asio::awaitable<User> verify(std::string token) = 0;

  // Drops a token from any cache (logout broadcast). Static mode has nothing to drop.
  virtual void forget(std::string_view /*token*/) {}
};

}  // namespace imagecpp::auth
