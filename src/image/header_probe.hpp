#pragma once
// Width, height and frame count straight from the container headers, before libvips sees the
// bytes: a few bytes can declare a canvas that would make a decoder allocate gigabytes, or
// thousands of frames that its header scan would index one by one. Each probe reads only what it
// needs with explicit bounds checks and returns nullopt for anything malformed.
#include <cstdint>
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

// The canvas and the number of frames a container declares (1 for a still image), read from its
// structure without decoding any frame.
struct ContainerHeader {
  Dimensions dimensions;
  std::uint64_t frames = 1;
};

std::optional<JpegHeader> probe_jpeg(std::string_view bytes) noexcept;
// Frames: num_frames of an APNG's acTL chunk (before the first IDAT), else 1.
std::optional<ContainerHeader> probe_png(std::string_view bytes) noexcept;
// Dimensions: the larger of the logical screen and the first frame's extent (decoders grow the
// canvas to it). Frames: the image descriptors met walking the blocks up to the trailer, the end
// of the bytes or anything that is not a block (a truncated GIF counts the frames it starts).
std::optional<ContainerHeader> probe_gif(std::string_view bytes) noexcept;
// Frames: the top-level ANMF chunks of an extended (VP8X) file, at least 1.
std::optional<ContainerHeader> probe_webp(std::string_view bytes) noexcept;

}  // namespace imagecpp::image::detail
