#include "image/format.hpp"

#include <algorithm>
#include <array>

#include "image/byte_reader.hpp"

namespace imagecpp::image {
namespace {

using detail::ByteReader;

constexpr std::string_view kPngSignature{"\x89PNG\r\n\x1a\n", 8};

constexpr std::array<std::string_view, 2> kAvifBrands{"avif", "avis"};
// HEVC-coded HEIF; "mif1"/"msf1" are generic HEIF structure brands that libheif also reads.
constexpr std::array<std::string_view, 6> kHeicBrands{"heic", "heix", "heim",
                                                      "heis", "hevc", "hevx"};
constexpr std::array<std::string_view, 2> kGenericHeifBrands{"mif1", "msf1"};

template <std::size_t N>
bool is_one_of(std::string_view brand, const std::array<std::string_view, N>& brands) {
  for (const std::string_view known : brands)
    if (brand == known) return true;
  return false;
}

// The ISO-BMFF `ftyp` box: size, "ftyp", major brand, minor version, compatible brands.
// The major brand decides when it is specific; a generic major brand ("mif1") defers to the
// compatible brands, where AVIF encoders commonly announce themselves.
std::optional<Format> sniff_heif(std::string_view bytes) {
  const ByteReader reader(bytes);
  const std::optional<std::uint32_t> box_size = reader.be32(0);
  if (!reader.has(0, 16) || !reader.matches(4, "ftyp") || *box_size < 16) return std::nullopt;
  const std::string_view major = bytes.substr(8, 4);
  if (is_one_of(major, kAvifBrands)) return Format::avif;
  if (is_one_of(major, kHeicBrands)) return Format::heic;

  const std::size_t end = std::min<std::size_t>(*box_size, bytes.size());
  bool heic = false;
  for (std::size_t at = 16; at + 4 <= end; at += 4) {
    const std::string_view brand = bytes.substr(at, 4);
    if (is_one_of(brand, kAvifBrands)) return Format::avif;
    heic = heic || is_one_of(brand, kHeicBrands) || is_one_of(brand, kGenericHeifBrands);
  }
  if (heic || is_one_of(major, kGenericHeifBrands)) return Format::heic;
  return std::nullopt;
}

}  // namespace

std::optional<Format> sniff(std::string_view bytes) noexcept {
  const ByteReader reader(bytes);
  if (reader.matches(0, "\xff\xd8\xff")) return Format::jpeg;
  if (reader.matches(0, kPngSignature)) return Format::png;
  if (reader.matches(0, "GIF87a") || reader.matches(0, "GIF89a")) return Format::gif;
  if (reader.matches(0, "RIFF") && reader.matches(8, "WEBP")) return Format::webp;
  return sniff_heif(bytes);
}

std::string_view mime_type(Format format) noexcept {
  switch (format) {
    case Format::jpeg:
      return "image/jpeg";
    case Format::png:
      return "image/png";
    case Format::webp:
      return "image/webp";
    case Format::gif:
      return "image/gif";
    case Format::avif:
      return "image/avif";
    case Format::heic:
      return "image/heic";
  }
  return "application/octet-stream";
}

std::string_view media_type_of(std::string_view bytes) noexcept {
  const auto format = sniff(bytes);
  return format ? mime_type(*format) : std::string_view{};
}

std::string_view name(Format format) noexcept {
  switch (format) {
    case Format::jpeg:
      return "jpeg";
    case Format::png:
      return "png";
    case Format::webp:
      return "webp";
    case Format::gif:
      return "gif";
    case Format::avif:
      return "avif";
    case Format::heic:
      return "heic";
  }
  return "unknown";
}

}  // namespace imagecpp::image
