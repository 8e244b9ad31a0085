// base64: decoding never fails unsafely, gives what the symbol-by-symbol reference decoder gives
// (tests/unit/base64_reference.hpp), and whatever decodes re-encodes to a string that decodes to
// the same bytes (round trip).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base64_reference.hpp"
#include "core/base64.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto decoded = imagecpp::base64::decode(input);
  if (decoded != imagecpp::base64_reference::decode(input)) std::abort();
  if (decoded) {
    const std::string again = imagecpp::base64::encode(*decoded);
    const auto back = imagecpp::base64::decode(again);
    if (!back || *back != *decoded) std::abort();
  }
  const std::string encoded = imagecpp::base64::encode(input);
  if (encoded.size() != imagecpp::base64::encoded_size(size)) std::abort();
  const auto round = imagecpp::base64::decode(encoded);
  if (!round || *round != input) std::abort();
  return 0;
}
