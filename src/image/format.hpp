#pragma once
// What an upload really is, told from its bytes and never from a declared type.
#include <cstdint>
#include <optional>
#include <string_view>

namespace imagecpp::image {

enum class Format { jpeg, png, webp, gif, avif, heic };

// Recognises the format from magic bytes; nullopt for anything the service does not accept.
std::optional<Format> sniff(std::string_view bytes) noexcept;

// "image/jpeg", "image/png", ...
std::string_view mime_type(Format format) noexcept;

// The MIME type of the sniffed format, or empty for bytes sniff does not recognise.
std::string_view media_type_of(std::string_view bytes) noexcept;

// Short lowercase name for messages and logs: "jpeg", "png", ...
std::string_view name(Format format) noexcept;

struct Dimensions {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint64_t pixels() const noexcept { return std::uint64_t{width} * height; }
};

}  // namespace imagecpp::image
