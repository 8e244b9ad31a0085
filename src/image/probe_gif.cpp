#include <algorithm>

#include "image/byte_reader.hpp"
#include "image/header_probe.hpp"

namespace imagecpp::image::detail {
namespace {

constexpr std::uint8_t kImageDescriptor = 0x2C;
constexpr std::uint8_t kExtension = 0x21;
constexpr std::size_t kHeaderSize = 13;      // "GIF89a" + logical screen descriptor
constexpr std::size_t kDescriptorSize = 10;  // separator, position, size, packed fields

// The size of a colour table announced by a packed-fields byte, 0 when there is none.
std::size_t colour_table_size(std::uint8_t flags) {
  return (flags & 0x80) != 0 ? std::size_t{3} << ((flags & 0x07) + 1) : 0;
}

// Skips the data sub-blocks of an extension or an image; `at` ends past the zero-length terminator.
bool skip_sub_blocks(const ByteReader& reader, std::size_t& at) {
  while (true) {
    const std::optional<std::uint8_t> size = reader.u8(at);
    if (!size) return false;
    at += std::size_t{*size} + 1;
    if (*size == 0) return true;
  }
}

}  // namespace

std::optional<ContainerHeader> probe_gif(std::string_view bytes) noexcept {
  const ByteReader reader(bytes);
  if (!reader.matches(0, "GIF87a") && !reader.matches(0, "GIF89a")) return std::nullopt;
  const std::optional<std::uint32_t> screen_width = reader.le16(6);
  const std::optional<std::uint32_t> screen_height = reader.le16(8);
  const std::optional<std::uint8_t> flags = reader.u8(10);
  if (!screen_width || !screen_height || !flags || !reader.has(0, kHeaderSize)) return std::nullopt;

  // `at` only moves past a byte that was read, by at most a descriptor, a colour table and a
  // sub-block: it stays within a few hundred bytes of the end and cannot overflow.
  std::optional<ContainerHeader> header;
  std::size_t at = kHeaderSize + colour_table_size(*flags);
  while (true) {
    const std::optional<std::uint8_t> block = reader.u8(at);
    if (block == kExtension) {
      at += 2;  // introducer and label
      if (!skip_sub_blocks(reader, at)) break;
      continue;
    }
    if (block != kImageDescriptor) break;  // trailer, garbage or end
    const std::optional<std::uint32_t> left = reader.le16(at + 1);
    const std::optional<std::uint32_t> top = reader.le16(at + 3);
    const std::optional<std::uint32_t> width = reader.le16(at + 5);
    const std::optional<std::uint32_t> height = reader.le16(at + 7);
    if (!left || !top || !width || !height) break;
    if (header) {
      ++header->frames;
    } else {
      header = ContainerHeader{.dimensions = {std::max(*screen_width, *left + *width),
                                              std::max(*screen_height, *top + *height)},
                               .frames = 1};
    }
    const std::optional<std::uint8_t> frame_flags = reader.u8(at + 9);
    if (!frame_flags) break;
    // Descriptor, local colour table, LZW minimum code size, then the image data sub-blocks.
    at += kDescriptorSize + colour_table_size(*frame_flags) + 1;
    if (!skip_sub_blocks(reader, at)) break;
  }
  return header;
}

}  // namespace imagecpp::image::detail
