#include "auth/bearer.hpp"

#include "core/ascii.hpp"
#include "core/token.hpp"

namespace imagecpp::auth {

std::optional<std::string_view> parse_bearer(std::string_view header) noexcept {
  constexpr std::string_view kScheme = "bearer ";
  if (!ascii::istarts_with(header, kScheme)) return std::nullopt;
  const std::string_view token = header.substr(kScheme.size());
  if (!token::is_valid(token)) return std::nullopt;
  return token;
}

}  // namespace imagecpp::auth
