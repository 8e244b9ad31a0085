#include "core/token.hpp"

#include <algorithm>
#include <cstdint>

namespace imagecpp::token {
namespace {

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

bool is_valid(std::string_view token) noexcept {
  return !token.empty() && std::all_of(token.begin(), token.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7F;
  });
}

std::string tag(std::string_view token) {
  constexpr std::string_view kHex = "0123456789abcdef";
  const std::uint64_t h = fnv1a64(token);
  std::string out(8, '0');
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = kHex[(h >> (60 - 4 * i)) & 0xF];
  return out;
}

}  // namespace imagecpp::token
