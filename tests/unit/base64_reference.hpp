#pragma once
// The straightforward base64 decoder the service had before its table-per-position one: symbol
// by symbol, the same rules (src/core/base64.hpp). Kept as the reference the fast decoder is
// tested and fuzzed against (tests/unit/test_base64.cpp, fuzz/fuzz_base64.cpp); not in the
// service.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imagecpp::base64_reference {

inline std::optional<std::string> decode(std::string_view in) {
  constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  constexpr int kBad = -1, kSpace = -2, kPad = -3;
  const auto lookup = [&](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    if (const auto at = kAlphabet.find(static_cast<char>(c)); at != std::string_view::npos) {
      return static_cast<int>(at);
    }
    if (c == '-') return 62;  // URL-safe, as Node accepts
    if (c == '_') return 63;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') return kSpace;
    if (c == '=') return kPad;
    return kBad;
  };
  std::string out;
  std::uint32_t bits = 0;
  std::size_t count = 0;  // symbols in the current quad
  for (std::size_t i = 0; i < in.size(); ++i) {
    const int v = lookup(in[i]);
    if (v == kBad) return std::nullopt;
    if (v == kSpace) continue;
    if (v == kPad) {
      // Only '=' and whitespace may follow, and they must complete the quad exactly.
      std::size_t pads = 0;
      for (std::size_t k = i; k < in.size(); ++k) {
        const int w = lookup(in[k]);
        if (w == kPad) {
          ++pads;
        } else if (w != kSpace) {
          return std::nullopt;
        }
      }
      if (count < 2 || count + pads != 4) return std::nullopt;
      break;
    }
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    if (++count == 4) {
      out.push_back(static_cast<char>(bits >> 16));
      out.push_back(static_cast<char>(bits >> 8));
      out.push_back(static_cast<char>(bits));
      bits = 0;
      count = 0;
    }
  }
  if (count == 1) return std::nullopt;
  if (count == 2) out.push_back(static_cast<char>(bits >> 4));
  if (count == 3) {
    out.push_back(static_cast<char>(bits >> 10));
    out.push_back(static_cast<char>(bits >> 2));
  }
  return out;
}

}  // namespace imagecpp::base64_reference
