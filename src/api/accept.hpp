#pragma once
// Content negotiation of a variant's format from the request's `Accept` header (RFC 9110
// 12.5.1): AVIF, WebP or JPEG. Outside input: parsed in one bounded pass, without allocation,
// and never an error (a malformed entry is skipped, as if absent).
#include <cstddef>
#include <string_view>

#include "image/format.hpp"

namespace imagecpp::api {

// How much a client wants each variant format, as q-values in thousandths (0 = not acceptable).
struct FormatWeights {
  int avif = 0;
  int webp = 0;
  int jpeg = 1000;
};

// Entries beyond these are ignored: an Accept header is a few hundred bytes in every browser, and
// a hostile one (the server admits up to 16 KiB of headers) must cost no more than a short scan.
inline constexpr std::size_t kMaxAcceptEntries = 64;
inline constexpr std::size_t kMaxAcceptBytes = 4096;

// The weights an Accept value gives. AVIF and WebP count only when named exactly ("image/avif"):
// a wildcard says nothing about what a client can decode (old browsers and most tools send
// "*/*"). JPEG takes the most specific of "image/jpeg", "image/*" and "*/*"; a value that names
// none of them gives it 0. An absent or empty value accepts anything: JPEG 1, the others 0.
FormatWeights parse_accept(std::string_view accept);

// The best format for these weights: the highest q; among equals the smaller encoding first
// (AVIF, WebP, JPEG). JPEG when nothing is acceptable: an image the client may not want beats a
// 406 in an <img> (RFC 9110 lets a server disregard Accept).
image::Format choose_format(const FormatWeights& weights);

// choose_format(parse_accept(accept)).
image::Format negotiate_format(std::string_view accept);

}  // namespace imagecpp::api
