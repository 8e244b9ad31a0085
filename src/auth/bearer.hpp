#pragma once
// The Authorization header: scheme "bearer" in any letter case, exactly one space, the token.
#include <optional>
#include <string_view>

namespace imagecpp::auth {

// The token, or nullopt for a missing scheme, another scheme, an empty token, or a token that
// holds whitespace or control characters.
std::optional<std::string_view> parse_bearer(std::string_view header) noexcept;

}  // namespace imagecpp::auth
