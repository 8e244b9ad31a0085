#include "image/header.hpp"

#include <memory>
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

struct Probed {
  std::optional<Dimensions> dimensions;
  std::uint64_t frames = 1;
  bool plain_jpeg = false;
};

Probed from_container(const std::optional<ContainerHeader>& header) {
  if (!header) return {};
  return {.dimensions = header->dimensions, .frames = header->frames};
}

Probed probe(Format format, std::string_view bytes) {
  switch (format) {
    case Format::jpeg: {
      const std::optional<JpegHeader> header = probe_jpeg(bytes);
      if (!header) return {};
      return {.dimensions = header->dimensions, .plain_jpeg = header->plain};
    }
    case Format::png:
      return from_container(probe_png(bytes));
    case Format::gif:
      return from_container(probe_gif(bytes));
    case Format::webp:
      return from_container(probe_webp(bytes));
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

// Frames likewise: the container's count first (GIF, WebP, APNG), then libvips' n-pages, the only
// count for HEIF/AVIF (top-level images), read with its header.
void check_frames(std::uint64_t frames, const Limits& limits) {
  if (frames > limits.max_frames)
    throw bad_image("image has " + std::to_string(frames) + " frames, over the " +
                    std::to_string(limits.max_frames) + " frame limit");
}

// The libvips loader of each sniffed format. Called by name rather than through
// new_from_buffer(), which asks every loader libvips has in turn whether the bytes are its
// format: that search cost more than reading the header (half a million instructions an upload,
// bench/instructions.py --form upload).
const char* loader_of(Format format) {
  switch (format) {
    case Format::jpeg:
      return "jpegload_buffer";
    case Format::png:
      return "pngload_buffer";
    case Format::webp:
      return "webpload_buffer";
    case Format::gif:
      return "gifload_buffer";
    case Format::avif:
    case Format::heic:
      return "heifload_buffer";
  }
  return "";
}

struct BlobUnref {
  void operator()(VipsBlob* blob) const { vips_area_unref(VIPS_AREA(blob)); }
};

// Reads the header only: libvips loaders decode nothing until a pixel is requested. The image
// refers to `bytes` (no copy): they must outlive it.
vips::VImage open_lazily(Format format, std::string_view bytes) {
  return or_bad_input(kCorrupt, [format, bytes] {
    const std::unique_ptr<VipsBlob, BlobUnref> blob(
        vips_blob_new(nullptr, bytes.data(), bytes.size()));
    vips::VImage out;
    vips::VImage::call(loader_of(format), vips::VImage::option()
                                              ->set("buffer", blob.get())
                                              ->set("out", &out)
                                              ->set("access", VIPS_ACCESS_SEQUENTIAL));
    return out;
  });
}

Dimensions dimensions_of(const vips::VImage& image) {
  // libvips never reports negative sides; the casts only change the type.
  return {static_cast<std::uint32_t>(image.width()), static_cast<std::uint32_t>(image.height())};
}

// The loader's n-pages as set, 1 when absent. Not vips_image_get_n_pages(): that answers 1 for a
// count it finds implausible (thousands of pages), the very case the limit is for.
std::uint64_t frames_of(const vips::VImage& image) {
  if (image.get_typeof(VIPS_META_N_PAGES) != G_TYPE_INT) return 1;
  const int pages = image.get_int(VIPS_META_N_PAGES);
  return pages > 1 ? static_cast<std::uint64_t>(pages) : 1;
}

}  // namespace

Header read_header(std::string_view bytes, const Limits& limits) {
  const std::optional<Format> format = sniff(bytes);
  if (!format) throw bad_image(kUnsupported);
  const Probed probed = probe(*format, bytes);
  const bool heif = *format == Format::avif || *format == Format::heic;
  if (!probed.dimensions && !heif) throw bad_image(kCorrupt);
  if (probed.dimensions) check_dimensions(*probed.dimensions, limits);
  check_frames(probed.frames, limits);

  vips::VImage image = open_lazily(*format, bytes);
  const Dimensions dimensions = dimensions_of(image);
  check_dimensions(dimensions, limits);
  check_frames(frames_of(image), limits);
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
