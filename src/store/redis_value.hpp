#pragma once
// How images are laid out as Redis values. The Node and Go peers store data-URL strings
// ("data:image/jpeg;base64,..."); this service stores raw bytes by default (a quarter less
// memory) or, to run beside the peers on one Redis, data-URL strings like theirs.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace imagecpp::store {

enum class ValueFormat { raw, data_url };

// The media type of image bytes, for the data URLs written for the peers. The store knows no
// image formats: whoever builds it says how to tell (an empty function: application/octet-stream).
using MediaTypeOf = std::function<std::string_view(std::string_view bytes)>;

// "data:<media type>;base64,<bytes>"; the media type must be at most 127 characters.
std::string encode_data_url(std::string_view bytes, std::string_view media_type);

// True when a stored value is a data URL (it starts with "data:"); anything else is raw bytes.
bool is_data_url(std::string_view value) noexcept;

// The longest data URL that holds at most `max_bytes` bytes: "data:<mime>;base64," (a media type
// of up to 127 characters, RFC 6838's limit) plus the base64 of the bytes.
std::size_t max_data_url_size(std::size_t max_bytes) noexcept;

// The bytes of a base64 data URL. Throws Error(internal) when the value is not one (a stored
// value the service cannot read is a bug or foreign data, not a client error).
std::string decode_data_url(std::string_view value);

}  // namespace imagecpp::store
