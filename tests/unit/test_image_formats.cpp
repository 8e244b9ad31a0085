// WebP and AVIF variants: the same pipeline as JPEG (fitted, rotated, sRGB, stripped, first
// frame), transparency kept instead of flattened, and their own bounds (WebP's side limit, the
// AVIF pixel limit, the render deadline).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "image/processor.hpp"
#include "test_image_support.hpp"
#include "test_images.hpp"

namespace imagecpp::image {
namespace {

using namespace std::chrono_literals;
using test::bad_input_message;
using test::decode;
using test::image_bytes;
using test::mean_per_band;

class ImageFormats : public test::VipsTest, public ::testing::WithParamInterface<Format> {
 protected:
  // Renders in the test's format and checks what every such answer must be.
  static vips::VImage render_as(const std::string& original, std::optional<int> box, Format format,
                                int bands) {
    const Encoded encoded =
        render(original, RenderOptions{.box = box, .format = format, .effort = 2}, Limits{});
    EXPECT_FALSE(encoded.passthrough);
    EXPECT_EQ(sniff(encoded.bytes), format);
    vips::VImage image = decode(encoded.bytes);
    EXPECT_EQ(image.bands(), bands);
    EXPECT_EQ(image.format(), VIPS_FORMAT_UCHAR);
    EXPECT_EQ(image.interpretation(), VIPS_INTERPRETATION_sRGB);
    for (const char* field : {VIPS_META_XMP_NAME, VIPS_META_IPTC_NAME, VIPS_META_ICC_NAME})
      EXPECT_EQ(image.get_typeof(field), 0u) << field;
    // webpsave writes a minimal EXIF of its own (see StripsMetadata), upright.
    if (format == Format::avif) {
      EXPECT_EQ(image.get_typeof(VIPS_META_EXIF_NAME), 0u);
    }
    if (image.get_typeof(VIPS_META_ORIENTATION) != 0) {
      EXPECT_EQ(image.get_int(VIPS_META_ORIENTATION), 1);
    }
    return image;
  }

  static void expect_size(const vips::VImage& image, int width, int height) {
    EXPECT_EQ(image.width(), width);
    EXPECT_EQ(image.height(), height);
  }

