#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <string>

#include "image/processor.hpp"
#include "test_image_support.hpp"
#include "test_images.hpp"

namespace imagecpp::image {
namespace {

constexpr int kWidth = 6000;
constexpr int kHeight = 4000;
constexpr double kFullDecodeBytes = double{kWidth} * kHeight * 3;  // 72 MB

// A 24-megapixel JPEG from the real photo: nearest-neighbour zoom streams line by line, so
// making it costs little libvips memory of its own.
std::string make_large_jpeg() {
  const vips::VImage photo = test::decode(test::image_bytes("snake.jpg"));
  const vips::VImage large = photo.zoom(10, 10).crop(0, 0, kWidth, kHeight);
  VipsBlob* blob = large.jpegsave_buffer(vips::VImage::option()->set("Q", 85));
  std::string jpeg(static_cast<const char*>(VIPS_AREA(blob)->data), VIPS_AREA(blob)->length);
  vips_area_unref(VIPS_AREA(blob));
  return jpeg;
}

struct Cost {
  double peak_bytes;  // an upper bound: libvips' high-water mark minus what was live before
  double seconds;
};

// libvips cannot reset its high-water mark, so this bounds the peak from above; the bound is
// exact when the work raises the mark, as a first large decode in the process does.
template <class Work>
Cost measure(Work&& work) {
  const std::size_t live_before = vips_tracked_get_mem();
  const auto start = std::chrono::steady_clock::now();
  work();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return {static_cast<double>(vips_tracked_get_mem_highwater() - live_before), elapsed.count()};
}

class ImageShrinkOnLoad : public test::VipsTest {};

TEST_F(ImageShrinkOnLoad, VariantOfA24MegapixelJpegNeverDecodesItFully) {
  const std::string jpeg = make_large_jpeg();
  ASSERT_EQ(inspect(jpeg, Limits{}).dimensions.pixels(), std::uint64_t{kWidth} * kHeight);

  Rendered rendered;
  const Cost variant = measure([&] { rendered = render_jpeg(jpeg, {.box = 320}, test::kLimits); });
  const vips::VImage image = test::decode(rendered.jpeg);
  EXPECT_EQ(image.width(), 320);
  EXPECT_EQ(image.height(), 213);
  EXPECT_LT(variant.peak_bytes, kFullDecodeBytes / 4);

  // The comparison: a plain load that must decode every pixel (random access keeps them all).
  const Cost full = measure([&] {
    const vips::VImage all = vips::VImage::new_from_buffer(jpeg.data(), jpeg.size(), "");
    EXPECT_GT(all.avg(), 0);
  });
  EXPECT_GT(full.peak_bytes, kFullDecodeBytes * 0.9);

  std::cout << "[ shrink-on-load ] " << jpeg.size() << " byte " << kWidth << "x" << kHeight
            << " JPEG; 320 variant: peak " << variant.peak_bytes / 1e6 << " MB, "
            << variant.seconds * 1e3 << " ms; full decode: peak " << full.peak_bytes / 1e6
            << " MB, " << full.seconds * 1e3 << " ms\n";
}

}  // namespace
}  // namespace imagecpp::image
