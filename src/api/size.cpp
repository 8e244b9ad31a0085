#include "api/size.hpp"

#include <algorithm>
#include <charconv>

namespace imagecpp::api {

SizeChoice choose_size(std::optional<std::string_view> query,
                       std::optional<std::string_view> header, const std::vector<int>& allowed) {
  const std::string_view text = query ? *query : header.value_or("");
  if (text.empty()) return {};
  if (text.size() > 6 || text.front() == '0') return {false, std::nullopt};
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return {false, std::nullopt};
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    return {false, std::nullopt};
  }
  return {true, value};
}

}  // namespace imagecpp::api
