#include "core/uuid.hpp"

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <random>
#include <stdexcept>

namespace imagecpp::uuid {
namespace {

bool is_hex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_dash_position(std::size_t i) noexcept {
  return i == 8 || i == 13 || i == 18 || i == 23;
}

char to_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::string generate() {
  // Boost's default generator reads OS entropy (getrandom) on every call: ids are unguessable,
  // which matters because reads are public by default. One per thread avoids any locking.
  thread_local boost::uuids::random_generator generator;
  return boost::uuids::to_string(generator());
}

std::string generate_fast() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  boost::uuids::basic_random_generator<std::mt19937_64> generator(engine);
  return boost::uuids::to_string(generator());
}

bool is_valid(std::string_view text) noexcept {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool ok = is_dash_position(i) ? text[i] == '-' : is_hex(text[i]);
    if (!ok) return false;
  }
  return true;
}

std::string normalize(std::string_view text) {
  if (!is_valid(text)) throw std::invalid_argument("uuid::normalize: not a canonical uuid");
  std::string out(text);
  for (char& c : out) c = to_lower(c);
  return out;
}

}  // namespace imagecpp::uuid
