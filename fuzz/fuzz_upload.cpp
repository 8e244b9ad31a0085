// The upload edge: a JSON body {"image": ...} with a data URL or bare base64 inside. Any input
// must either decode or throw imagecpp::Error; nothing else (no crash, no other exception).
#include <cstddef>
#include <cstdint>
#include <string>

#include "api/image_payload.hpp"
#include "core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  try {
    std::string body = input;
    (void)imagecpp::api::decode_json_upload(body);
  } catch (const imagecpp::Error&) {
  }
  try {
    (void)imagecpp::api::decode_image_value(input);
  } catch (const imagecpp::Error&) {
  }
  return 0;
}
