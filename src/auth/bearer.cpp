#include "auth/bearer.hpp"

#include <cstdint>
#include <string>

namespace imagecpp::auth {
namespace {

constexpr std::string_view kScheme = "bearer ";

bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Space, DEL and every C0 control (tab, CR, LF...): none can be part of a token.
bool is_token_char(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7F;
}

// FNV-1a 64: tiny and stable across runs and builds, so one token always gets the same tag
// in every log line (std::hash promises neither).
std::uint64_t fnv1a64(std::string_view data) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

std::optional<std::string_view> parse_bearer(std::string_view header) noexcept {
  if (header.size() <= kScheme.size()) return std::nullopt;
  if (!iequals_ascii(header.substr(0, kScheme.size()), kScheme)) return std::nullopt;
  const std::string_view token = header.substr(kScheme.size());
  for (const char c : token) {
    if (!is_token_char(c)) return std::nullopt;
  }
  return token;
}

std::string token_tag(std::string_view token) {
  constexpr std::string_view kHex = "0123456789abcdef";
  const std::uint64_t h = fnv1a64(token);
  std::string tag(8, '0');
  for (std::size_t i = 0; i < tag.size(); ++i) {
    tag[i] = kHex[(h >> (60 - 4 * i)) & 0xF];
  }
  return tag;
}

}  // namespace imagecpp::auth
