#include "core/data_url.hpp"

#include "core/ascii.hpp"

namespace imagecpp::data_url {
namespace {

constexpr std::string_view kScheme = "data:";
constexpr std::string_view kBase64 = "base64";

// Splits off the text before the first `sep`; `rest` keeps what follows it.
std::string_view take_until(std::string_view& rest, char sep) noexcept {
  const std::size_t at = rest.find(sep);
  const std::string_view head = rest.substr(0, at);
  rest = at == std::string_view::npos ? std::string_view{} : rest.substr(at + 1);
  return head;
}

}  // namespace

bool is_data_url(std::string_view text) noexcept {
  return ascii::istarts_with(text, kScheme);
}

std::optional<Parts> split(std::string_view text) noexcept {
  if (!is_data_url(text)) return std::nullopt;
  std::string_view rest = text.substr(kScheme.size());
  const std::size_t comma = rest.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  Parts parts;
  parts.data = rest.substr(comma + 1);
  std::string_view header = rest.substr(0, comma);
  parts.media_type = take_until(header, ';');
  bool seen_base64 = false;
  while (!header.empty()) {
    const std::string_view param = take_until(header, ';');
    if (seen_base64) parts.well_formed = false;  // ";base64" must come last
    parts.base64 = ascii::iequals(param, kBase64);
    if (!parts.base64 && (param.find('=') == std::string_view::npos || param.front() == '=')) {
      parts.well_formed = false;
    }
    seen_base64 = seen_base64 || parts.base64;
  }
  return parts;
}

}  // namespace imagecpp::data_url
