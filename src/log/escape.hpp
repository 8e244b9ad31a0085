#pragma once
// Values from outside (a client's request line and headers, the auth service's user id, a
// Redis or broker error text) are put in log lines through escape(), so that no byte sent by
// someone else can end a line, move a terminal's cursor, break a JSON line or pose as another
// field.
#include <cstddef>
#include <string>
#include <string_view>

namespace imagecpp::log {

// Caps for the values of an access line, in bytes of the original value.
inline constexpr std::size_t kMaxPathBytes = 1024;
inline constexpr std::size_t kMaxUserBytes = 256;
inline constexpr std::size_t kMaxMethodBytes = 32;
inline constexpr std::size_t kMaxCorrelationBytes = 128;
inline constexpr std::size_t kMaxErrorBytes = 512;

enum class Spaces {
  keep,    // free text: an error message
  escape,  // one field of a `key=value` line: a space there would start a forged field
};

// Printable ASCII and valid UTF-8 are kept. Control bytes, DEL, a space when asked, and every
// byte of an invalid UTF-8 sequence become \xHH; a backslash becomes \\ (so an escape in the
// output always means an escaped byte); C1 controls, line and paragraph separators and bidi
// controls (U+0080..U+009F, U+2028, U+2029, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069)
// become \uHHHH. At most `max_bytes` of `raw` are kept, cut on a character boundary, followed
// by "...[cut:N-bytes]" (no space: it stays one field) where N is the size of `raw`. The
// result is ASCII or valid UTF-8 and never holds a control character.
std::string escape(std::string_view raw, std::size_t max_bytes, Spaces spaces = Spaces::keep);

// escape(), without building a string when there is nothing to escape (the common case on the
// access-log path: printable ASCII within the cap): `raw` itself, or the escaped text held in
// `storage`.
std::string_view escape_view(std::string_view raw, std::size_t max_bytes, Spaces spaces,
                             std::string& storage);

// True when `text` is valid UTF-8 (shortest forms, no surrogates, at most U+10FFFF).
bool is_valid_utf8(std::string_view text);

}  // namespace imagecpp::log
