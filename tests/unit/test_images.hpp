#pragma once
// Real encoded images for the tests: the ones made once by tests/images/make.sh, then those of
// the Debian packages libsixel-examples (snake.*: a 600x450 photo in many formats, egret.jpg,
// seq2gif.gif) and libsdl2-image-tests (sample.*: 23x42 in avif, webp, jpg, png, ...), which
// the test setup installs. A missing image fails the test loudly instead of skipping it.
#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>

namespace imagecpp::test {

inline constexpr std::array<std::string_view, 3> kImageDirs{
    IMAGECPP_TEST_IMAGES,
    "/usr/share/doc/libsixel-examples/examples/images",
    "/usr/libexec/installed-tests/SDL2_image",
};

inline std::string image_bytes(std::string_view name) {
  for (const std::string_view dir : kImageDirs) {
    const std::filesystem::path path = std::filesystem::path(dir) / name;
    std::ifstream file(path, std::ios::binary);
    if (file) return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  }
  throw std::runtime_error("test image " + std::string(name) +
                           " not found: install libsixel-examples and libsdl2-image-tests");
}

}  // namespace imagecpp::test
