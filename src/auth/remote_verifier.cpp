#include "auth/remote_verifier.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/system/system_error.hpp>
#include <string>

#include "auth/bearer.hpp"
#include "core/error.hpp"

namespace imagecpp::auth {
namespace {

constexpr std::string_view kCurrentUserPath = "/v1/users/current";

std::optional<std::string> id_of(const boost::json::value& id) {
  if (const auto* s = id.if_string(); s && !s->empty()) return std::string(*s);
  if (id.is_int64()) return std::to_string(id.as_int64());
  if (id.is_uint64()) return std::to_string(id.as_uint64());
  return std::nullopt;
}

Error unavailable(std::string_view token, std::string_view why) {
  return Error(ErrorCode::unavailable,
               "auth service: " + std::string(why) + " (token " + token_tag(token) + ")");
}

}  // namespace

std::optional<User> parse_user(std::string_view body) {
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(body, ec);
  const auto* object = ec ? nullptr : doc.if_object();
  if (object == nullptr) return std::nullopt;
  const auto* id = object->if_contains("id");
  auto id_text = id ? id_of(*id) : std::nullopt;
  if (!id_text) return std::nullopt;
  User user{std::move(*id_text), {}};
  if (const auto* name = object->if_contains("name"); name && name->is_string()) {
    user.name = std::string(name->as_string());
  }
  return user;
}

RemoteVerifier::RemoteVerifier(std::shared_ptr<HttpClient> client) : client_(std::move(client)) {}

boost::asio::awaitable<User> RemoteVerifier::verify(std::string token) {
  HttpHeaders headers;  // built outside the co_await: GCC 12 miscompiles a braced list there
  headers.emplace_back(std::string("Authorization"), "Bearer " + token);
  HttpResponse response;
  try {
    response = co_await client_->get(kCurrentUserPath, std::move(headers));
  } catch (const boost::system::system_error& e) {
    throw unavailable(token, e.code().message());
  }
  switch (response.status) {
    case 200: {
      auto user = parse_user(response.body);
      // A 200 without a user is a broken auth service, not a verdict on the token.
      if (!user) throw unavailable(token, "200 without a user id");
      co_return std::move(*user);
    }
    case 401:
    case 403:
    case 404:
      throw Error(ErrorCode::unauthorized, "auth service rejected token " + token_tag(token) +
                                               " (" + std::to_string(response.status) + ")");
    default:
      throw unavailable(token, "answered " + std::to_string(response.status));
  }
}

}  // namespace imagecpp::auth
