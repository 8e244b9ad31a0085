// log::escape, the one gate of outside values into log lines. The first byte picks the cap and
// the space mode; whatever the input, the output must be valid UTF-8 without a control byte
// (so one line, and valid inside a JSON string) and stay within its size bound.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "log/escape.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t cap = data[0] & 0x7FU;
  const auto spaces =
      (data[0] & 0x80U) != 0 ? imagecpp::log::Spaces::escape : imagecpp::log::Spaces::keep;
  const std::string_view raw(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string out = imagecpp::log::escape(raw, cap, spaces);

  if (!imagecpp::log::is_valid_utf8(out)) std::abort();
  for (const char c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) std::abort();
    if (byte == ' ' && spaces == imagecpp::log::Spaces::escape) std::abort();
  }
  // A kept byte becomes at most 4 characters (\xHH; \uHHHH stands for 2 or 3 bytes), and the
  // cut marker adds "...[cut:N-bytes]".
  if (out.size() > 4 * cap + 40) std::abort();
  // Printable ASCII (no backslash, no space when spaces are escaped) that fits is kept as is.
  const bool plain = raw.size() <= cap && std::all_of(raw.begin(), raw.end(), [&](char c) {
                       return c > 0x20 && c < 0x7F && c != '\\';
                     });
  if (plain && out != raw) std::abort();
  return 0;
}
