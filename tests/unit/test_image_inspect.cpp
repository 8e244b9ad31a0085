#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>

#include "image/header_probe.hpp"
#include "image/processor.hpp"
#include "test_image_support.hpp"
#include "test_images.hpp"
#include "wall_time.hpp"

namespace imagecpp::image {
namespace {

using test::bad_input_message;
using test::image_bytes;

std::string be16(unsigned value) {
  return {static_cast<char>(value >> 8), static_cast<char>(value & 0xFF)};
}
std::string be32(unsigned value) {
  return be16(value >> 16) + be16(value & 0xFFFF);
}
std::string le16(unsigned value) {
  return {static_cast<char>(value & 0xFF), static_cast<char>(value >> 8)};
}
std::string le24(unsigned value) {
  return le16(value & 0xFFFF) + static_cast<char>(value >> 16);
}

// Headers that declare a huge canvas in a few bytes, with (almost) nothing behind them.
std::string gif_header(unsigned screen_w, unsigned screen_h, unsigned frame_w, unsigned frame_h) {
  return "GIF89a" + le16(screen_w) + le16(screen_h) + std::string("\0\0\0", 3) +
         std::string("!\xf9\x04\x00\x00\x00\x00\x00", 8) +  // a graphic control extension
         "," + le16(0) + le16(0) + le16(frame_w) + le16(frame_h) + std::string("\0\x02\x00;", 4);
}
std::string png_header(unsigned width, unsigned height) {
  return std::string("\x89PNG\r\n\x1a\n", 8) + be32(13) + "IHDR" + be32(width) + be32(height) +
         std::string("\x08\x02\0\0\0", 5) + be32(0) + be32(0) + "IEND" + be32(0xAE426082);
}
std::string jpeg_header(unsigned width, unsigned height) {
  return std::string("\xff\xd8\xff\xc0\x00\x11\x08", 7) + be16(height) + be16(width) +
         std::string("\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xd9", 12);
}
std::string webp_vp8x_header(unsigned width, unsigned height) {
  return std::string("RIFF\x16\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0", 24) + le24(width - 1) +
         le24(height - 1);
}

class ImageInspect : public test::VipsTest {};

struct Known {
  const char* file;
  Format format;
  std::uint32_t width;
  std::uint32_t height;
};

// Sizes as `vipsheader` reports them (stored orientation, first frame).
TEST_F(ImageInspect, ReadsDimensionsOfEveryFormat) {
  const Known known[] = {
      {"snake.jpg", Format::jpeg, 600, 450},
      {"snake-progressive.jpg", Format::jpeg, 600, 450},
      {"snake-grayscale.jpg", Format::jpeg, 600, 450},
      {"egret.jpg", Format::jpeg, 600, 450},
      {"cmyk.jpg", Format::jpeg, 600, 450},
      {"orientation6.jpg", Format::jpeg, 450, 600},
      {"metadata.jpg", Format::jpeg, 300, 225},
      {"sample.jpg", Format::jpeg, 23, 42},
      {"snake.png", Format::png, 600, 450},
      {"snake-palette.png", Format::png, 600, 450},
      {"alpha.png", Format::png, 200, 150},
      {"sample.png", Format::png, 23, 42},
      {"snake.gif", Format::gif, 600, 450},
      {"seq2gif.gif", Format::gif, 480, 312},
      {"animated.gif", Format::gif, 160, 120},
      {"palette.gif", Format::gif, 23, 42},
      {"sample.webp", Format::webp, 23, 42},
      {"sample.avif", Format::avif, 23, 42},
      {"snake.heic", Format::heic, 600, 450},
  };
  for (const Known& image : known) {
    const ImageInfo info = inspect(image_bytes(image.file), Limits{});
    EXPECT_EQ(info.format, image.format) << image.file;
    EXPECT_EQ(info.dimensions.width, image.width) << image.file;
    EXPECT_EQ(info.dimensions.height, image.height) << image.file;
  }
}

// libvips 8.14 always writes the extended layout (VP8X); the simple one is that file's image
// chunk alone in a RIFF container, as the specification lays it out.
std::string simple_webp(const std::string& extended) {
  constexpr std::size_t kImageChunk = 12 + 8 + 10;  // RIFF header, VP8X chunk
  const std::uint32_t size = static_cast<std::uint8_t>(extended[kImageChunk + 4]) |
                             static_cast<std::uint8_t>(extended[kImageChunk + 5]) << 8 |
                             static_cast<std::uint8_t>(extended[kImageChunk + 6]) << 16;
  const std::string chunk = extended.substr(kImageChunk, 8 + size + (size & 1));
  return "RIFF" + le24(static_cast<unsigned>(4 + chunk.size())) + '\0' + "WEBP" + chunk;
}

std::string encode_webp(const std::string& original, bool lossless) {
  const vips::VImage image = test::decode(original);
  VipsBlob* blob = image.webpsave_buffer(vips::VImage::option()->set("lossless", lossless));
  std::string webp(static_cast<const char*>(VIPS_AREA(blob)->data), VIPS_AREA(blob)->length);
  vips_area_unref(VIPS_AREA(blob));
  return webp;
}

// Lossy (VP8), lossless (VP8L) and extended (VP8X) WebP, encoded by libvips from real photos.
TEST_F(ImageInspect, ReadsEveryWebpFlavour) {
  const std::string photo = image_bytes("snake.jpg");
  const struct {
    std::string bytes;
    std::string_view chunk;
    std::uint32_t width, height;
  } cases[] = {{simple_webp(encode_webp(photo, false)), "VP8 ", 600, 450},
               {simple_webp(encode_webp(photo, true)), "VP8L", 600, 450},
               {encode_webp(image_bytes("alpha.png"), false), "VP8X", 200, 150}};
  for (const auto& webp : cases) {
    ASSERT_EQ(webp.bytes.substr(12, 4), webp.chunk);
    const ImageInfo info = inspect(webp.bytes, Limits{});
    EXPECT_EQ(info.format, Format::webp);
    EXPECT_EQ(info.dimensions.width, webp.width) << webp.chunk;
    EXPECT_EQ(info.dimensions.height, webp.height) << webp.chunk;
  }
}

TEST_F(ImageInspect, RejectsHugeHeadersBeforeDecoding) {
  const std::string bombs[] = {gif_header(30000, 30000, 30000, 30000),
                               gif_header(10, 10, 30000, 30000),  // the frame grows the canvas
                               png_header(30000, 30000), jpeg_header(30000, 30000),
                               webp_vp8x_header(30000, 30000)};
  for (const std::string& bomb : bombs) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(bad_input_message([&] { inspect(bomb, Limits{}); }),
              "image is 30000x30000, over the 50000000 pixel limit")
        << bomb.size() << " bytes";
    EXPECT_WALL_TIME_BELOW(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  }
}

// The 78-byte GIF from the testbed notes that makes a plain libvips load allocate over 2 GB.
TEST_F(ImageInspect, RejectsTheGifBomb) {
  std::string bomb = gif_header(65312, 8192, 1, 1);
  bomb.resize(78, '\0');
  EXPECT_EQ(bad_input_message([&] { inspect(bomb, Limits{}); }),
            "image is 65312x8192, over the 50000000 pixel limit");
}

TEST_F(ImageInspect, AppliesTheConfiguredLimit) {
  const std::string photo = image_bytes("snake.jpg");
  EXPECT_EQ(inspect(photo, Limits{.max_pixels = 600 * 450}).dimensions.pixels(), 600u * 450u);
  EXPECT_EQ(bad_input_message([&] { inspect(photo, Limits{.max_pixels = 600 * 450 - 1}); }),
            "image is 600x450, over the 269999 pixel limit");
  // HEIF sizes come from libvips' header read, checked the same way.
  EXPECT_EQ(
      bad_input_message([&] { inspect(image_bytes("snake.heic"), Limits{.max_pixels = 1000}); }),
      "image is 600x450, over the 1000 pixel limit");
}

TEST_F(ImageInspect, RejectsZeroSides) {
  for (const std::string& header : {gif_header(0, 0, 0, 0), png_header(0, 10), jpeg_header(10, 0)})
    EXPECT_EQ(bad_input_message([&] { inspect(header, Limits{}); }), "image header is corrupt");
}

TEST_F(ImageInspect, RejectsUnsupportedFormats) {
  for (const char* file : {"sample.tif", "snake.bmp", "sample.jxl", "svg.svg", "snake.ppm"})
    EXPECT_EQ(bad_input_message([&] { inspect(image_bytes(file), Limits{}); }),
              "not a supported image (jpeg, png, webp, gif, avif, heic)")
        << file;
  EXPECT_EQ(bad_input_message([] { inspect("", Limits{}); }),
            "not a supported image (jpeg, png, webp, gif, avif, heic)");
}

// Headers that pass the probes (plausible sizes) but that libvips cannot read.
TEST_F(ImageInspect, RejectsGarbageBehindValidMagic) {
  std::string bad_crc = png_header(10, 10);
  bad_crc[29] = '\x01';
  const std::string garbage(200, '\x5a');
  const std::string cases[] = {
      bad_crc,
      jpeg_header(10, 10),  // a frame header, but no tables and no scan
      gif_header(10, 10, 10, 10).substr(0, 30) + garbage,
      webp_vp8x_header(10, 10) + garbage,
      std::string("\0\0\0\x14"
                  "ftypavif\0\0\0\0mif1",
                  20) +
          garbage,
      std::string("\0\0\0\x14"
                  "ftypheic\0\0\0\0mif1",
                  20) +
          garbage,
      std::string("\xff\xd8\xff", 3) + garbage,
      std::string("\x89PNG\r\n\x1a\n", 8) + garbage,
  };
  for (const std::string& bytes : cases) {
    const std::string message = bad_input_message([&] { inspect(bytes, Limits{}); });
    EXPECT_EQ(message, "image header is corrupt") << bytes.size() << " bytes";
  }
}

// Every prefix of every header: a clean answer or a bad_input, never anything else.
TEST_F(ImageInspect, SurvivesEveryTruncation) {
  for (const char* file : {"snake.jpg", "metadata.jpg", "alpha.png", "animated.gif", "sample.webp",
                           "sample.avif", "snake.heic"}) {
    const std::string bytes = image_bytes(file);
    for (std::size_t length = 0; length < std::min<std::size_t>(bytes.size(), 1200); ++length) {
      try {
        inspect(std::string_view(bytes).substr(0, length), Limits{});
      } catch (const Error& error) {
        ASSERT_EQ(error.code(), ErrorCode::bad_input) << file << " cut at " << length;
      }
    }
  }
}

TEST_F(ImageInspect, SurvivesMutatedHeaders) {
  std::mt19937 random(7);
  for (const char* file :
       {"snake.jpg", "metadata.jpg", "alpha.png", "animated.gif", "sample.webp", "sample.avif"}) {
    const std::string original = image_bytes(file);
    for (int round = 0; round < 300; ++round) {
      std::string bytes = original.substr(0, std::min<std::size_t>(original.size(), 4096));
      for (int flips = 1 + random() % 4; flips > 0; --flips)
        bytes[random() % std::min<std::size_t>(bytes.size(), 600)] = static_cast<char>(random());
      try {
        inspect(bytes, Limits{});
      } catch (const Error& error) {
        ASSERT_EQ(error.code(), ErrorCode::bad_input) << file << " round " << round;
      }
    }
  }
}

TEST(ImageProbe, JpegPlainnessFollowsSegmentsAndCoding) {
  using detail::probe_jpeg;
  EXPECT_TRUE(probe_jpeg(image_bytes("snake.jpg"))->plain);
  EXPECT_TRUE(probe_jpeg(image_bytes("snake-progressive.jpg"))->plain);
  EXPECT_TRUE(probe_jpeg(image_bytes("snake-grayscale.jpg"))->plain);
  EXPECT_FALSE(probe_jpeg(image_bytes("metadata.jpg"))->plain);
  EXPECT_FALSE(probe_jpeg(image_bytes("orientation6.jpg"))->plain);

  const std::string photo = image_bytes("snake.jpg");
  const std::string with_comment =
      photo.substr(0, 2) + std::string("\xff\xfe\x00\x07hello", 9) + photo.substr(2);
  EXPECT_FALSE(probe_jpeg(with_comment)->plain);

  std::string arithmetic = photo;  // SOF9: decodable by libjpeg-turbo, not by every browser
  const std::size_t sof = arithmetic.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  arithmetic[sof + 1] = '\xc9';
  EXPECT_FALSE(probe_jpeg(arithmetic)->plain);
  EXPECT_EQ(probe_jpeg(arithmetic)->dimensions.width, 600u);

  const std::size_t scan = photo.find("\xff\xda");
  ASSERT_NE(scan, std::string::npos);
  EXPECT_TRUE(probe_jpeg(photo.substr(0, scan + 2))->plain);
  EXPECT_FALSE(probe_jpeg(photo.substr(0, scan))->plain);  // cut before the scan
}

TEST(ImageProbe, HeadersWithoutAnImageAreRejected) {
  using namespace detail;
  EXPECT_EQ(probe_jpeg(std::string("\xff\xd8\xff\xd9", 4)), std::nullopt);
  EXPECT_EQ(probe_gif(std::string("GIF89a\x01\0\x01\0\0\0\0;", 14)), std::nullopt);
  EXPECT_EQ(probe_png(png_header(10, 10).substr(0, 23)), std::nullopt);
  EXPECT_EQ(probe_png(png_header(0x80000000u, 1)), std::nullopt);
  EXPECT_EQ(
      probe_webp(std::string("RIFF\0\0\0\0WEBPVP8 \0\0\0\0\x01\0\0\x9d\x01\x2a\x01\0\x01\0", 30)),
      std::nullopt);  // not a key frame
}

}  // namespace
}  // namespace imagecpp::image
