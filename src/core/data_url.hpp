#pragma once
// RFC 2397 data URLs, "data:[<media type>][;name=value]*[;base64],<data>": how clients upload
// an image in JSON, and how the peers store images in Redis. Split here once; what each side
// accepts (an image type, base64 only) is its own rule.
#include <optional>
#include <string_view>

namespace imagecpp::data_url {

struct Parts {
  std::string_view media_type;  // as written; may be empty
  bool base64 = false;          // the header ends with ";base64" (any letter case)
  bool well_formed = true;      // every other parameter is name=value, ";base64" only last
  std::string_view data;        // after the first comma
};

// Whether `text` starts with "data:" (any letter case).
bool is_data_url(std::string_view text) noexcept;

// nullopt when `text` is not a data URL or has no comma.
std::optional<Parts> split(std::string_view text) noexcept;

}  // namespace imagecpp::data_url
