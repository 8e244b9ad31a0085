#include "core/uuid.hpp"

#include <array>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <cstdint>
#include <random>
#include <stdexcept>

#include "core/ascii.hpp"

namespace imagecpp::uuid {
namespace {

// Every read validates its id: tables keep that to a few instructions a character.
constexpr std::array<bool, 256> kHex = [] {
  std::array<bool, 256> table{};
  for (const char* digits : {"0123456789", "abcdef", "ABCDEF"}) {
    for (const char* c = digits; *c != '\0'; ++c) table[static_cast<unsigned char>(*c)] = true;
  }
  return table;
}();

constexpr std::array<bool, 36> kDash = [] {
  std::array<bool, 36> table{};
  for (const std::size_t i : {8, 13, 18, 23}) table[i] = true;
  return table;
}();

}  // namespace

std::string generate() {
  // Boost's default generator reads OS entropy (getrandom) on every call: ids are unguessable,
  // which matters because reads are public by default. One per thread avoids any locking.
  thread_local boost::uuids::random_generator generator;
  return boost::uuids::to_string(generator());
}

std::string generate_fast() {
  std::string out;
  generate_fast(out);
  return out;
}

void generate_fast(std::string& out) {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t half = 0; half < 2; ++half) {
    const std::uint64_t bits = engine();
    for (std::size_t i = 0; i < 8; ++i) {
      bytes[half * 8 + i] = static_cast<std::uint8_t>(bits >> (8 * i));
    }
  }
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3f) | 0x80);  // variant RFC 4122
  constexpr std::string_view kDigits = "0123456789abcdef";
  out.resize(kDash.size());
  std::size_t byte = 0;
  for (std::size_t i = 0; i < kDash.size();) {
    if (kDash[i]) {
      out[i++] = '-';
      continue;
    }
    out[i++] = kDigits[bytes[byte] >> 4];
    out[i++] = kDigits[bytes[byte] & 0x0f];
    ++byte;
  }
}

bool is_valid(std::string_view text) noexcept {
  if (text.size() != kDash.size()) return false;
  bool ok = true;
  for (std::size_t i = 0; i < kDash.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    ok &= kDash[i] ? c == '-' : kHex[c];
  }
  return ok;
}

std::string normalize(std::string_view text) {
  if (!is_valid(text)) throw std::invalid_argument("uuid::normalize: not a canonical uuid");
  std::string out(text);
  for (char& c : out) c = ascii::to_lower(c);
  return out;
}

}  // namespace imagecpp::uuid
