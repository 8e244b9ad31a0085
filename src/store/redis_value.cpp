#include "store/redis_value.hpp"

#include <optional>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "image/format.hpp"

namespace imagecpp::store {
namespace {

constexpr std::string_view kPrefix = "data:";

// Anything sniff rejects never reaches the store (uploads are checked, variants are JPEG),
// but a value must still be readable by the peers, which only need some media type.
std::string_view mime_of(std::string_view bytes) noexcept {
  const auto format = image::sniff(bytes);
  return format ? image::mime_type(*format) : std::string_view("application/octet-stream");
}

bool ends_with_base64(std::string_view header) noexcept {
  constexpr std::string_view kMarker = ";base64";
  if (header.size() < kMarker.size()) return false;
  const std::string_view tail = header.substr(header.size() - kMarker.size());
  for (std::size_t i = 0; i < tail.size(); ++i) {
    const char c = tail[i] >= 'A' && tail[i] <= 'Z' ? char(tail[i] - 'A' + 'a') : tail[i];
    if (c != kMarker[i]) return false;
  }
  return true;
}

[[noreturn]] void unreadable(std::string_view why) {
  throw Error(ErrorCode::internal, "redis: stored data URL " + std::string(why));
}

}  // namespace

std::string encode_data_url(std::string_view bytes) {
  const std::string_view mime = mime_of(bytes);
  std::string value;
  value.reserve(kPrefix.size() + mime.size() + 8 + base64::encoded_size(bytes.size()));
  value.append(kPrefix).append(mime).append(";base64,");
  base64::encode_append(bytes, value);
  return value;
}

std::size_t max_data_url_size(std::size_t max_bytes) noexcept {
  constexpr std::size_t kMaxMime = 127;
  return kPrefix.size() + kMaxMime + std::string_view(";base64,").size() +
         base64::encoded_size(max_bytes);
}

bool is_data_url(std::string_view value) noexcept {
  return value.starts_with(kPrefix);
}

std::string decode_data_url(std::string_view value) {
  const std::size_t comma = value.find(',');
  if (comma == std::string_view::npos) unreadable("has no comma");
  if (!ends_with_base64(value.substr(0, comma))) unreadable("is not base64");
  std::optional<std::string> bytes = base64::decode(value.substr(comma + 1));
  if (!bytes) unreadable("has invalid base64");
  return std::move(*bytes);
}

}  // namespace imagecpp::store
