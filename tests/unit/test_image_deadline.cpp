// The per-image processing time limit: a render that runs past it is stopped by libvips' kill
// flag and reported as a client error, and the worker is free again.
#include <gtest/gtest.h>

#include <chrono>

#include "test_image_support.hpp"

namespace imagecpp::image {
namespace {

using namespace std::chrono_literals;

class ImageDeadline : public test::VipsTest {
 protected:
  // A 4000x3000 PNG: no shrink-on-load for PNG, so a variant means a full, slow decode.
  static std::string big_png() {
    const vips::VImage noise = vips::VImage::gaussnoise(4000, 3000).cast(VIPS_FORMAT_UCHAR);
    const vips::VImage rgb = noise.bandjoin(noise).bandjoin(noise).copy(
        vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
    VipsBlob* blob = rgb.pngsave_buffer(vips::VImage::option()->set("compression", 1));
    const VipsArea* area = VIPS_AREA(blob);
    std::string bytes(static_cast<const char*>(area->data), area->length);
    vips_area_unref(VIPS_AREA(blob));
    return bytes;
  }
};

TEST_F(ImageDeadline, SlowRenderIsStoppedAndReported) {
  const std::string png = big_png();
  const Limits tight{.max_pixels = 50'000'000, .max_render_time = 1ms};
  const std::string message =
      test::bad_input_message([&] { render_jpeg(png, {.box = 320, .quality = 80}, tight); });
  EXPECT_NE(message.find("too long"), std::string::npos) << message;
  // The same render without the limit completes: the error above came from the deadline. Any
  // machine takes longer than 1 ms for this image, so load cannot change the verdict.
  const Rendered ok = render_jpeg(png, {.box = 320, .quality = 80}, test::kLimits);
  EXPECT_FALSE(ok.jpeg.empty());
}

}  // namespace
}  // namespace imagecpp::image
