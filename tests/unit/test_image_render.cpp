#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "image/processor.hpp"
#include "test_image_support.hpp"
#include "test_images.hpp"

namespace imagecpp::image {
namespace {

using test::bad_input_message;
using test::decode;
using test::image_bytes;
using test::mean_per_band;

class ImageRender : public test::VipsTest {
 protected:
  // Renders a file and checks what every converted answer must be: a stripped sRGB JPEG.
  static vips::VImage render(const std::string& original, std::optional<int> box) {
    const Rendered rendered = render_jpeg(original, RenderOptions{.box = box}, test::kLimits);
    EXPECT_FALSE(rendered.passthrough);
    EXPECT_EQ(sniff(rendered.jpeg), Format::jpeg);
    vips::VImage image = decode(rendered.jpeg);
    EXPECT_EQ(image.bands(), 3);
    EXPECT_EQ(image.format(), VIPS_FORMAT_UCHAR);
    EXPECT_EQ(image.interpretation(), VIPS_INTERPRETATION_sRGB);
    for (const char* field : {VIPS_META_EXIF_NAME, VIPS_META_ICC_NAME, VIPS_META_XMP_NAME,
                              VIPS_META_IPTC_NAME, VIPS_META_ORIENTATION})
      EXPECT_EQ(image.get_typeof(field), 0u) << field;
    return image;
  }

  static vips::VImage render_file(const char* file, std::optional<int> box) {
    return render(image_bytes(file), box);
  }

  static bool passes_through(const char* file, std::optional<int> box) {
    return render_jpeg(image_bytes(file), RenderOptions{.box = box}, test::kLimits).passthrough;
  }

  static void expect_size(const vips::VImage& image, int width, int height) {
    EXPECT_EQ(image.width(), width);
    EXPECT_EQ(image.height(), height);
  }

  static void expect_colour(const std::vector<double>& actual, std::vector<double> expected,
                            double tolerance) {
    ASSERT_EQ(actual.size(), expected.size());
    for (std::size_t band = 0; band < actual.size(); ++band)
      EXPECT_NEAR(actual[band], expected[band], tolerance) << "band " << band;
  }
};

TEST_F(ImageRender, FitsTheBoxKeepingAspect) {
  expect_size(render_file("snake.jpg", 320), 320, 240);
  expect_size(render_file("snake.jpg", 160), 160, 120);
  expect_size(render_file("snake.png", 320), 320, 240);
  expect_size(render_file("orientation6.jpg", 160), 160, 120);
  expect_size(render_file("sample.png", 20), 11, 20);  // portrait: the height decides
}

TEST_F(ImageRender, NeverUpscales) {
  expect_size(render_file("snake.png", 1200), 600, 450);
  expect_size(render_file("snake.gif", 1024), 600, 450);
  expect_size(render_file("sample.webp", 160), 23, 42);
}

TEST_F(ImageRender, ConvertsAtFullSizeWithoutBox) {
  expect_size(render_file("snake.png", std::nullopt), 600, 450);
  expect_size(render_file("snake.heic", std::nullopt), 600, 450);
}

TEST_F(ImageRender, KeepsColours) {
  const std::vector<double> reference = mean_per_band(decode(image_bytes("snake.png")));
  expect_colour(mean_per_band(render_file("snake.png", 320)), reference, 3);
  expect_colour(mean_per_band(render_file("snake-progressive.jpg", 320)), reference, 4);
  expect_colour(mean_per_band(render_file("snake-palette.png", 320)), reference, 6);
  expect_colour(mean_per_band(render_file("snake.heic", 320)), reference, 6);
}

// Displayed upright: 600x450, the red marker block in the top-left corner.
TEST_F(ImageRender, AppliesExifOrientation) {
  const vips::VImage stored = decode(image_bytes("orientation6.jpg"));
  EXPECT_LT(stored.getpoint(5, 5)[0], 200);  // stored, the marker is elsewhere
  for (const std::optional<int> box : {std::optional<int>(), std::optional<int>(320)}) {
    const vips::VImage image = render_file("orientation6.jpg", box);
    expect_size(image, box ? 320 : 600, box ? 240 : 450);
    expect_colour(image.getpoint(3, 3), {255, 0, 0}, 30);
    EXPECT_LT(image.getpoint(image.width() - 4, 3)[1], 200);  // only one corner is red
  }
}

// No profile: libvips' built-in CMYK profile must give the photo's colours, not an inverse.
TEST_F(ImageRender, ConvertsCmykToSrgb) {
  const vips::VImage image = render_file("cmyk.jpg", 320);
  expect_size(image, 320, 240);
  expect_colour(mean_per_band(image), mean_per_band(render_file("snake.jpg", 320)), 12);
}

// The profile's colours, expressed in sRGB: the mean comes back to the untagged original's.
TEST_F(ImageRender, TransformsEmbeddedProfilesToSrgb) {
  const std::vector<double> srgb = mean_per_band(decode(image_bytes("snake.jpg")));
  const std::vector<double> raw_p3 = mean_per_band(decode(image_bytes("display-p3.jpg")));
  EXPECT_GT(std::abs(raw_p3[2] - srgb[2]), 8);  // the test is meaningful
  expect_colour(mean_per_band(render_file("display-p3.jpg", 320)), srgb, 2.5);
  EXPECT_FALSE(passes_through("display-p3.jpg", 1200));
}

TEST_F(ImageRender, ConvertsGrayToSrgb) {
  const vips::VImage image = render_file("snake-grayscale.jpg", 320);
  const std::vector<double> mean = mean_per_band(image);
  EXPECT_NEAR(mean[0], mean[1], 1);
  EXPECT_NEAR(mean[1], mean[2], 1);
}

TEST_F(ImageRender, ConvertsSixteenBitToEightBit) {
  const vips::VImage photo = decode(image_bytes("snake.png"));
  const vips::VImage deep =
      (photo.cast(VIPS_FORMAT_USHORT) * 257)
          .cast(VIPS_FORMAT_USHORT)
          .copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16));
  VipsBlob* blob = deep.pngsave_buffer(vips::VImage::option()->set("bitdepth", 16));
  const std::string png(static_cast<const char*>(VIPS_AREA(blob)->data), VIPS_AREA(blob)->length);
  vips_area_unref(VIPS_AREA(blob));
  ASSERT_EQ(decode(png).format(), VIPS_FORMAT_USHORT);
  expect_colour(mean_per_band(render(png, 320)), mean_per_band(photo), 3);
}

