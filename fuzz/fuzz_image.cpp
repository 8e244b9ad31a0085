// Arbitrary bytes through the image probe and, when the header is accepted, the variant path.
// The pixel limit is kept small so that each input stays fast; the decoders are libvips'.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.hpp"
#include "image/processor.hpp"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** argv) {
  imagecpp::image::init_vips((*argv)[0]);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const imagecpp::image::Limits limits{.max_pixels = 1'000'000};
  try {
    (void)imagecpp::image::inspect(input, limits);
    (void)imagecpp::image::render_jpeg(input, {.box = 64, .quality = 80}, limits);
  } catch (const imagecpp::Error&) {
  }
  return 0;
}
