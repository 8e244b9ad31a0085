// The small request fields: Size, id, Authorization, path routing. Input is split on the first
// newline into a query-ish value and a header-ish value.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "api/router.hpp"
#include "api/size.hpp"
#include "auth/bearer.hpp"
#include "core/token.hpp"
#include "core/uuid.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto cut = input.find('\n');
  const std::string_view first = input.substr(0, cut);
  const std::string_view second = cut == std::string_view::npos ? "" : input.substr(cut + 1);

  static const std::vector<int> sizes{160, 320, 640, 800, 1024, 1200};
  const auto choice = imagecpp::api::choose_size(first, second, sizes);
  if (choice.size && std::find(sizes.begin(), sizes.end(), *choice.size) == sizes.end()) {
    std::abort();
  }
  if (imagecpp::uuid::is_valid(first) && imagecpp::uuid::normalize(first).size() != 36) {
    std::abort();
  }
  if (const auto token = imagecpp::auth::parse_bearer(input)) {
    if (token->empty() || token->size() >= input.size()) std::abort();
  }
  (void)imagecpp::token::tag(input);
  const auto match = imagecpp::api::match_route(input);
  if (match.route == imagecpp::api::Route::unknown && !match.id.empty()) std::abort();
  return 0;
}
