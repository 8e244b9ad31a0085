#pragma once
// Remote mode: asks the auth service (GET /v1/users/current with the bearer token). 200 with a
// user is valid; 401, 403 and 404 are rejections; anything else, a timeout or a connection
// failure means the service cannot tell (Error unavailable: a 503, never a 401). No caching
// here: CachingVerifier wraps this.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "auth/http_client.hpp"
#include "auth/verifier.hpp"
#include "core/error.hpp"
#include "log/throttle.hpp"

namespace imagecpp::auth {

// The longest user id taken from the auth service. Ids are short opaque keys (a UUID, an
// ObjectId, a number); the id goes into every access log line and the token cache, so an
// answer with a longer one is the auth service's fault, not a user.
inline constexpr std::size_t kMaxUserIdBytes = 256;
// The longest user name kept. A name is informational (nothing reads it yet) but stays in the
// token cache with its token for a whole TTL: a longer one is dropped, so that a cache entry is
// a few hundred bytes whatever the auth service sends (up to its 1 MiB answer).
inline constexpr std::size_t kMaxUserNameBytes = 256;

// Why `id` cannot be a user id, or nullopt when it can: 1 to kMaxUserIdBytes bytes of printable
// ASCII without spaces (what a tokens file line "token user_id [name]" can hold, and nothing
// that could forge or split a log line).
std::optional<std::string_view> user_id_problem(std::string_view id);

// The user in the auth service's answer {"id", "name", "login", "permissions"}, or why there is
// none: `problem` is a fixed text for the log, never a piece of the answer.
struct UserAnswer {
  std::optional<User> user;
  std::string_view problem;
};
UserAnswer read_user(std::string_view body);

// read_user(body).user: a user only from a JSON object with a valid id (string or integer).
std::optional<User> parse_user(std::string_view body);

class RemoteVerifier : public Verifier {
 public:
  explicit RemoteVerifier(std::shared_ptr<HttpClient> client);

  boost::asio::awaitable<User> verify(std::string token) override;

  // 200 answers without a usable user (503 to the client).
  std::uint64_t invalid_answers() const noexcept {
    return invalid_answers_.load(std::memory_order_relaxed);
  }

 private:
  Error invalid_answer(std::string_view token, std::string_view problem, std::size_t body_bytes);

  const std::shared_ptr<HttpClient> client_;
  std::atomic<std::uint64_t> invalid_answers_{0};
  // A broken auth service answers every request alike: one log line per burst.
  log::Throttle invalid_log_{std::chrono::seconds(10)};
};

}  // namespace imagecpp::auth
