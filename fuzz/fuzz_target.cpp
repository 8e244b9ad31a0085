// The request target, a client's bytes on every request: any bytes give a result or a refusal,
// never a crash, and the in-place shortcut for plain targets agrees with Boost.URL's parse.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string storage_fast;
  std::string storage_general;
  const auto fast = imagecpp::api::parse_target(input, storage_fast);
  const auto general = imagecpp::api::parse_target_general(input, storage_general);
  if (fast.has_value() != general.has_value()) std::abort();
  if (fast && (fast->path != general->path || fast->size != general->size)) std::abort();
  return 0;
}
