#pragma once
// Static auth for standalone use, demos and tests: tokens come from a file, one
// "token user_id [name...]" a line. Tokens are compared in constant time.
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "auth/verifier.hpp"

namespace imagecpp::auth {

struct Credential {
  std::string token;
  User user;
};

class StaticVerifier : public Verifier {
 public:
  // Throws std::invalid_argument for an empty set, an empty token or a duplicate token.
  explicit StaticVerifier(std::vector<Credential> credentials);

  // Reads a tokens file: '#' comments and blank lines allowed, a missing name means "".
  // Throws std::runtime_error naming the file (and line) when it cannot be read, a line is
  // malformed, a token repeats, or the file holds no token. Never echoes a token.
  static StaticVerifier from_file(const std::filesystem::path& path);

  // The parser behind from_file; `source` names the input in error messages.
  static StaticVerifier parse(std::string_view text, std::string_view source);

  // Completes at once: the user for a known token, else throws Error(unauthorized).
  boost::asio::awaitable<User> verify(std::string token) override;

 private:
  // Tokens are stored zero-padded to one common width so that every comparison reads the
  // same number of bytes whatever the token and the candidate.
  struct Entry {
    std::string padded_token;
    std::size_t length;
    User user;
  };

  std::vector<Entry> entries_;
  std::size_t width_ = 0;
};

}  // namespace imagecpp::auth
