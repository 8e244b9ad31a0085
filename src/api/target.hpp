#pragma once
// What the API reads from a request target: the path it routes on and the Size query parameter.
// Boost.URL parses any target with a percent sign, a plus or another unusual byte. A target made
// only of letters, digits and - . _ ~ / ? = & (what clients send) is split in place instead, to
// the same result (tests compare the two over random targets): Boost.URL's origin-form parse was
// a tenth of the instructions of a warm read (bench/instructions.py).
#include <optional>
#include <string>
#include <string_view>

namespace imagecpp::api {

struct Target {
  // Percent-decoded, segment by segment; an encoded '/' stays "%2F" (it separates nothing).
  std::string_view path;
  // The first "Size" query parameter's decoded value, else the first "size" one's.
  std::optional<std::string> size;
};

// nullopt when `target` is not an origin-form (path, optional query). `path` may point into
// `storage` or into `target`: both must outlive the result.
std::optional<Target> parse_target(std::string_view target, std::string& storage);

// The same through Boost.URL whatever the target (what parse_target does for unusual ones): the
// reference its shortcut is tested and fuzzed against.
std::optional<Target> parse_target_general(std::string_view target, std::string& storage);

}  // namespace imagecpp::api
