#include "auth/static_verifier.hpp"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include "core/error.hpp"
#include "core/token.hpp"

namespace imagecpp::auth {
namespace {

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r';
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Splits off the first whitespace-delimited word of `rest`.
std::string_view next_word(std::string_view& rest) noexcept {
  rest = trim(rest);
  const std::size_t end = std::min(rest.find(' '), rest.find('\t'));
  const std::string_view word = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view{} : trim(rest.substr(end));
  return word;
}

[[noreturn]] void malformed(std::string_view source, std::size_t line, std::string_view why) {
  std::ostringstream out;
  out << "tokens file " << source << ", line " << line << ": " << why
      << " (expected: token user_id [name])";
  throw std::runtime_error(out.str());
}

// Compares a candidate against one stored entry reading exactly `width` bytes: the time
// depends neither on where the bytes differ nor on the stored token's length.
std::uint64_t difference(std::string_view candidate, const std::string& padded, std::size_t length,
                         std::size_t width) noexcept {
  std::uint64_t diff = candidate.size() ^ length;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = i < candidate.size() ? candidate[i] : '\0';
    diff |= static_cast<unsigned char>(c ^ padded[i]);
  }
  return diff;
}

}  // namespace

StaticVerifier::StaticVerifier(std::vector<Credential> credentials) {
  if (credentials.empty()) throw std::invalid_argument("static auth: no tokens");
  std::unordered_set<std::string_view> seen;
  for (const Credential& c : credentials) {
    if (!token::is_valid(c.token)) throw std::invalid_argument("static auth: invalid token");
    if (!seen.insert(c.token).second) throw std::invalid_argument("static auth: duplicate token");
    width_ = std::max(width_, c.token.size());
  }
  entries_.reserve(credentials.size());
  for (Credential& c : credentials) {
    const std::size_t length = c.token.size();
    c.token.resize(width_, '\0');
    entries_.push_back(Entry{std::move(c.token), length, std::move(c.user)});
  }
}

StaticVerifier StaticVerifier::parse(std::string_view text, std::string_view source) {
  std::vector<Credential> credentials;
  std::unordered_set<std::string_view> seen;
  std::size_t line_no = 0;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    std::string_view rest = trim(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    ++line_no;
    if (rest.empty() || rest.front() == '#') continue;
    const std::string_view token = next_word(rest);
    const std::string_view user_id = next_word(rest);
    if (user_id.empty()) malformed(source, line_no, "missing user_id");
    if (!token::is_valid(token)) malformed(source, line_no, "token holds a control character");
    if (!seen.insert(token).second) malformed(source, line_no, "duplicate token");
    credentials.push_back(
        Credential{std::string(token), User{std::string(user_id), std::string(rest)}});
  }
  if (credentials.empty())
    throw std::runtime_error("tokens file " + std::string(source) + ": no tokens");
  return StaticVerifier(std::move(credentials));
}

StaticVerifier StaticVerifier::from_file(const std::filesystem::path& path) {
  const auto unreadable = [&] {
    return std::runtime_error("cannot read tokens file " + path.string());
  };
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw unreadable();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw unreadable();
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw unreadable();
  return parse(text, path.string());
}

boost::asio::awaitable<User> StaticVerifier::verify(std::string token) {
  // Every entry is compared, with no early exit, and the match is picked without a branch.
  std::size_t match = entries_.size();
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    const std::uint64_t diff = difference(token, e.padded_token, e.length, width_);
    const std::size_t is_match = static_cast<std::size_t>(diff == 0);
    match = is_match * i + (1 - is_match) * match;
  }
  if (match == entries_.size()) throw Error(ErrorCode::unauthorized, "static auth: unknown token");
  co_return entries_[match].user;
}

}  // namespace imagecpp::auth
