#include "image/byte_reader.hpp"
#include "image/header_probe.hpp"

namespace imagecpp::image::detail {
namespace {

constexpr std::uint8_t kSof0 = 0xC0;
constexpr std::uint8_t kSof2 = 0xC2;  // progressive Huffman: the last SOF browsers all decode
constexpr std::uint8_t kSos = 0xDA;
constexpr std::uint8_t kEoi = 0xD9;
constexpr std::uint8_t kApp0 = 0xE0;   // JFIF: no metadata
constexpr std::uint8_t kApp14 = 0xEE;  // Adobe: colour transform flag, needed to decode
constexpr std::uint8_t kCom = 0xFE;
constexpr std::uint32_t kMinFrameHeader = 8;  // length, precision, height, width, components

// SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range.
bool is_start_of_frame(std::uint8_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// TEM, RSTn and SOI stand alone, without a length field.
bool is_standalone(std::uint8_t marker) {
  return marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8);
}

bool carries_metadata(std::uint8_t marker) {
  const bool app = marker >= kApp0 && marker <= 0xEF;
  return marker == kCom || (app && marker != kApp0 && marker != kApp14);
}

// Like libjpeg, skips stray bytes before a marker and 0xFF fill bytes; `at` ends past the
// marker code. nullopt at the end of the bytes.
std::optional<std::uint8_t> next_marker(const ByteReader& reader, std::size_t& at) {
  while (true) {
    while (reader.u8(at).value_or(0xFF) != 0xFF) ++at;
    while (reader.u8(at) == 0xFF) ++at;
    const std::optional<std::uint8_t> code = reader.u8(at);
    if (!code) return std::nullopt;
    ++at;
    if (*code != 0x00) return code;  // 0xFF00 is a stuffed data byte, not a marker
  }
}

}  // namespace

std::optional<JpegHeader> probe_jpeg(std::string_view bytes) noexcept {
  const ByteReader reader(bytes);
  if (!reader.matches(0, "\xff\xd8")) return std::nullopt;
  std::optional<JpegHeader> header;
  bool plain = true;
  bool reached_scan = false;
  std::size_t at = 2;
  while (const std::optional<std::uint8_t> marker = next_marker(reader, at)) {
    if (*marker == kSos || *marker == kEoi) {
      reached_scan = *marker == kSos;
      break;
    }
    if (is_standalone(*marker)) continue;
    const std::optional<std::uint32_t> length = reader.be16(at);
    if (!length || *length < 2) return std::nullopt;
    if (is_start_of_frame(*marker) && !header) {
      if (*length < kMinFrameHeader) return std::nullopt;
      const std::optional<std::uint32_t> height = reader.be16(at + 3);
      const std::optional<std::uint32_t> width = reader.be16(at + 5);
      if (!height || !width) return std::nullopt;
      header = JpegHeader{.dimensions = {*width, *height}};
      plain = plain && *marker >= kSof0 && *marker <= kSof2;
    }
    plain = plain && !carries_metadata(*marker);
    at += *length;
  }
  if (!header) return std::nullopt;
  // A header cut before the first scan cannot be vouched for.
  header->plain = plain && reached_scan;
  return header;
}

}  // namespace imagecpp::image::detail
