#include "events/logout_message.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "core/ascii.hpp"
#include "core/token.hpp"

namespace imagecpp::events {
namespace {

constexpr std::string_view kScheme = "bearer ";

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

LogoutMessage malformed() {
  return {LogoutKind::malformed, {}};
}

}  // namespace

LogoutMessage read_logout(std::string_view body) {
  if (body.size() > kMaxLogoutBody) return malformed();
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(body, ec);
  const auto* object = ec ? nullptr : doc.if_object();
  if (object == nullptr) return malformed();
  if (const auto* type = object->if_contains("type")) {
    if (!type->is_string()) return malformed();
    if (type->as_string() != "logout") return {LogoutKind::ignored, {}};
  }
  const auto* message = object->if_contains("message");
  if (message == nullptr || !message->is_string()) return malformed();
  std::string_view token = message->as_string();
  while (!token.empty() && is_space(token.front())) token.remove_prefix(1);
  if (ascii::istarts_with(token, kScheme)) token.remove_prefix(kScheme.size());
  token = trim(token);
  if (!token::is_valid(token)) return malformed();
  return {LogoutKind::token, std::string(token)};
}

std::optional<std::string> parse_logout(std::string_view body) {
  LogoutMessage m = read_logout(body);
  if (m.kind != LogoutKind::token) return std::nullopt;
  return std::move(m.token);
}

}  // namespace imagecpp::events
