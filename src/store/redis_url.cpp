#include "store/redis_url.hpp"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <cctype>
#include <charconv>
#include <stdexcept>

namespace imagecpp::store {
namespace {

[[noreturn]] void fail(const std::string& why) {
  throw std::invalid_argument("REDIS_URL: " + why);
}

template <class Int>
Int parse_number(std::string_view text, Int min, Int max, const std::string& what) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < min ||
      value > max) {
    fail(what + " '" + std::string(text) + "' is not a number in " + std::to_string(min) + ".." +
         std::to_string(max));
  }
  return value;
}

// The parts a URL and a bare authority share: host, port and credentials.
template <class View>
RedisEndpoint from_authority(const View& view, std::optional<std::uint16_t> default_port) {
  RedisEndpoint endpoint;
  endpoint.host = view.host_address();
  if (endpoint.host.empty()) fail("no host");
  endpoint.port = default_port.value_or(kRedisDefaultPort);
  if (view.has_port()) {
    endpoint.port = parse_number<std::uint16_t>(view.port(), 1, 65535, "port");
  }
  if (view.has_userinfo()) {
    // "user:password", ":password", or "password" alone (as redis-cli reads it).
    if (view.has_password()) {
      endpoint.user = view.user();
      endpoint.password = view.password();
    } else {
      endpoint.password = view.user();
    }
  }
  return endpoint;
}

std::optional<unsigned> parse_db(std::string_view path) {
  if (path.empty() || path == "/") return std::nullopt;
  path.remove_prefix(path.front() == '/' ? 1 : 0);
  return parse_number<unsigned>(path, 0, 1u << 20, "db");
}

RedisEndpoint parse_uri_form(std::string_view text, std::optional<std::uint16_t> port) {
  const auto url = boost::urls::parse_uri(text);
  if (!url) fail("not a valid URL");
  std::string scheme = url->scheme();
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme == "rediss") fail("TLS (rediss://) is not supported");
  if (scheme != "redis") fail("scheme must be redis://, not " + scheme + "://");
  if (!url->has_authority()) fail("no host");
  RedisEndpoint endpoint = from_authority(*url, port);
  endpoint.db = parse_db(url->path());
  return endpoint;
}

RedisEndpoint parse_authority_form(std::string_view text, std::optional<std::uint16_t> port) {
  const auto authority = boost::urls::parse_authority(text);
  if (!authority) fail("expected host, host:port or redis://...");
  return from_authority(*authority, port);
}

}  // namespace

RedisEndpoint parse_redis_url(std::string_view url, std::optional<std::uint16_t> port) {
  if (url.empty()) fail("empty");
  if (port && *port == 0) fail("REDIS_PORT must be in 1..65535");
  return url.find("://") == std::string_view::npos ? parse_authority_form(url, port)
                                                   : parse_uri_form(url, port);
}

bool is_cluster_url(std::string_view url) noexcept {
  constexpr std::string_view kScheme = "redis+cluster://";
  if (url.size() < kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(url[i])) != kScheme[i]) return false;
  }
  return true;
}

std::vector<RedisEndpoint> parse_redis_cluster_url(std::string_view url,
                                                   std::optional<std::uint16_t> port) {
  if (!is_cluster_url(url)) fail("a cluster URL starts with redis+cluster://");
  if (port && *port == 0) fail("REDIS_PORT must be in 1..65535");
  std::string_view rest = url.substr(std::string_view("redis+cluster://").size());
  // The authority list ends at the path, query or fragment; only the path means anything.
  const std::string_view path = rest.substr(std::min(rest.find('/'), rest.size()));
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto db = parse_db(path.substr(0, path.find_first_of("?#"))); db && *db != 0) {
    fail("a cluster has database 0 only, not " + std::to_string(*db));
  }
  // Credentials once, before the first host; a password may hold ',' and '@' only escaped.
  std::string userinfo;
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    userinfo = std::string(rest.substr(0, at + 1));
    rest.remove_prefix(at + 1);
  }
  std::vector<RedisEndpoint> seeds;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view seed = rest.substr(0, comma);
    if (seed.empty()) fail("an empty seed in the cluster's host list");
    const std::string authority_text = userinfo + std::string(seed);
    const auto authority = boost::urls::parse_authority(authority_text);
    if (!authority) fail("seed '" + std::string(seed) + "' is not host or host:port");
    seeds.push_back(from_authority(*authority, port));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return seeds;
}

std::string describe(const std::vector<RedisEndpoint>& seeds) {
  std::string text = "redis+cluster://";
  if (!seeds.empty() && !seeds.front().password.empty()) text += seeds.front().user + ":***@";
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    const RedisEndpoint& e = seeds[i];
    const bool ipv6 = e.host.find(':') != std::string::npos;
    text +=
        (i == 0 ? "" : ",") + (ipv6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port);
  }
  return text + "/";
}

std::string describe(const RedisEndpoint& e) {
  std::string text = "redis://";
  if (!e.password.empty()) text += e.user + ":***@";
  const bool ipv6 = e.host.find(':') != std::string::npos;
  text += ipv6 ? "[" + e.host + "]" : e.host;
  text += ":" + std::to_string(e.port);
  if (e.db) text += "/" + std::to_string(*e.db);
  return text;
}

}  // namespace imagecpp::store
