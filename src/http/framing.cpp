#include "http/framing.hpp"

#include <boost/beast/http/field.hpp>
#include <string_view>
#include <vector>

#include "core/ascii.hpp"

namespace imagecpp::http {
namespace {

namespace bhttp = boost::beast::http;

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Every coding named by every Transfer-Encoding field, in order (empty list elements skipped).
std::vector<std::string_view> codings(const Request& header) {
  std::vector<std::string_view> out;
  const auto [first, last] = header.equal_range(bhttp::field::transfer_encoding);
  for (auto it = first; it != last; ++it) {
    std::string_view rest = it->value();
    while (true) {
      const auto comma = rest.find(',');
      if (const auto coding = trim(rest.substr(0, comma)); !coding.empty()) out.push_back(coding);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return out;
}

}  // namespace

unsigned framing_error(const Request& header) {
  if (header.find(bhttp::field::transfer_encoding) == header.end()) return 0;
  if (header.version() < 11) return 400;
  if (header.find(bhttp::field::content_length) != header.end()) return 400;
  const auto list = codings(header);
  for (const std::string_view coding : list) {
    if (!ascii::iequals(coding, "chunked")) return 501;  // the only coding implemented
  }
  return list.size() == 1 ? 0 : 400;  // none, or chunked twice
}

}  // namespace imagecpp::http
