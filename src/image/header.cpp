#include "image/header.hpp"

#include <string>

#include "core/error.hpp"
#include "image/header_probe.hpp"
#include "image/vips_support.hpp"

namespace imagecpp::image::detail {
namespace {

constexpr std::string_view kUnsupported =
    "not a supported image (jpeg, png, webp, gif, avif, heic)";
constexpr std::string_view kCorrupt = "image header is corrupt";

Error bad_image(std::string_view message) {
  return Error::bad_input("image", std::string(message));
}

struct Probe {
  std::optional<Dimensions> dimensions;
  bool plain_jpeg = false;
};

Probe probe(Format format, std::string_view bytes) {
  switch (format) {
    case Format::jpeg: {
      const std::optional<JpegHeader> header = probe_jpeg(bytes);
      if (!header) return {};
      return {header->dimensions, header->plain};
    }
    case Format::png:
      return {probe_png(bytes)};
    case Format::gif:
      return {probe_gif(bytes)};
    case Format::webp:
      return {probe_webp(bytes)};
    case Format::avif:
    case Format::heic:
      break;
  }
  return {};
}

// The limit is checked on the probe's figures before libvips runs and again on libvips' own
// figures, which are the ones its decoder will use.
void check_dimensions(Dimensions dimensions, const Limits& limits) {
  if (dimensions.width == 0 || dimensions.height == 0) throw bad_image(kCorrupt);
  const std::string size =
      std::to_string(dimensions.width) + "x" + std::to_string(dimensions.height);
  if (dimensions.pixels() > limits.max_pixels)
    throw bad_image("image is " + size + ", over the " + std::to_string(limits.max_pixels) +
                    " pixel limit");
  if (dimensions.width > VIPS_MAX_COORD || dimensions.height > VIPS_MAX_COORD)
    throw bad_image("image is " + size + ", a side over " + std::to_string(VIPS_MAX_COORD) +
                    " pixels");
}

// Reads the header only: libvips loaders decode nothing until a pixel is requested.
vips::VImage open_lazily(std::string_view bytes) {
  return or_bad_input(kCorrupt, [bytes] {
    return vips::VImage::new_from_buffer(
        bytes.data(), bytes.size(), "",
        vips::VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL));
  });
}

Dimensions dimensions_of(const vips::VImage& image) {
  // libvips never reports negative sides; the casts only change the type.
  return {static_cast<std::uint32_t>(image.width()), static_cast<std::uint32_t>(image.height())};
}

}  // namespace

Header read_header(std::string_view bytes, const Limits& limits) {
  const std::optional<Format> format = sniff(bytes);
  if (!format) throw bad_image(kUnsupported);
  const Probe probed = probe(*format, bytes);
  const bool heif = *format == Format::avif || *format == Format::heic;
  if (!probed.dimensions && !heif) throw bad_image(kCorrupt);
  if (probed.dimensions) check_dimensions(*probed.dimensions, limits);

  vips::VImage image = open_lazily(bytes);
  const Dimensions dimensions = dimensions_of(image);
  check_dimensions(dimensions, limits);
  return Header{.info = {.format = *format, .dimensions = dimensions},
                .image = std::move(image),
                .plain_jpeg = probed.plain_jpeg};
}

}  // namespace imagecpp::image::detail

namespace imagecpp::image {

ImageInfo inspect(std::string_view bytes, const Limits& limits) {
  return detail::read_header(bytes, limits).info;
}

}  // namespace imagecpp::image
