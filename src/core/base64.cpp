#include "core/base64.hpp"

#include <array>
#include <boost/endian/conversion.hpp>
#include <cstdint>
#include <cstring>

namespace imagecpp::base64 {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Decode table markers. Every marker has the top bit set, so OR-ing four looked-up values and
// testing that bit tells in one branch whether a quad is made of alphabet symbols only.
constexpr std::uint8_t kBad = 0xFF;
constexpr std::uint8_t kSpace = 0xFE;
constexpr std::uint8_t kPad = 0xFD;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  table.fill(kBad);
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
  }
  table['-'] = 62;  // URL-safe alphabet, accepted as Node does
  table['_'] = 63;
  for (const char c : {' ', '\t', '\n', '\v', '\f', '\r'}) {
    table[static_cast<unsigned char>(c)] = kSpace;
  }
  table['='] = kPad;
  return table;
}

constexpr std::array<std::uint8_t, 256> kDecode = make_decode_table();

// For the bulk of a payload: a table per position in the quad giving the symbol's six bits
// already shifted into place in the 24-bit group, or kNotSymbol for anything else (whitespace
// and padding included: those take the symbol-by-symbol path). A quad is then four loads and
// three ORs, and one test says whether all four were symbols.
constexpr std::uint32_t kNotSymbol = 0x80000000U;

constexpr std::array<std::array<std::uint32_t, 256>, 4> make_quad_tables() {
  std::array<std::array<std::uint32_t, 256>, 4> tables{};
  for (std::size_t position = 0; position < 4; ++position) {
    for (std::size_t c = 0; c < 256; ++c) {
      const std::uint8_t v = kDecode[c];
      tables[position][c] = (v & 0x80) != 0 ? kNotSymbol : std::uint32_t{v} << (18 - 6 * position);
    }
  }
  return tables;
}

constexpr std::array<std::array<std::uint32_t, 256>, 4> kQuad = make_quad_tables();

// Decodes whole quads of symbols from in[i] on while there are any; returns where it stopped
// (the end, or the first quad holding anything else). Writes 4 bytes for each 3 it decodes:
// `dst` needs one byte of room past the output.
std::size_t decode_quads(const unsigned char* in, std::size_t i, std::size_t size, char*& dst) {
  for (; i + 4 <= size; i += 4) {
    const std::uint32_t v =
        kQuad[0][in[i]] | kQuad[1][in[i + 1]] | kQuad[2][in[i + 2]] | kQuad[3][in[i + 3]];
    if ((v & kNotSymbol) != 0) break;
    const std::uint32_t bytes = boost::endian::native_to_big(v << 8);
    std::memcpy(dst, &bytes, sizeof bytes);
    dst += 3;
  }
  return i;
}

// Two output symbols per lookup of 12 input bits: halves the work of the encoder's hot loop.
constexpr std::array<std::array<char, 2>, 4096> make_pair_table() {
  std::array<std::array<char, 2>, 4096> table{};
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = {kAlphabet[i >> 6], kAlphabet[i & 63]};
  return table;
}

constexpr std::array<std::array<char, 2>, 4096> kEncodePairs = make_pair_table();

std::uint8_t lookup(char c) noexcept {
  return kDecode[static_cast<unsigned char>(c)];
}

// Writes the 1..3 bytes carried by `count` (2..4) six-bit symbols.
char* emit(const std::uint8_t* s, std::size_t count, char* out) noexcept {
  const std::uint32_t v = (std::uint32_t{s[0]} << 18) | (std::uint32_t{s[1]} << 12) |
                          (std::uint32_t{s[2]} << 6) | std::uint32_t{s[3]};
  *out++ = static_cast<char>(v >> 16);
  if (count > 2) *out++ = static_cast<char>(v >> 8);
  if (count > 3) *out++ = static_cast<char>(v);
  return out;
}

// After the first '=': only more '=' and whitespace may follow, and the padding must complete
// the quad exactly (two '=' after two symbols, one after three).
bool padding_ok(std::string_view rest, std::size_t symbols) noexcept {
  std::size_t pads = 0;
  for (const char c : rest) {
    const std::uint8_t v = lookup(c);
    if (v == kPad) {
      ++pads;
    } else if (v != kSpace) {
      return false;
    }
  }
  return symbols >= 2 && symbols + pads == 4;
}

}  // namespace

std::size_t encoded_size(std::size_t n) noexcept {
  return (n + 2) / 3 * 4;
}

void encode_append(std::string_view in, std::string& out) {
  const std::size_t start = out.size();
  out.resize(start + encoded_size(in.size()));
  char* dst = out.data() + start;
  const auto byte = [&](std::size_t i) { return std::uint32_t{static_cast<unsigned char>(in[i])}; };
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    const auto& hi = kEncodePairs[v >> 12];
    const auto& lo = kEncodePairs[v & 0xFFF];
    dst[0] = hi[0];
    dst[1] = hi[1];
    dst[2] = lo[0];
    dst[3] = lo[1];
    dst += 4;
  }
  const std::size_t tail = in.size() - i;
  if (tail == 0) return;
  const std::uint32_t v = (byte(i) << 16) | (tail == 2 ? byte(i + 1) << 8 : 0);
  *dst++ = kAlphabet[(v >> 18) & 63];
  *dst++ = kAlphabet[(v >> 12) & 63];
  *dst++ = tail == 2 ? kAlphabet[(v >> 6) & 63] : '=';
  *dst++ = '=';
}

std::string encode(std::string_view in) {
  std::string out;
  encode_append(in, out);
  return out;
}

std::optional<std::string> decode(std::string_view in) {
  std::string out;
  // Room for every quad's 3 bytes, a partial last quad, and decode_quads' extra byte.
  out.resize(in.size() / 4 * 3 + 3);
  char* dst = out.data();
  const auto* bytes = reinterpret_cast<const unsigned char*>(in.data());
  std::uint8_t quad[4] = {};
  std::size_t count = 0;  // symbols held in `quad`
  std::size_t i = 0;
  while (i < in.size()) {
    // Whole quads of symbols, the bulk of any payload (all of an unwrapped one but its end).
    if (count == 0) {
      i = decode_quads(bytes, i, in.size(), dst);
      if (i == in.size()) break;
    }
    const std::uint8_t v = lookup(in[i]);
    if (v == kBad) return std::nullopt;
    if (v == kPad) {
      if (!padding_ok(in.substr(i), count)) return std::nullopt;
      break;
    }
    ++i;
    if (v == kSpace) continue;
    quad[count++] = v;
    if (count == 4) {
      dst = emit(quad, 4, dst);
      count = 0;
    }
  }
  if (count == 1) return std::nullopt;  // a lone symbol carries fewer than 8 bits
  if (count > 1) {
    for (std::size_t k = count; k < 4; ++k) quad[k] = 0;
    dst = emit(quad, count, dst);
  }
  out.resize(static_cast<std::size_t>(dst - out.data()));
  return out;
}

}  // namespace imagecpp::base64
