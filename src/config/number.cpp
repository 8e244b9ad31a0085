#include "config/number.hpp"

#include <algorithm>
#include <charconv>

namespace imagecpp::config {

std::optional<std::uint64_t> parse_number(std::string_view text, NumberRange range) {
  // std::isdigit depends on the locale; a setting's syntax must not.
  const bool digits_only = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  if (!digits_only) return std::nullopt;
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc{} || stop != end) return std::nullopt;  // errc: above 2^64 - 1
  if (value < range.min || value > range.max) return std::nullopt;
  return value;
}

std::string describe(NumberRange range) {
  return std::to_string(range.min) + ".." + std::to_string(range.max);
}

}  // namespace imagecpp::config
