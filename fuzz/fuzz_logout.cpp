// Broadcast messages from RabbitMQ: anything from the broker is either a token to forget,
// ignored, or malformed; never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "events/logout_message.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto message = imagecpp::events::read_logout(input);
  if (message.kind == imagecpp::events::LogoutKind::token && message.token.empty()) std::abort();
  return 0;
}
