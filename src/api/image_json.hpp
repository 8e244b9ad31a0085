#pragma once
// The JSON form of an image answer: {"id":"...","image":"data:<mime>;base64,..."}.
#include <cstddef>
#include <string>
#include <string_view>

#include "image/image_service.hpp"

namespace imagecpp::api {

// The largest image whose JSON answer is encoded on the calling (network) thread; a larger one
// is encoded on a pool. Measured with bench/offthread_reference (Release): the answer of a
// 128 KiB image costs 62 us, of 256 KiB 124 us, of 1 MiB about 1 ms, of 5 MiB 10 ms and more; a
// hand-off to a pool and back 3-6 us (17 us on a machine at load 40). Above 128 KiB the
// encoding is 20-40 hand-offs (7 at the loaded machine's 17 us); a thumbnail (10-30 KB) stays
// far below and never takes the hop.
inline constexpr std::size_t kInlineJsonBytes = std::size_t{128} << 10;

std::string image_json(std::string_view id, const image::Image& image);

}  // namespace imagecpp::api
