#include "api/accept.hpp"

#include <cctype>
#include <optional>
#include <utility>

namespace imagecpp::api {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// RFC 9110 token characters.
bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    const bool ok = std::isalnum(u) != 0 ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// Splits off the text before the next `separator` outside a quoted string; `rest` keeps what
// follows it (empty at the end).
std::string_view next_item(std::string_view& rest, char separator) {
  bool quoted = false;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const char c = rest[i];
    if (quoted && c == '\\') {
      ++i;  // quoted-pair: the next character is literal
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == separator) {
      const std::string_view item = rest.substr(0, i);
      rest.remove_prefix(i + 1);
      return item;
    }
  }
  const std::string_view item = rest;
  rest = {};
  return item;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths.
std::optional<int> parse_qvalue(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text[0] != '0' && text[0] != '1')) return std::nullopt;
  int value = (text[0] - '0') * 1000;
  if (text.size() == 1) return value;
  if (text[1] != '.') return std::nullopt;
  int scale = 100;
  for (const char c : text.substr(2)) {
    if (c < '0' || c > '9') return std::nullopt;
    value += (c - '0') * scale;
    scale /= 10;
  }
  if (value > 1000) return std::nullopt;
  return value;
}

struct Range {
  std::string_view type;
  std::string_view subtype;
  int q = 1000;
};

// media-range [ weight ]: type "/" subtype *( OWS ";" OWS parameter ). The media range's own
// parameters are ignored (no image type here has any); "q" ends them (accept extensions follow).
std::optional<Range> parse_range(std::string_view entry) {
  std::string_view params = entry;
  const std::string_view media = trim(next_item(params, ';'));
  const auto slash = media.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  Range range{media.substr(0, slash), media.substr(slash + 1), 1000};
  if (!is_token(range.type) || !is_token(range.subtype)) return std::nullopt;
  if (range.type == "*" && range.subtype != "*") return std::nullopt;
  while (!params.empty()) {
    const std::string_view param = trim(next_item(params, ';'));
    const auto equals = param.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    const std::string_view name = trim(param.substr(0, equals));
    if (!is_token(name)) return std::nullopt;
    if (!iequals(name, "q")) continue;
    const std::optional<int> q = parse_qvalue(trim(param.substr(equals + 1)));
    if (!q) return std::nullopt;
    range.q = *q;
    break;
  }
  return range;
}

// The q of the most specific range seen so far for one format: exact type, then image/*, then
// */*; the first of equally specific ranges counts.
class Weight {
 public:
  void offer(int specificity, int q) {
    if (specificity > specificity_) {
      specificity_ = specificity;
      q_ = q;
    }
  }
  int q() const { return specificity_ > 0 ? q_ : 0; }

 private:
  int specificity_ = 0;
  int q_ = 0;
};

}  // namespace

FormatWeights parse_accept(std::string_view accept) {
  if (accept.size() > kMaxAcceptBytes) accept = accept.substr(0, kMaxAcceptBytes);
  if (trim(accept).empty()) return {};
  Weight avif, webp, jpeg;
  std::size_t entries = 0;
  while (!accept.empty() && entries < kMaxAcceptEntries) {
    const std::string_view entry = trim(next_item(accept, ','));
    if (entry.empty()) continue;  // "#rule" lists allow empty elements
    ++entries;
    const std::optional<Range> range = parse_range(entry);
    if (!range) continue;
    if (range->type == "*") {
      jpeg.offer(1, range->q);
    } else if (iequals(range->type, "image")) {
      if (range->subtype == "*") {
        jpeg.offer(2, range->q);
      } else if (iequals(range->subtype, "jpeg")) {
        jpeg.offer(3, range->q);
      } else if (iequals(range->subtype, "webp")) {
        webp.offer(3, range->q);
      } else if (iequals(range->subtype, "avif")) {
        avif.offer(3, range->q);
      }
    }
  }
  return FormatWeights{.avif = avif.q(), .webp = webp.q(), .jpeg = jpeg.q()};
}

image::Format choose_format(const FormatWeights& weights) {
  // Listed best first: a later format must weigh more to win.
  image::Format best = image::Format::jpeg;
  int best_q = 0;
  const std::pair<image::Format, int> candidates[] = {{image::Format::avif, weights.avif},
                                                      {image::Format::webp, weights.webp},
                                                      {image::Format::jpeg, weights.jpeg}};
  for (const auto& [format, q] : candidates) {
    if (q > best_q) {
      best = format;
      best_q = q;
    }
  }
  return best;
}

image::Format negotiate_format(std::string_view accept) {
  return choose_format(parse_accept(accept));
}

}  // namespace imagecpp::api
