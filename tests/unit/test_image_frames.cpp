// The frame limit: frames counted from the container before libvips opens the bytes (GIF image
// descriptors, animated WebP ANMF chunks, APNG acTL), then libvips' n-pages (the only count for
// HEIF/AVIF). Every image is built in memory; each limit is tested at its edge.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>
#include <vips/vips8>

#include "image/header_probe.hpp"
#include "image/processor.hpp"
#include "test_image_support.hpp"
#include "wall_time.hpp"

namespace imagecpp::image {
namespace {

using test::bad_input_message;

std::string le16(unsigned value) {
  return {static_cast<char>(value & 0xFF), static_cast<char>((value >> 8) & 0xFF)};
}
std::string le24(unsigned value) {
  return le16(value & 0xFFFF) + static_cast<char>((value >> 16) & 0xFF);
}
std::string le32(std::uint32_t value) {
  return le16(value & 0xFFFF) + le16(value >> 16);
}
std::string be32(std::uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>((value >> 16) & 0xFF),
          static_cast<char>((value >> 8) & 0xFF), static_cast<char>(value & 0xFF)};
}

// ---------------------------------------------------------------------------------------------
// GIF

constexpr std::string_view kGifScreen{"GIF89a\x01\x00\x01\x00\x80\x00\x00", 13};  // 1x1, 2 colours
constexpr std::string_view kGifColours{"\x00\x00\x00\xff\xff\xff", 6};
constexpr std::string_view kGifControl{"!\xf9\x04\x04\x0a\x00\x00\x00", 8};  // 0.1 s, keep
// A 1x1 frame at 0,0 without a local colour table, then its LZW data: minimum code size 2, one
// 2-byte sub-block (clear, pixel 0, end), the terminator.
constexpr std::string_view kGifFrame{",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00",
                                     15};

// A real animated GIF of `frames` 1x1 frames, each after a graphic control extension.
std::string animated_gif(std::size_t frames) {
  std::string gif = std::string(kGifScreen) + std::string(kGifColours);
  for (std::size_t i = 0; i < frames; ++i) gif += std::string(kGifControl) + std::string(kGifFrame);
  return gif + ';';
}

// ---------------------------------------------------------------------------------------------
// WebP

std::string riff_chunk(std::string_view fourcc, const std::string& payload) {
  std::string chunk =
      std::string(fourcc) + le32(static_cast<std::uint32_t>(payload.size())) + payload;
  if (payload.size() % 2 == 1) chunk += '\0';
  return chunk;
}

// An extended WebP, 16x16, with the animation flag and the given chunks after VP8X.
std::string vp8x_file(const std::string& chunks, std::uint32_t riff_size_delta = 0) {
  const std::string body =
      "WEBP" + riff_chunk("VP8X", std::string("\x02\0\0\0", 4) + le24(15) + le24(15)) + chunks;
  return "RIFF" + le32(static_cast<std::uint32_t>(body.size()) - riff_size_delta) + body;
}

std::string blob_string(VipsBlob* blob) {
  std::string bytes(static_cast<const char*>(VIPS_AREA(blob)->data), VIPS_AREA(blob)->length);
  vips_area_unref(VIPS_AREA(blob));
  return bytes;
}

// `frames` pages of 16x16, each another colour (encoders merge identical frames).
vips::VImage pages(int frames) {
  std::vector<vips::VImage> page_list;
  for (int i = 0; i < frames; ++i) {
    const double shade = 40.0 * i;
    page_list.push_back(vips::VImage::black(16, 16, vips::VImage::option()->set("bands", 3))
                            .new_from_image(std::vector<double>{shade, 255.0 - shade, 90.0})
                            .cast(VIPS_FORMAT_UCHAR));
  }
  vips::VImage strip =
      vips::VImage::arrayjoin(page_list, vips::VImage::option()->set("across", 1))
          .copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  strip.set(VIPS_META_PAGE_HEIGHT, 16);
  return strip;
}

std::string animated_webp(int frames) {
  return blob_string(pages(frames).webpsave_buffer());
}

std::string multi_image_heic(int images) {
  return blob_string(pages(images).heifsave_buffer(
      vips::VImage::option()->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_HEVC)));
}

// ---------------------------------------------------------------------------------------------
// APNG

