#include "api/image_json.hpp"

#include "core/base64.hpp"

namespace imagecpp::api {

std::string image_json(std::string_view id, const image::Image& image) {
  const std::string_view mime = image::mime_type(image.format);
  std::string body;
  body.reserve(40 + id.size() + mime.size() + base64::encoded_size(image.bytes->size()));
  body.append(R"({"id":")").append(id).append(R"(","image":"data:)").append(mime);
  body.append(";base64,");
  base64::encode_append(*image.bytes, body);
  body.append("\"}");
  return body;
}

}  // namespace imagecpp::api