TEST_F(ImageRender, FlattensAlphaOnWhite) {
  const vips::VImage image = render_file("alpha.png", std::nullopt);
  expect_size(image, 200, 150);
  expect_colour(image.getpoint(10, 10), {255, 255, 255}, 2);  // transparent corner
  expect_colour(image.getpoint(70, 50), {255, 255, 255}, 2);
  const vips::VImage original = decode(image_bytes("alpha.png"));
  expect_colour(image.getpoint(150, 100),
                {original.getpoint(150, 100)[0], original.getpoint(150, 100)[1],
                 original.getpoint(150, 100)[2]},
                12);
}

TEST_F(ImageRender, TakesTheFirstFrameOfAnimations) {
  const vips::VImage red = render_file("animated.gif", std::nullopt);
  expect_size(red, 160, 120);
  expect_colour(mean_per_band(red), {230, 20, 20}, 12);
  expect_size(render_file("seq2gif.gif", std::nullopt), 480, 312);
  expect_size(render_file("seq2gif.gif", 160), 160, 104);
}

TEST_F(ImageRender, RendersEveryFormat) {
  expect_size(render_file("snake-progressive.jpg", 320), 320, 240);
  expect_size(render_file("snake.gif", 320), 320, 240);
  expect_size(render_file("sample.webp", 20), 11, 20);
  expect_size(render_file("sample.avif", 160), 23, 42);
  expect_size(render_file("snake.heic", 320), 320, 240);
}

TEST_F(ImageRender, StripsMetadata) {
  const vips::VImage image = render_file("metadata.jpg", 320);  // checks the fields are gone
  expect_size(image, 300, 225);
  const Rendered rendered = render_jpeg(image_bytes("metadata.jpg"), {.box = 320}, test::kLimits);
  EXPECT_EQ(rendered.jpeg.find("Exif"), std::string::npos);
  EXPECT_EQ(rendered.jpeg.find("TestCam"), std::string::npos);
  EXPECT_EQ(rendered.jpeg.find("ICC_PROFILE"), std::string::npos);
  EXPECT_EQ(rendered.jpeg.find("http://ns.adobe.com/xap"), std::string::npos);
}

TEST_F(ImageRender, PassesCleanJpegsThrough) {
  EXPECT_TRUE(passes_through("snake.jpg", std::nullopt));
  EXPECT_TRUE(passes_through("snake.jpg", 600));
  EXPECT_TRUE(passes_through("snake.jpg", 1200));
  EXPECT_TRUE(passes_through("snake-progressive.jpg", 640));
  EXPECT_TRUE(passes_through("snake-grayscale.jpg", 640));
  EXPECT_TRUE(passes_through("egret.jpg", 800));
  const Rendered rendered = render_jpeg(image_bytes("snake.jpg"), {.box = 800}, test::kLimits);
  EXPECT_TRUE(rendered.jpeg.empty());
}

