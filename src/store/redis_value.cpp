#include "store/redis_value.hpp"

#include <optional>

#include "core/base64.hpp"
#include "core/data_url.hpp"
#include "core/error.hpp"

namespace imagecpp::store {
namespace {

constexpr std::string_view kPrefix = "data:";

[[noreturn]] void unreadable(std::string_view why) {
  throw Error(ErrorCode::internal, "redis: stored data URL " + std::string(why));
}

}  // namespace

std::string encode_data_url(std::string_view bytes, std::string_view mime) {
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
  return data_url::is_data_url(value);
}

std::string decode_data_url(std::string_view value) {
  const auto parts = data_url::split(value);
  if (!parts) unreadable("has no comma");
  if (!parts->base64) unreadable("is not base64");
  std::optional<std::string> bytes = base64::decode(parts->data);
  if (!bytes) unreadable("has invalid base64");
  return std::move(*bytes);
}

}  // namespace imagecpp::store
