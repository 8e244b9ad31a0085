#include "api/target.hpp"

#include <array>
#include <boost/url/parse.hpp>

namespace imagecpp::api {
namespace {

// Bytes that mean the same encoded and decoded, in a path and in a query (RFC 3986 unreserved),
// and the delimiters of both. No '%' (decoding) and no '+' (a space in a query, to some).
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> table{};
  for (const char* set :
       {"abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "-._~/?=&"}) {
    for (const char* c = set; *c != '\0'; ++c) table[static_cast<unsigned char>(*c)] = true;
  }
  return table;
}();

bool plain(std::string_view target) {
  bool ok = !target.empty() && target.front() == '/';
  for (const char c : target) ok &= kPlain[static_cast<unsigned char>(c)];
  return ok;
}

// The value of the first parameter named `key` in a plain query ("a=1&Size=320&b").
std::optional<std::string_view> plain_param(std::string_view query, std::string_view key) {
  for (;;) {
    const std::size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    const std::size_t eq = param.find('=');
    if (param.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
    }
    if (amp == std::string_view::npos) return std::nullopt;
    query.remove_prefix(amp + 1);
  }
}

Target split_plain(std::string_view target) {
  const std::size_t question = target.find('?');
  Target out{.path = target.substr(0, question), .size = std::nullopt};
  if (question == std::string_view::npos) return out;
  const std::string_view query = target.substr(question + 1);
  for (const std::string_view key : {"Size", "size"}) {
    if (const auto value = plain_param(query, key)) {
      out.size = std::string(*value);
      break;
    }
  }
  return out;
}

// The path to route on: percent-decoded segment by segment, with a decoded '/' kept encoded, so
// that "%2F" never separates segments ("/v1/image/{id}%2Fjpeg" is an id, not the /jpeg route).
// A path without '%' is its own decoded form: routed as it is, without a copy.
std::string_view routing_path(const boost::urls::url_view& url, std::string& storage) {
  const std::string_view encoded = url.encoded_path();
  if (encoded.find('%') == std::string_view::npos) return encoded.empty() ? "/" : encoded;
  storage.clear();
  for (const auto segment : url.encoded_segments()) {
    storage += '/';
    for (const char c : segment.decode()) {
      if (c == '/') {
        storage += "%2F";
      } else {
        storage += c;
      }
    }
  }
  if (storage.empty()) storage.push_back('/');  // not = "/": GCC 12 warns wrongly
  return storage;
}

}  // namespace

std::optional<Target> parse_target(std::string_view target, std::string& storage) {
  if (plain(target)) return split_plain(target);
  return parse_target_general(target, storage);
}

std::optional<Target> parse_target_general(std::string_view target, std::string& storage) {
  const auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  Target out{.path = routing_path(*url, storage), .size = std::nullopt};
  const auto params = url->params();
  for (const char* key : {"Size", "size"}) {
    if (const auto it = params.find(key); it != params.end()) {
      out.size = (*it).value;
      break;
    }
  }
  return out;
}

}  // namespace imagecpp::api
