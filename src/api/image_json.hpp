#pragma once
// The JSON form of an image answer: {"id":"...","image":"data:<mime>;base64,..."}.
#include <cstddef>
#include <string>
#include <string_view>

#include "image/image_service.hpp"

namespace imagecpp::api {

// The largest image whose JSON answer is encoded on the calling (network) thread; a larger one
// is encoded on a pool. MEASURED
inline constexpr std::size_t kInlineJsonBytes = std::size_t{256} << 10;

std::string image_json(std::string_view id, const image::Image& image);

}  // namespace imagecpp::api
