#pragma once
// The Authorization header: scheme "bearer" in any letter case, exactly one space, the token.
#include <optional>
#include <string>
#include <string_view>

namespace imagecpp::auth {

// The token, or nullopt for a missing scheme, another scheme, an empty token, or a token that
// holds whitespace or control characters.
std::optional<std::string_view> parse_bearer(std::string_view header) noexcept;

// A short, non-reversible tag for logs (first 8 hex digits of a hash): tokens are never logged.
std::string token_tag(std::string_view token);

}  // namespace imagecpp::auth
