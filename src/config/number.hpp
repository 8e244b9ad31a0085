#pragma once
// The one parser of every numeric setting, from a flag or the environment.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imagecpp::config {

struct NumberRange {
  std::uint64_t min;
  std::uint64_t max;
};

// Decimal digits only (leading zeros allowed), within [range.min, range.max]. No sign, space,
// other text, hex or octal form: a value that is not plainly a count is a mistake to report,
// not a number to guess (C's strtol family reads "0x10" as 16, "010" as 8 and " -1" as
// 18446744073709551615 once unsigned). Nothing if the text is not such a number, if it does not
// fit 64 bits or if it is out of range.
std::optional<std::uint64_t> parse_number(std::string_view text, NumberRange range);

// "1..65535", as the messages and --help state a range.
std::string describe(NumberRange range);

}  // namespace imagecpp::config
