#include <algorithm>

#include "image/byte_reader.hpp"
#include "image/header_probe.hpp"

namespace imagecpp::image::detail {
namespace {

constexpr std::uint32_t kMaxValue = 0x7FFFFFFF;  // the PNG bound on sides and chunk lengths
constexpr std::size_t kFirstChunkAfterIhdr = 8 + 12 + 13;  // signature, IHDR chunk

// An APNG declares its frames in acTL (num_frames, num_plays), which must come before the first
// IDAT. Without one (or past IDAT) the file is a still image to every decoder.
std::uint64_t count_frames(const ByteReader& reader) {
  std::size_t at = kFirstChunkAfterIhdr;
  while (reader.has(at, 8)) {  // length and type; at <= size + 12 + kMaxValue: no overflow
    const std::uint32_t length = *reader.be32(at);
    if (length > kMaxValue || reader.matches(at + 4, "IDAT") || reader.matches(at + 4, "IEND"))
      break;
    if (reader.matches(at + 4, "acTL") && length == 8) {
      const std::optional<std::uint32_t> frames = reader.be32(at + 8);
      return frames ? std::max<std::uint64_t>(*frames, 1) : 1;
    }
    at += std::size_t{12} + length;  // length, type, data, CRC
  }
  return 1;
}

}  // namespace

// The PNG signature is followed by IHDR, always first and always 13 bytes long.
std::optional<ContainerHeader> probe_png(std::string_view bytes) noexcept {
  const ByteReader reader(bytes);
  if (!reader.matches(0, std::string_view{"\x89PNG\r\n\x1a\n", 8})) return std::nullopt;
  if (reader.be32(8) != 13u || !reader.matches(12, "IHDR")) return std::nullopt;
  const std::optional<std::uint32_t> width = reader.be32(16);
  const std::optional<std::uint32_t> height = reader.be32(20);
  if (!width || !height || *width > kMaxValue || *height > kMaxValue) return std::nullopt;
  return ContainerHeader{.dimensions = {*width, *height}, .frames = count_frames(reader)};
}

}  // namespace imagecpp::image::detail
