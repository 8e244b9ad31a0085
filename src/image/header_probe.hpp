#pragma once
// Width and height straight from the container headers, before libvips sees the bytes: a few
// bytes can declare a canvas that would make a decoder allocate gigabytes. Each probe reads only
// what it needs with explicit bounds checks and returns nullopt for anything malformed.
#include <optional>
#include <string_view>

#include "image/format.hpp"

namespace imagecpp::image::detail {

struct JpegHeader {
  Dimensions dimensions;
  // Huffman-coded (baseline or progressive, what every browser shows) and without any segment
  // that carries metadata (EXIF, ICC, XMP, IPTC, comments, vendor APPn): such a file may be
  // served byte for byte.
  bool plain = false;
};

std::optional<JpegHeader> probe_jpeg(std::string_view bytes) noexcept;
std::optional<Dimensions> probe_png(std::string_view bytes) noexcept;
// The larger of the logical screen and the first frame's extent: decoders grow the canvas to it.
std::optional<Dimensions> probe_gif(std::string_view bytes) noexcept;
std::optional<Dimensions> probe_webp(std::string_view bytes) noexcept;

}  // namespace imagecpp::image::detail
