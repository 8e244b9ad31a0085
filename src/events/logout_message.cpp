#include "events/logout_message.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

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

bool starts_with_scheme(std::string_view s) noexcept {
  if (s.size() < kScheme.size()) return false;
  return std::equal(kScheme.begin(), kScheme.end(), s.begin(), [](char want, char got) {
    return want == ((got >= 'A' && got <= 'Z') ? char(got - 'A' + 'a') : got);
  });
}

// The same rule as an Authorization header's token: no space, no control character.
bool is_token(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7F;
  });
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
  if (starts_with_scheme(token)) token.remove_prefix(kScheme.size());
  token = trim(token);
  if (!is_token(token)) return malformed();
  return {LogoutKind::token, std::string(token)};
}

std::optional<std::string> parse_logout(std::string_view body) {
  LogoutMessage m = read_logout(body);
  if (m.kind != LogoutKind::token) return std::nullopt;
  return std::move(m.token);
}

}  // namespace imagecpp::events
