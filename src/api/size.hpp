#pragma once
// The Size of a read: from the query string (`Size`, or `size`) or the `Size` header, the query
// winning. Absent or empty means the original.
#include <optional>
#include <string_view>
#include <vector>

namespace imagecpp::api {

struct SizeChoice {
  bool valid = true;
  std::optional<int> size;  // nullopt = the original
};

// `query` and `header` are nullopt when absent. Only exact decimal members of `allowed` are valid
// ("0320", "+320" and "320px" are not).
SizeChoice choose_size(std::optional<std::string_view> query,
                       std::optional<std::string_view> header, const std::vector<int>& allowed);

}  // namespace imagecpp::api
