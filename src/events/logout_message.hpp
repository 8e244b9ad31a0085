#pragma once
// The logout broadcast's message body, in both shapes the peers publish:
//   Node: {"type": "logout", "message": "bearer eyJ..."}
//   Go:   {"correlation_id": "...", "exchange": "", "routing_key": "", "message": "Bearer eyJ..."}
// A present `type` other than "logout" means "not for us"; a leading "bearer " (any case) is
// optional. A pure function: no I/O, no logging, easy to test and to fuzz.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace imagecpp::events {

// The largest message read. A valid one is a token plus a hundred bytes of JSON; the token
// travelled in an Authorization header, which HTTP servers cap at 8-16 KiB for all headers
// together (the auth service's included). 64 KiB is four times that: no real logout is lost,
// and a larger body is skipped frame by frame without being held.
inline constexpr std::size_t kMaxLogoutBody = std::size_t{64} * 1024;

enum class LogoutKind {
  token,      // a logout: `token` is set
  ignored,    // well formed, another message type
  malformed,  // not JSON, not an object, wrong types, no usable token, over kMaxLogoutBody
};

struct LogoutMessage {
  LogoutKind kind = LogoutKind::malformed;
  std::string token;
};

LogoutMessage read_logout(std::string_view body);

// The token to forget, or nullopt for anything else (ignored or malformed).
std::optional<std::string> parse_logout(std::string_view body);

}  // namespace imagecpp::events
