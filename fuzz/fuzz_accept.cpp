// The Accept header, a new input path: any bytes give one of the three variant formats, weights
// within 0..1000, a choice consistent with the weights, and the same answer for any bytes past
// the bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/accept.hpp"

namespace {

void check(const imagecpp::api::FormatWeights& w) {
  for (const int q : {w.avif, w.webp, w.jpeg}) {
    if (q < 0 || q > 1000) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using imagecpp::api::choose_format;
  using imagecpp::api::parse_accept;
  using imagecpp::image::Format;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto weights = parse_accept(input);
  check(weights);
  const Format chosen = choose_format(weights);
  if (chosen != Format::jpeg && chosen != Format::webp && chosen != Format::avif) std::abort();
  // The chosen format weighs at least as much as any other; a non-JPEG choice is acceptable.
  const int q = chosen == Format::avif   ? weights.avif
                : chosen == Format::webp ? weights.webp
                                         : weights.jpeg;
  if (q < weights.avif || q < weights.webp || q < weights.jpeg) std::abort();
  if (chosen != Format::jpeg && q == 0) std::abort();
  // Bytes past the bound change nothing.
  if (size >= imagecpp::api::kMaxAcceptBytes) {
    std::string longer(input);
    longer += ",image/avif,image/webp";
    const auto again = parse_accept(longer);
    if (again.avif != weights.avif || again.webp != weights.webp || again.jpeg != weights.jpeg)
      std::abort();
  }
  return 0;
}
