#include "log/escape.hpp"

#include <algorithm>
#include <array>
#include <optional>

namespace imagecpp::log {
namespace {

struct Utf8Char {
  std::size_t length = 0;  // 0: not a valid sequence (then the byte alone is escaped)
  char32_t code = 0;
};

bool is_continuation(unsigned char byte) {
  return (byte & 0xC0U) == 0x80U;
}

struct LeadByte {
  std::size_t length;
  unsigned payload_mask;
  char32_t min;  // smaller code points have a shorter form: an overlong one is invalid
};

std::optional<LeadByte> lead_byte(unsigned char byte) {
  if (byte >= 0xC2 && byte <= 0xDF) return LeadByte{2, 0x1F, 0x80};
  if (byte >= 0xE0 && byte <= 0xEF) return LeadByte{3, 0x0F, 0x800};
  if (byte >= 0xF0 && byte <= 0xF4) return LeadByte{4, 0x07, 0x10000};
  return std::nullopt;
}

// The valid, shortest-form UTF-8 sequence of two to four bytes at the start of `s`, if any.
Utf8Char decode_multibyte(std::string_view s) {
  const auto first = static_cast<unsigned char>(s[0]);
  const auto lead = lead_byte(first);
  if (!lead) return {};
  const std::size_t length = lead->length;
  char32_t code = first & lead->payload_mask;
  if (s.size() < length) return {};
  for (std::size_t i = 1; i < length; ++i) {
    const auto byte = static_cast<unsigned char>(s[i]);
    if (!is_continuation(byte)) return {};
    code = (code << 6) | (byte & 0x3FU);
  }
  const bool surrogate = code >= 0xD800 && code <= 0xDFFF;
  if (code < lead->min || code > 0x10FFFF || surrogate) return {};
  return {length, code};
}

// Code points that are valid text yet reorder, hide or break what a reader or a terminal shows.
bool is_invisible_control(char32_t code) {
  return (code >= 0x80 && code <= 0x9F) || code == 0x200E || code == 0x200F || code == 0x2028 ||
         code == 0x2029 || (code >= 0x202A && code <= 0x202E) || (code >= 0x2066 && code <= 0x2069);
}

constexpr std::array<char, 16> kHex{'0', '1', '2', '3', '4', '5', '6', '7',
                                    '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};

void append_byte_escape(std::string& out, unsigned char byte) {
  out += "\\x";
  out += kHex[byte >> 4U];
  out += kHex[byte & 0xFU];
}

void append_code_escape(std::string& out, char32_t code) {
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(code >> shift) & 0xFU];
}

constexpr bool is_plain_ascii(unsigned char byte, Spaces spaces) {
  if (byte == ' ') return spaces == Spaces::keep;
  return byte > 0x20 && byte < 0x7F && byte != '\\';
}

}  // namespace

std::string escape(std::string_view raw, std::size_t max_bytes, Spaces spaces) {
  std::string out;
  out.reserve(std::min(raw.size(), max_bytes) + 16);
  std::size_t at = 0;
  while (at < raw.size()) {
    const auto byte = static_cast<unsigned char>(raw[at]);
    const Utf8Char ch = byte < 0x80 ? Utf8Char{1, byte} : decode_multibyte(raw.substr(at));
    const std::size_t length = ch.length == 0 ? 1 : ch.length;
    if (at + length > max_bytes) break;
    if (ch.length == 0) {
      append_byte_escape(out, byte);
    } else if (byte == '\\') {
      out += "\\\\";
    } else if (ch.length == 1 && !is_plain_ascii(byte, spaces)) {
      append_byte_escape(out, byte);
    } else if (is_invisible_control(ch.code)) {
      append_code_escape(out, ch.code);
    } else {
      out.append(raw.substr(at, length));
    }
    at += length;
  }
  if (at < raw.size()) out += "...[cut:" + std::to_string(raw.size()) + "-bytes]";
  return out;
}

std::string_view escape_view(std::string_view raw, std::size_t max_bytes, Spaces spaces,
                             std::string& storage) {
  // Tables of is_plain_ascii: this runs on every access line.
  static constexpr auto kPlain = [](Spaces s) {
    std::array<bool, 256> table{};
    for (unsigned byte = 0; byte < table.size(); ++byte) table[byte] = is_plain_ascii(byte, s);
    return table;
  };
  static constexpr std::array<bool, 256> kKeepSpaces = kPlain(Spaces::keep);
  static constexpr std::array<bool, 256> kEscapeSpaces = kPlain(Spaces::escape);
  const auto& plain_byte = spaces == Spaces::keep ? kKeepSpaces : kEscapeSpaces;
  bool plain = raw.size() <= max_bytes;
  for (const char c : raw) plain &= plain_byte[static_cast<unsigned char>(c)];
  if (plain) return raw;
  storage = escape(raw, max_bytes, spaces);
  return storage;
}

bool is_valid_utf8(std::string_view text) {
  std::size_t at = 0;
  while (at < text.size()) {
    if (static_cast<unsigned char>(text[at]) < 0x80) {
      ++at;
      continue;
    }
    const Utf8Char ch = decode_multibyte(text.substr(at));
    if (ch.length == 0) return false;
    at += ch.length;
  }
  return true;
}

}  // namespace imagecpp::log
