#include <array>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "image/header.hpp"
#include "image/pipeline.hpp"
#include "image/processor.hpp"
#include "image/vips_support.hpp"

namespace imagecpp::image {
namespace {

using detail::Header;

constexpr std::string_view kUndecodable = "stored image cannot be decoded";
constexpr std::array kMetadataFields{VIPS_META_EXIF_NAME, VIPS_META_ICC_NAME, VIPS_META_XMP_NAME,
                                     VIPS_META_IPTC_NAME};

void check_options(const RenderOptions& options) {
  if (options.box && *options.box < 1) throw Error(ErrorCode::internal, "render box must be >= 1");
  if (options.quality < 1 || options.quality > 100)
    throw Error(ErrorCode::internal, "quality must be within 1..100");
  const int max_effort = options.format == Format::webp ? 6 : 9;
  if (options.format != Format::jpeg && (options.effort < 0 || options.effort > max_effort))
    throw Error(ErrorCode::internal, "encoder effort out of range");
  if (options.format != Format::jpeg && options.format != Format::webp &&
      options.format != Format::avif)
    throw Error(ErrorCode::internal, "not a variant format: " + std::string(name(options.format)));
}

bool fits(const vips::VImage& image, std::optional<int> box) {
  return !box || (image.width() <= *box && image.height() <= *box);
}

// 1 also when the tag is missing or out of range, as auto-rotation would treat it.
bool upright(const vips::VImage& image) {
  return vips_image_get_orientation(image.get_image()) == 1;
}

bool srgb_or_gray(const vips::VImage& image) {
  const VipsInterpretation kind = image.interpretation();
  return image.format() == VIPS_FORMAT_UCHAR &&
         ((kind == VIPS_INTERPRETATION_sRGB && image.bands() == 3) ||
          (kind == VIPS_INTERPRETATION_B_W && image.bands() == 1));
}

bool without_metadata(const vips::VImage& image) {
  for (const char* field : kMetadataFields)
    if (image.get_typeof(field) != 0) return false;
  return true;
}

// A passthrough is never decoded, so a file cut short would be answered as it is: only a JPEG
// that ends with its end-of-image marker passes (anything else is decoded, and fails if broken).
bool complete_jpeg(std::string_view bytes) {
  return bytes.ends_with("\xff\xd9");
}

// Re-encoding a JPEG that needs no change would only lose quality.
bool passes_through(const Header& header, std::string_view bytes, std::optional<int> box) {
  return header.info.format == Format::jpeg && header.plain_jpeg && complete_jpeg(bytes) &&
         fits(header.image, box) && upright(header.image) && srgb_or_gray(header.image) &&
         without_metadata(header.image);
}

// Shrink-on-load: JPEG decodes at 1/2, 1/4 or 1/8 scale, WebP and HEIF likewise, so a large
// original never exists in memory at full size. The loader reads page 0 only (first frame);
// auto-rotation by EXIF orientation is the default, and so is CMYK to sRGB (with libvips'
// built-in CMYK profile when the file has none). An embedded profile is transformed to sRGB only
// when asked; asking without one made libvips 8.14 shift the colours of untagged (sRGB) images
// (mean red down by 7 of 255 on the test photo).
// The loader's fail_on only takes effect through option_string in 8.14's thumbnail_buffer.
vips::VImage thumbnail(std::string_view bytes, std::optional<int> box, bool has_profile) {
  const detail::BlobPtr blob = detail::borrow_blob(bytes);
  const int side = box.value_or(VIPS_MAX_COORD);
  vips::VOption* options = vips::VImage::option()
                               ->set("height", side)
                               ->set("size", VIPS_SIZE_DOWN)
                               ->set("option_string", "fail_on=truncated");
  if (has_profile) options->set("export_profile", "srgb");
  return vips::VImage::thumbnail_buffer(blob.get(), side, options);
}

// Whatever is left (gray, 16-bit, alpha): 8-bit sRGB, three bands, or four with a kept alpha;
// transparency otherwise on white.
vips::VImage to_srgb8(vips::VImage image, bool keep_alpha) {
  if (image.interpretation() != VIPS_INTERPRETATION_sRGB || image.format() != VIPS_FORMAT_UCHAR)
    image = image.colourspace(VIPS_INTERPRETATION_sRGB);
  const bool alpha = keep_alpha && image.has_alpha();
  if (image.has_alpha() && !alpha)
    image = image.flatten(vips::VImage::option()->set("background", std::vector<double>{255.0}));
  if (image.format() != VIPS_FORMAT_UCHAR) image = image.cast(VIPS_FORMAT_UCHAR);
  const int bands = alpha ? 4 : 3;
  if (image.bands() > bands) image = image.extract_band(0, vips::VImage::option()->set("n", bands));
  return image;
}

// An alpha band that is opaque everywhere (a GIF, a PNG saved with one) would only cost bytes (an
// AVIF alpha plane): dropped. Knowing it takes the pixels, so they are computed into memory here,
// once (WebP and AVIF encoders hold the whole image anyway).
vips::VImage alpha_if_used(const vips::VImage& image) {
  if (!image.has_alpha()) return image;
  vips::VImage pixels = image.copy_memory();
  if (pixels.extract_band(pixels.bands() - 1).min() < 255.0) return pixels;
  return pixels.extract_band(0, vips::VImage::option()->set("n", pixels.bands() - 1));
}

// What no encoder can take, or what would outlast the render deadline: refused before any pixel
// is computed (the output's size is known from the header).
void check_output(const vips::VImage& image, Format format, const Limits& limits) {
  const std::string size = std::to_string(image.width()) + "x" + std::to_string(image.height());
  if (format == Format::webp && (image.width() > kMaxWebpSide || image.height() > kMaxWebpSide))
    throw Error::bad_input("image", "image is " + size + ", a side over the WebP limit of " +
                                        std::to_string(kMaxWebpSide) + " pixels: ask for a Size");
  const auto pixels = static_cast<std::uint64_t>(image.width()) * image.height();
  if (format == Format::avif && pixels > limits.max_avif_pixels)
    throw Error::bad_input("image", "image is " + size + ", over the " +
                                        std::to_string(limits.max_avif_pixels) +
                                        " pixel limit of AVIF output: ask for a Size");
}

// libvips signals "eval" on the image being computed every few tiles; past the deadline the
// callback sets the kill flag and the save fails, freeing the worker.
class Deadline {
 public:
  Deadline(const vips::VImage& image, std::chrono::milliseconds limit)
      : image_(image.get_image()), at_(std::chrono::steady_clock::now() + limit) {
    vips_image_set_progress(image_, TRUE);
    handler_ = g_signal_connect(image_, "eval", G_CALLBACK(&Deadline::on_eval), this);
  }
  ~Deadline() { g_signal_handler_disconnect(image_, handler_); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  bool passed() const { return std::chrono::steady_clock::now() > at_; }

 private:
  static void on_eval(VipsImage* image, VipsProgress* /*progress*/, Deadline* self) {
    if (self->passed()) vips_image_set_kill(image, TRUE);
  }

  VipsImage* image_;
  std::chrono::steady_clock::time_point at_;
  gulong handler_ = 0;
};

// Every metadata field removed from a private copy (the pixels are shared, not copied). The
// savers' own `strip` is not enough: libvips 8.14's webpsave ignores it and writes the original's
// EXIF (GPS position included) into the WebP (libvips issue 3340).
vips::VImage without_any_metadata(const vips::VImage& image) {
  vips::VImage copy = image.copy();
  gchar** fields = vips_image_get_fields(copy.get_image());
  for (gchar** field = fields; *field != nullptr; ++field) {
    vips_image_remove(copy.get_image(), *field);  // refuses the fixed header fields: fine
  }
  g_strfreev(fields);
  return copy;
}

std::string take(VipsBlob* encoded) {
  const detail::BlobPtr blob(encoded);
  const VipsArea* area = VIPS_AREA(blob.get());
  return std::string(static_cast<const char*>(area->data), area->length);
}

}  // namespace

Encoded render(std::string_view original, const RenderOptions& options, const Limits& limits) {
  check_options(options);
  const detail::Encoding encoding{options.format, options.quality, options.effort};
  const Header header = detail::read_header(original, limits);
  if (options.format == Format::jpeg && passes_through(header, original, options.box))
    return Encoded{.bytes = {}, .passthrough = true};
  return detail::or_bad_input(kUndecodable, [&] {
    const bool has_profile = header.image.get_typeof(VIPS_META_ICC_NAME) != 0;
    const bool keep_alpha = options.format != Format::jpeg;
    const vips::VImage image =
        detail::variant_pixels(original, options.box, keep_alpha, has_profile);
    check_output(image, options.format, limits);
    const Deadline deadline(image, limits.max_render_time);
    try {
      return Encoded{.bytes = detail::encode(alpha_if_used(image), encoding), .passthrough = false};
    } catch (const vips::VError&) {
      if (!deadline.passed()) throw;
      vips_error_clear();
      throw Error::bad_input("image", "image takes too long to process (over " +
                                          std::to_string(limits.max_render_time.count()) + " ms)");
    }
  });
}

Rendered render_jpeg(std::string_view original, const RenderOptions& options,
                     const Limits& limits) {
  RenderOptions jpeg = options;
  jpeg.format = Format::jpeg;
  Encoded encoded = render(original, jpeg, limits);
  return Rendered{.jpeg = std::move(encoded.bytes), .passthrough = encoded.passthrough};
}

}  // namespace imagecpp::image

namespace imagecpp::image::detail {

vips::VImage variant_pixels(std::string_view original, std::optional<int> box, bool keep_alpha,
                            bool has_profile) {
  return to_srgb8(thumbnail(original, box, has_profile), keep_alpha);
}

std::string encode(const vips::VImage& pixels, const Encoding& encoding) {
  if (encoding.quality < 1 || encoding.quality > 100)
    throw Error(ErrorCode::internal, "quality must be within 1..100");
  const vips::VImage image = without_any_metadata(pixels);
  switch (encoding.format) {
    case Format::jpeg:
      return take(image.jpegsave_buffer(vips::VImage::option()
                                            ->set("Q", encoding.quality)
                                            ->set("strip", true)
                                            ->set("optimize_coding", true)));
    case Format::webp:
      if (encoding.effort < 0 || encoding.effort > 6)
        throw Error(ErrorCode::internal, "WebP effort must be within 0..6");
      return take(image.webpsave_buffer(vips::VImage::option()
                                            ->set("Q", encoding.quality)
                                            ->set("effort", encoding.effort)
                                            ->set("strip", true)));
    case Format::avif:
      if (encoding.effort < 0 || encoding.effort > 9)
        throw Error(ErrorCode::internal, "AVIF effort must be within 0..9");
      // AV1 in HEIF is AVIF; 8 bits, as the pixels are.
      return take(image.heifsave_buffer(vips::VImage::option()
                                            ->set("Q", encoding.quality)
                                            ->set("effort", encoding.effort)
                                            ->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1)
                                            ->set("bitdepth", 8)
                                            ->set("strip", true)));
    default:
      throw Error(ErrorCode::internal, "no encoder for " + std::string(name(encoding.format)));
  }
}

}  // namespace imagecpp::image::detail
