#pragma once
// Base64 (RFC 4648) for image payloads. Hand-written because no library in the stack exposes a
// public, strict decoder; kept small, unit-tested and fuzzed (fuzz/fuzz_base64.cpp) against a
// symbol-by-symbol reference (tests/unit/base64_reference.hpp). Decoding takes a table per
// position in a quad: it was half of the instructions of a JSON upload (bench/instructions.py).
#include <optional>
#include <string>
#include <string_view>

namespace imagecpp::base64 {

// Encoded length of n bytes, with padding.
std::size_t encoded_size(std::size_t n) noexcept;

// Appends the padded standard-alphabet encoding of `in` to `out`.
void encode_append(std::string_view in, std::string& out);
std::string encode(std::string_view in);

// Decodes the standard alphabet (and the URL-safe '-' '_' as Node does). ASCII whitespace
// (line wrapping) is skipped. Padding is optional, but when present it must be correct and
// final. Returns nullopt on any other character, a dangling single symbol, or bad padding.
std::optional<std::string> decode(std::string_view in);

}  // namespace imagecpp::base64