TEST_F(ImageRender, ConvertsJpegsThatNeedAChange) {
  EXPECT_FALSE(passes_through("snake.jpg", 320));          // too large
  EXPECT_FALSE(passes_through("metadata.jpg", 320));       // EXIF (GPS), ICC, XMP
  EXPECT_FALSE(passes_through("orientation6.jpg", 1200));  // must be turned
  EXPECT_FALSE(passes_through("cmyk.jpg", 1200));          // not sRGB
  EXPECT_FALSE(passes_through("snake.png", 1200));         // not a JPEG
  const std::string photo = image_bytes("snake.jpg");
  const std::string commented =  // a comment libvips does not report is still metadata
      photo.substr(0, 2) + std::string("\xff\xfe\x00\x0bsecret!!!", 13) + photo.substr(2);
  const vips::VImage image = render(commented, 1200);
  expect_size(image, 600, 450);
}

TEST_F(ImageRender, AppliesQuality) {
  const std::string photo = image_bytes("snake.png");
  const std::size_t low =
      render_jpeg(photo, {.box = 320, .quality = 30}, test::kLimits).jpeg.size();
  const std::size_t high =
      render_jpeg(photo, {.box = 320, .quality = 95}, test::kLimits).jpeg.size();
  EXPECT_LT(low * 2, high);
}

TEST_F(ImageRender, EnforcesThePixelLimit) {
  EXPECT_EQ(bad_input_message([] {
              render_jpeg(image_bytes("snake.png"), {.box = 160},
                          Limits{.max_pixels = 1000, .max_render_time = test::kNoRenderDeadline});
            }),
            "image is 600x450, over the 1000 pixel limit");
}

TEST_F(ImageRender, RejectsTruncatedImages) {
  for (const char* file : {"snake.jpg", "snake-progressive.jpg", "snake.png", "snake.gif"}) {
    const std::string bytes = image_bytes(file);
    const std::string message = bad_input_message(
        [&] { render_jpeg(bytes.substr(0, bytes.size() / 2), {.box = 160}, test::kLimits); });
    EXPECT_EQ(message, "stored image cannot be decoded") << file;
  }
  // Cut short, a JPEG that would fit as it is is decoded rather than passed through, and fails.
  for (const char* file : {"snake.jpg", "snake-progressive.jpg"}) {
    const std::string bytes = image_bytes(file);
    for (const std::size_t keep : {bytes.size() / 2, bytes.size() - 1}) {
      const std::string message = bad_input_message(
          [&] { render_jpeg(bytes.substr(0, keep), {.box = 1200}, test::kLimits); });
      EXPECT_EQ(message, "stored image cannot be decoded") << file << " cut to " << keep;
    }
  }
  // libheif finds its boxes cut short while reading the header.
  const std::string heic = image_bytes("snake.heic");
  EXPECT_EQ(bad_input_message(
                [&] { render_jpeg(heic.substr(0, heic.size() / 2), {.box = 160}, test::kLimits); }),
            "image header is corrupt");
}

TEST_F(ImageRender, SurvivesCorruptedData) {
  std::mt19937 random(11);
  for (const char* file :
       {"snake.jpg", "alpha.png", "animated.gif", "sample.webp", "sample.avif"}) {
    const std::string original = image_bytes(file);
    for (int round = 0; round < 40; ++round) {
      std::string bytes = original;
      for (int flips = 1 + random() % 8; flips > 0; --flips)
        bytes[random() % bytes.size()] = static_cast<char>(random());
      try {
        render_jpeg(bytes, {.box = 160}, test::kLimits);
      } catch (const Error& error) {
        ASSERT_EQ(error.code(), ErrorCode::bad_input) << file << " round " << round;
      }
    }
  }
}

TEST_F(ImageRender, RejectsInvalidOptions) {
  const std::string photo = image_bytes("snake.png");
  EXPECT_THROW(render_jpeg(photo, {.box = 0}, test::kLimits), Error);
  EXPECT_THROW(render_jpeg(photo, {.box = 160, .quality = 0}, test::kLimits), Error);
  EXPECT_THROW(render_jpeg(photo, {.box = 160, .quality = 101}, test::kLimits), Error);
}

class ImageInit : public test::VipsTest {};

TEST_F(ImageInit, IsIdempotentAndConfiguresLibvips) {
  init_vips("again");
  EXPECT_EQ(vips_cache_get_max(), 0);
  EXPECT_EQ(vips_concurrency_get(), 1);
}

TEST_F(ImageInit, BlocksLoadersOutsideTheAcceptedFormats) {
  for (const char* file : {"sample.tif", "snake.ppm", "svg.svg", "sample.jxl"}) {
    const std::string bytes = image_bytes(file);
    EXPECT_THROW(vips::VImage::new_from_buffer(bytes.data(), bytes.size(), ""), vips::VError)
        << file;
  }
  vips_error_clear();
  const std::string jpeg = image_bytes("snake.jpg");
  EXPECT_NO_THROW(vips::VImage::new_from_buffer(jpeg.data(), jpeg.size(), ""));
}

}  // namespace
}  // namespace imagecpp::image
