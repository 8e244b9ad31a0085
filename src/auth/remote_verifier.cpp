#include "auth/remote_verifier.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/system/system_error.hpp>
#include <string>

#include "core/token.hpp"

namespace imagecpp::auth {
namespace {

constexpr std::string_view kCurrentUserPath = "/v1/users/current";

std::optional<std::string> id_of(const boost::json::value& id) {
  if (const auto* s = id.if_string()) return std::string(*s);
  if (id.is_int64()) return std::to_string(id.as_int64());
  if (id.is_uint64()) return std::to_string(id.as_uint64());
  return std::nullopt;
}

Error unavailable(std::string_view token, std::string_view why) {
  return Error(ErrorCode::unavailable,
               "auth service: " + std::string(why) + " (token " + token::tag(token) + ")");
}

}  // namespace

std::optional<std::string_view> user_id_problem(std::string_view id) {
  if (id.empty()) return "empty user id";
  if (id.size() > kMaxUserIdBytes) return "user id too long";
  const bool printable =
      std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7f; });
  if (!printable) return "user id with a space, control or non-ASCII byte";
  return std::nullopt;
}

UserAnswer read_user(std::string_view body) {
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(body, ec);
  const auto* object = ec ? nullptr : doc.if_object();
  if (object == nullptr) return {std::nullopt, "not a JSON object"};
  const auto* id = object->if_contains("id");
  auto id_text = id ? id_of(*id) : std::nullopt;
  if (!id_text) return {std::nullopt, "no string or integer id"};
  if (const auto problem = user_id_problem(*id_text)) return {std::nullopt, *problem};
  User user{std::move(*id_text), {}};
  if (const auto* name = object->if_contains("name"); name && name->is_string()) {
    user.name = std::string(name->as_string());
  }
  return {std::move(user), {}};
}

std::optional<User> parse_user(std::string_view body) {
  return read_user(body).user;
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
      auto answer = read_user(response.body);
      // A 200 without a usable user is a broken auth service, not a verdict on the token.
      if (!answer.user) throw invalid_answer(token, answer.problem, response.body.size());
      co_return std::move(*answer.user);
    }
    case 401:
    case 403:
    case 404:
      throw Error(ErrorCode::unauthorized, "auth service rejected token " + token::tag(token) +
                                               " (" + std::to_string(response.status) + ")");
    default:
      throw unavailable(token, "answered " + std::to_string(response.status));
  }
}

// Counts and logs (once per burst) an answer that is not a user; the error is marked reported
// so that the HTTP edge does not log it again for each request of the burst.
Error RemoteVerifier::invalid_answer(std::string_view token, std::string_view problem,
                                     std::size_t body_bytes) {
  invalid_answers_.fetch_add(1, std::memory_order_relaxed);
  const std::string detail = "200 without a usable user: " + std::string(problem) + ", " +
                             std::to_string(body_bytes) + "-byte body";
  if (const auto held_back = invalid_log_.admit()) {
    spdlog::error("auth service: {} (token {}){}", detail, token::tag(token),
                  log::held_back_note(*held_back));
  }
  Error error = unavailable(token, detail);
  error.mark_reported();
  return error;
}

}  // namespace imagecpp::auth
