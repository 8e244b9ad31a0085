#pragma once
// A bearer token's syntax and its log tag: one rule for the Authorization header, the static
// tokens file and the logout broadcast, so that a token accepted by one is accepted by all.
#include <string>
#include <string_view>

namespace imagecpp::token {

// Non-empty, and no space, DEL or C0 control (tab, CR, LF...).
bool is_valid(std::string_view token) noexcept;

// A short, non-reversible tag for logs (first 8 hex digits of a hash): tokens are never logged.
std::string tag(std::string_view token);

}  // namespace imagecpp::token
