#include "image/byte_reader.hpp"
#include "image/header_probe.hpp"

namespace imagecpp::image::detail {

// The PNG signature is followed by IHDR, always first and always 13 bytes long.
std::optional<Dimensions> probe_png(std::string_view bytes) noexcept {
  constexpr std::uint32_t kMaxSide = 0x7FFFFFFF;  // the PNG specification's own bound
  const ByteReader reader(bytes);
  if (!reader.matches(0, std::string_view{"\x89PNG\r\n\x1a\n", 8})) return std::nullopt;
  if (reader.be32(8) != 13u || !reader.matches(12, "IHDR")) return std::nullopt;
  const std::optional<std::uint32_t> width = reader.be32(16);
  const std::optional<std::uint32_t> height = reader.be32(20);
  if (!width || !height || *width > kMaxSide || *height > kMaxSide) return std::nullopt;
  return Dimensions{*width, *height};
}

}  // namespace imagecpp::image::detail