  // A 4000x3000 PNG of noise: no shrink-on-load for PNG, so any variant is a slow decode.
  static std::string big_png() {
    const vips::VImage noise = vips::VImage::gaussnoise(4000, 3000).cast(VIPS_FORMAT_UCHAR);
    const vips::VImage rgb = noise.bandjoin(noise).bandjoin(noise).copy(
        vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
    VipsBlob* blob = rgb.pngsave_buffer(vips::VImage::option()->set("compression", 1));
    std::string bytes(static_cast<const char*>(VIPS_AREA(blob)->data), VIPS_AREA(blob)->length);
    vips_area_unref(VIPS_AREA(blob));
    return bytes;
  }
};

TEST_P(ImageFormats, FitsTheBoxFromEveryOriginalFormat) {
  const Format format = GetParam();
  expect_size(render_as(image_bytes("snake.jpg"), 320, format, 3), 320, 240);
  expect_size(render_as(image_bytes("snake.png"), 160, format, 3), 160, 120);
  expect_size(render_as(image_bytes("snake.heic"), 320, format, 3), 320, 240);
  expect_size(render_as(image_bytes("sample.avif"), 160, format, 3), 23, 42);
  // GIF decodes with an alpha band: opaque everywhere, it is dropped.
  expect_size(render_as(image_bytes("snake.gif"), 320, format, 3), 320, 240);
  expect_size(render_as(image_bytes("snake.jpg"), std::nullopt, format, 3), 600, 450);
}

TEST_P(ImageFormats, KeepsTransparency) {
  for (const char* file : {"alpha.png", "alpha.webp"}) {
    const vips::VImage image = render_as(image_bytes(file), 160, GetParam(), 4);
    expect_size(image, 160, 120);
    // The transparent 80x60 corner of the 200x150 original, at 160/200 scale.
    EXPECT_LT(image.getpoint(8, 8)[3], 8) << file;
    EXPECT_GT(image.getpoint(120, 90)[3], 247) << file;
  }
}

TEST_P(ImageFormats, RotatesByExifAndTakesTheFirstFrame) {
  const Format format = GetParam();
  const vips::VImage rotated = render_as(image_bytes("orientation6.jpg"), 320, format, 3);
  expect_size(rotated, 320, 240);
  // The red marker sits at the displayed top-left corner.
  const auto marker = rotated.getpoint(5, 5);
  EXPECT_GT(marker[0], 180);
  EXPECT_LT(marker[1], 80);
  const vips::VImage frame = render_as(image_bytes("animated.gif"), std::nullopt, format, 3);
  expect_size(frame, 160, 120);
  const auto mean = mean_per_band(frame);
  EXPECT_NEAR(mean[0], 230, 15);
  EXPECT_NEAR(mean[1], 20, 15);
}

// libvips 8.14's webpsave ignores `strip` and copied the original's EXIF (GPS included): the
// metadata is removed from the image itself before any encoder sees it. (webpsave still writes
// a minimal EXIF of its own: orientation 1, resolution, the variant's dimensions.)
TEST_P(ImageFormats, StripsMetadata) {
  for (const std::optional<int> box : {std::optional<int>(320), std::optional<int>()}) {
    const Encoded encoded = render(image_bytes("metadata.jpg"),
                                   {.box = box, .format = GetParam(), .effort = 2}, Limits{});
    for (const char* leak : {"TestCam", "http://ns.adobe.com/xap", "Tester"})
      EXPECT_EQ(encoded.bytes.find(leak), std::string::npos) << leak;
    const vips::VImage decoded = decode(encoded.bytes);
    for (const char* field : {VIPS_META_XMP_NAME, VIPS_META_ICC_NAME, VIPS_META_IPTC_NAME})
      EXPECT_EQ(decoded.get_typeof(field), 0u) << field;
    if (GetParam() == Format::avif) {
      EXPECT_EQ(decoded.get_typeof(VIPS_META_EXIF_NAME), 0u);
    }
    gchar** fields = vips_image_get_fields(decoded.get_image());
    for (gchar** field = fields; *field != nullptr; ++field) {
      const std::string name(*field);
      for (const char* camera : {"Make", "Model", "GPS", "DateTime", "Software"})
        EXPECT_EQ(name.find(camera), std::string::npos) << name;
    }
    g_strfreev(fields);
  }
}

TEST_P(ImageFormats, QualityChangesTheSize) {
  const std::string photo = image_bytes("snake.jpg");
  const auto size = [&](int quality) {
    return render(photo, {.box = 320, .quality = quality, .format = GetParam(), .effort = 2},
                  Limits{})
        .bytes.size();
  };
  EXPECT_LT(size(20), size(90));
}

TEST_P(ImageFormats, SlowRenderIsStoppedByTheDeadline) {
  const std::string png = big_png();
  const Limits tight{.max_render_time = 1ms};
  const std::string message = bad_input_message(
      [&] { render(png, {.box = 320, .format = GetParam(), .effort = 0}, tight); });
  EXPECT_NE(message.find("too long"), std::string::npos) << message;
}

TEST_P(ImageFormats, BrokenOriginalsAreBadInput) {
  const std::string heic = image_bytes("snake.heic");
  const std::string jpeg = image_bytes("snake.jpg");
  for (const std::string& cut : {heic.substr(0, heic.size() / 2), jpeg.substr(0, jpeg.size() / 2)})
    EXPECT_FALSE(bad_input_message([&] {
                   render(cut, {.box = 160, .format = GetParam()}, Limits{});
                 }).empty());
}

TEST_P(ImageFormats, BadSettingsAreInternalErrors) {
  const std::string photo = image_bytes("snake.jpg");
  EXPECT_THROW(render(photo, {.box = 160, .quality = 0, .format = GetParam()}, Limits{}), Error);
  EXPECT_THROW(render(photo, {.box = 160, .format = GetParam(), .effort = -1}, Limits{}), Error);
  EXPECT_THROW(render(photo, {.box = 160, .format = GetParam(), .effort = 10}, Limits{}), Error);
}

INSTANTIATE_TEST_SUITE_P(WebpAndAvif, ImageFormats, ::testing::Values(Format::webp, Format::avif),
                         [](const auto& info) { return std::string(name(info.param)); });

class ImageFormatLimits : public test::VipsTest {};

TEST_F(ImageFormatLimits, AvifOutputOverThePixelLimitIsRefused) {
  const std::string photo = image_bytes("snake.jpg");
  const Limits limits{.max_avif_pixels = 320 * 240};
  EXPECT_FALSE(render(photo, {.box = 320, .format = Format::avif}, limits).bytes.empty());
  const std::string message =
      bad_input_message([&] { render(photo, {.box = 640, .format = Format::avif}, limits); });
  EXPECT_NE(message.find("600x450"), std::string::npos) << message;
  EXPECT_NE(message.find("AVIF"), std::string::npos) << message;
  // Not a bound for the other formats.
  EXPECT_FALSE(render(photo, {.box = 640, .format = Format::webp}, limits).bytes.empty());
}

TEST_F(ImageFormatLimits, WebpSideLimit) {
  // 20000x2: a valid PNG whose WebP would exceed the format's 16383-pixel side.
  const vips::VImage wide =
      vips::VImage::black(20000, 2, vips::VImage::option()->set("bands", 3))
          .copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  VipsBlob* blob = wide.pngsave_buffer();
  const std::string png(static_cast<const char*>(VIPS_AREA(blob)->data), VIPS_AREA(blob)->length);
  vips_area_unref(VIPS_AREA(blob));
  const std::string message =
      bad_input_message([&] { render(png, {.box = std::nullopt, .format = Format::webp}, {}); });
  EXPECT_NE(message.find("16383"), std::string::npos) << message;
  EXPECT_FALSE(render(png, {.box = 1200, .format = Format::webp}, {}).bytes.empty());
}

TEST_F(ImageFormatLimits, OnlyVariantFormatsAreEncoded) {
  const std::string photo = image_bytes("snake.jpg");
  for (const Format format : {Format::png, Format::gif, Format::heic})
    EXPECT_THROW(render(photo, {.box = 160, .format = format}, Limits{}), Error) << name(format);
}

TEST_F(ImageFormatLimits, JpegStillFlattensAndPassesThrough) {
  const Encoded flat = render(image_bytes("alpha.png"), {.box = 160}, Limits{});
  EXPECT_EQ(decode(flat.bytes).bands(), 3);
  EXPECT_TRUE(render(image_bytes("snake.jpg"), {.box = 800}, Limits{}).passthrough);
  // Never a passthrough for another format, even of a JPEG that fits.
  EXPECT_FALSE(
      render(image_bytes("snake.jpg"), {.box = 800, .format = Format::webp}, Limits{}).passthrough);
}

}  // namespace
}  // namespace imagecpp::image