std::uint32_t crc32(std::string_view bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (const char c : bytes) {
    crc ^= static_cast<std::uint8_t>(c);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

std::string png_chunk(std::string_view type, const std::string& data) {
  const std::string typed = std::string(type) + data;
  return be32(static_cast<std::uint32_t>(data.size())) + typed + be32(crc32(typed));
}

// A real 16x16 PNG with an acTL chunk declaring `frames` right after IHDR (libvips shows the
// default image; browsers would play the animation).
std::string apng(std::uint32_t frames) {
  const std::string png = blob_string(pages(1).pngsave_buffer());
  constexpr std::size_t kAfterIhdr = 8 + 12 + 13;
  return png.substr(0, kAfterIhdr) + png_chunk("acTL", be32(frames) + be32(0)) +
         png.substr(kAfterIhdr);
}

class ImageFrames : public test::VipsTest {};

std::string over(std::uint64_t frames, std::uint64_t limit) {
  return "image has " + std::to_string(frames) + " frames, over the " + std::to_string(limit) +
         " frame limit";
}

TEST_F(ImageFrames, DefaultLimitIs500) {
  EXPECT_EQ(Limits{}.max_frames, 500u);
  EXPECT_EQ(inspect(animated_gif(500), Limits{}).format, Format::gif);
  EXPECT_EQ(bad_input_message([] { inspect(animated_gif(501), Limits{}); }), over(501, 500));
}

// Exactly at the limit passes both counts (the container's and libvips'); one over fails.
TEST_F(ImageFrames, EveryFormatAtTheEdge) {
  const struct {
    const char* name;
    std::string bytes;
    Format format;
  } cases[] = {{"gif", animated_gif(3), Format::gif},
               {"webp", animated_webp(3), Format::webp},
               {"apng", apng(3), Format::png},
               {"heic", multi_image_heic(3), Format::heic}};
  for (const auto& image : cases) {
    SCOPED_TRACE(image.name);
    const ImageInfo info = inspect(image.bytes, Limits{.max_frames = 3});
    EXPECT_EQ(info.format, image.format);
    EXPECT_EQ(info.dimensions.width, image.format == Format::gif ? 1u : 16u);
    EXPECT_EQ(bad_input_message([&] { inspect(image.bytes, Limits{.max_frames = 2}); }),
              over(3, 2));
  }
}

// render_jpeg() reads the header the same way: a stored image over a lowered limit is refused.
TEST_F(ImageFrames, RenderChecksTheLimitToo) {
  const std::string gif = animated_gif(3);
  EXPECT_FALSE(render_jpeg(gif, {.box = 160},
                           Limits{.max_frames = 3, .max_render_time = test::kNoRenderDeadline})
                   .jpeg.empty());
  EXPECT_EQ(bad_input_message([&] {
              render_jpeg(gif, {.box = 160},
                          Limits{.max_frames = 2, .max_render_time = test::kNoRenderDeadline});
            }),
            over(3, 2));
}

TEST_F(ImageFrames, StillImagesAreOneFrame) {
  const std::string png = blob_string(pages(1).pngsave_buffer());
  const std::string jpeg = blob_string(pages(1).jpegsave_buffer());
  const std::string webp = blob_string(pages(1).webpsave_buffer());
  for (const std::string& still : {png, jpeg, webp, animated_gif(1)})
    EXPECT_EQ(inspect(still, Limits{.max_frames = 1}).dimensions.height,
              still[0] == 'G' ? 1u : 16u);
}

// Small files that declare many frames are refused from the container alone, before libvips
// indexes anything.
TEST_F(ImageFrames, BombsAreRefusedFromTheContainer) {
  std::string anmf_chunks;
  for (int i = 0; i < 100'000; ++i) anmf_chunks += riff_chunk("ANMF", "");
  const struct {
    const char* name;
    std::string bytes;
    std::uint64_t frames;
  } bombs[] = {{"gif", animated_gif(100'000), 100'000},
               {"gif without control blocks",
                std::string(kGifScreen) + std::string(kGifColours) +
                    [] {
                      std::string frames;
                      for (int i = 0; i < 100'000; ++i) frames += kGifFrame;
                      return frames;
                    }(),
                100'000},
               {"webp", vp8x_file(anmf_chunks), 100'000},
               {"apng", apng(0xFFFFFFFFu), 0xFFFFFFFFu}};
  for (const auto& bomb : bombs) {
    SCOPED_TRACE(bomb.name);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(bad_input_message([&] { inspect(bomb.bytes, Limits{}); }), over(bomb.frames, 500));
    EXPECT_WALL_TIME_BELOW(std::chrono::steady_clock::now() - start,
                           std::chrono::milliseconds(500));
  }
}

TEST(ImageFrameProbe, GifCountsEveryImageDescriptor) {
  using detail::probe_gif;
  const std::string gif = animated_gif(4);
  EXPECT_EQ(probe_gif(gif)->frames, 4u);
  EXPECT_EQ(probe_gif(gif.substr(0, gif.size() - 1))->frames, 4u);  // no trailer
  // Cut inside the third frame's data: the frames started count.
  const std::size_t third = kGifScreen.size() + kGifColours.size() + 2 * 23 + 8;
  EXPECT_EQ(probe_gif(gif.substr(0, third + 12))->frames, 3u);
  EXPECT_EQ(probe_gif(gif.substr(0, third + 9))->frames, 3u);  // descriptor without its flags
  EXPECT_EQ(probe_gif(gif.substr(0, third + 8))->frames, 2u);  // too short to have a size
  // Anything that is not a block ends the walk, as it ends a decoder's.
  EXPECT_EQ(probe_gif(gif.substr(0, third) + "garbage" + std::string(kGifFrame))->frames, 2u);

  // Local colour tables and comment extensions between frames are skipped by their sizes.
  std::string local = std::string(kGifScreen) + std::string(kGifColours);
  for (int i = 0; i < 3; ++i) {
    local += std::string("!\xfe\x05hello\x00", 9);                       // comment extension
    local += std::string(",\x00\x00\x00\x00\x01\x00\x01\x00\x81", 10) +  // 4-colour local table
             std::string(12, '\x2c') +  // table bytes that look like image descriptors
             std::string("\x02\x02\x44\x01\x00", 5);
  }
  EXPECT_EQ(probe_gif(local + ";")->frames, 3u);
}

TEST(ImageFrameProbe, WebpCountsTopLevelAnmfChunks) {
  using detail::probe_webp;
  const std::string anim = riff_chunk("ANIM", std::string(6, '\0'));
  const std::string frame = riff_chunk("ANMF", std::string(17, 'A'));  // odd size: padded
  EXPECT_EQ(probe_webp(vp8x_file(anim + frame + frame + frame))->frames, 3u);
  // An ANMF inside another chunk's payload is not a frame.
  EXPECT_EQ(probe_webp(vp8x_file(anim + riff_chunk("XMP ", frame + frame) + frame))->frames, 1u);
  // Chunks past the RIFF size are not part of the file.
  EXPECT_EQ(
      probe_webp(vp8x_file(anim + frame + frame, static_cast<std::uint32_t>(frame.size())))->frames,
      1u);
  // A chunk whose size runs past the end still counts; the walk stops there.
  EXPECT_EQ(probe_webp(vp8x_file(anim + frame + "ANMF" + le32(0xFFFFFFF0u) + frame))->frames, 2u);
  EXPECT_EQ(probe_webp(vp8x_file(""))->frames, 1u);  // no frame at all: still one canvas
}

TEST(ImageFrameProbe, PngReadsActlBeforeIdatOnly) {
  using detail::probe_png;
  EXPECT_EQ(probe_png(apng(7))->frames, 7u);
  EXPECT_EQ(probe_png(apng(0))->frames, 1u);  // invalid count: a still image
  const std::string still = blob_string(vips::VImage::black(4, 4).pngsave_buffer());
  EXPECT_EQ(probe_png(still)->frames, 1u);
  // After IDAT, acTL means nothing (the specification puts it before).
  const std::size_t iend = still.size() - 12;
  EXPECT_EQ(
      probe_png(still.substr(0, iend) + png_chunk("acTL", be32(9) + be32(0)) + still.substr(iend))
          ->frames,
      1u);
  // A chunk length past the specification's bound ends the walk.
  const std::string bad_length = still.substr(0, 33) + be32(0x80000000u) + "acTL" + be32(9);
  EXPECT_EQ(probe_png(bad_length)->frames, 1u);
}

}  // namespace
}  // namespace imagecpp::image
