#include <algorithm>

#include "image/byte_reader.hpp"
#include "image/header_probe.hpp"

namespace imagecpp::image::detail {
namespace {

// The first chunk of a RIFF/WEBP file starts at 12; its payload at 20.
constexpr std::size_t kChunk = 12;
constexpr std::size_t kPayload = 20;

// Lossy: a 3-byte frame tag (bit 0 clear on key frames), the start code, then 14-bit sides.
std::optional<Dimensions> probe_vp8(const ByteReader& reader) {
  const std::optional<std::uint8_t> tag = reader.u8(kPayload);
  if (!tag || (*tag & 0x01) != 0 || !reader.matches(kPayload + 3, "\x9d\x01\x2a"))
    return std::nullopt;
  const std::optional<std::uint32_t> width = reader.le16(kPayload + 6);
  const std::optional<std::uint32_t> height = reader.le16(kPayload + 8);
  if (!width || !height) return std::nullopt;
  return Dimensions{*width & 0x3FFF, *height & 0x3FFF};
}

// Lossless: a 0x2F signature, then width-1 and height-1 packed in 14 bits each.
std::optional<Dimensions> probe_vp8l(const ByteReader& reader) {
  const std::optional<std::uint32_t> bits = reader.le32(kPayload + 1);
  if (reader.u8(kPayload) != 0x2F || !bits) return std::nullopt;
  return Dimensions{(*bits & 0x3FFF) + 1, ((*bits >> 14) & 0x3FFF) + 1};
}

// An animation's frames are its top-level ANMF chunks (each holds one frame's own chunks). The
// walk stays inside the RIFF size when that is smaller than the bytes, as libwebp's demuxer does.
std::uint64_t count_frames(const ByteReader& reader) {
  std::size_t end = reader.size();
  if (const std::optional<std::uint32_t> riff = reader.le32(4); riff && *riff < end - 8)
    end = std::size_t{8} + *riff;
  std::uint64_t frames = 0;
  std::size_t at = kChunk;
  while (at <= end && end - at >= 8) {  // fourcc and size
    const std::uint64_t size = *reader.le32(at + 4);
    if (reader.matches(at, "ANMF")) ++frames;
    const std::uint64_t next = at + 8 + size + (size & 1);  // payloads are padded to even
    if (next > end) break;
    at = static_cast<std::size_t>(next);
  }
  return std::max<std::uint64_t>(frames, 1);
}

// Extended (alpha, animation, metadata): flags and reserved bytes, then 24-bit canvas sides - 1.
std::optional<ContainerHeader> probe_vp8x(const ByteReader& reader) {
  const std::optional<std::uint32_t> width = reader.le24(kPayload + 4);
  const std::optional<std::uint32_t> height = reader.le24(kPayload + 7);
  if (!width || !height) return std::nullopt;
  return ContainerHeader{.dimensions = {*width + 1, *height + 1}, .frames = count_frames(reader)};
}

// The simple layouts hold one image chunk: one frame.
std::optional<ContainerHeader> still(std::optional<Dimensions> dimensions) {
  if (!dimensions) return std::nullopt;
  return ContainerHeader{.dimensions = *dimensions, .frames = 1};
}

}  // namespace

std::optional<ContainerHeader> probe_webp(std::string_view bytes) noexcept {
  const ByteReader reader(bytes);
  if (!reader.matches(0, "RIFF") || !reader.matches(8, "WEBP")) return std::nullopt;
  if (reader.matches(kChunk, "VP8 ")) return still(probe_vp8(reader));
  if (reader.matches(kChunk, "VP8L")) return still(probe_vp8l(reader));
  if (reader.matches(kChunk, "VP8X")) return probe_vp8x(reader);
  return std::nullopt;
}

}  // namespace imagecpp::image::detail
