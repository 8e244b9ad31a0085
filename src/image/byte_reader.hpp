#pragma once
// Bounds-checked reads for the header parsers. The bytes come from strangers: every read returns
// nullopt past the end instead of touching memory it does not own.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace imagecpp::image::detail {

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) noexcept : bytes_(bytes) {}

  std::size_t size() const noexcept { return bytes_.size(); }

  // True when [at, at + count) lies inside the bytes; written so that it cannot overflow.
  bool has(std::size_t at, std::size_t count) const noexcept {
    return at <= bytes_.size() && count <= bytes_.size() - at;
  }

  bool matches(std::size_t at, std::string_view literal) const noexcept {
    return has(at, literal.size()) && bytes_.substr(at, literal.size()) == literal;
  }

  std::optional<std::uint8_t> u8(std::size_t at) const noexcept {
    if (!has(at, 1)) return std::nullopt;
    return static_cast<std::uint8_t>(bytes_[at]);
  }

  std::optional<std::uint32_t> be16(std::size_t at) const noexcept { return big(at, 2); }
  std::optional<std::uint32_t> be32(std::size_t at) const noexcept { return big(at, 4); }
  std::optional<std::uint32_t> le16(std::size_t at) const noexcept { return little(at, 2); }
  std::optional<std::uint32_t> le24(std::size_t at) const noexcept { return little(at, 3); }
  std::optional<std::uint32_t> le32(std::size_t at) const noexcept { return little(at, 4); }

 private:
  std::optional<std::uint32_t> big(std::size_t at, std::size_t count) const noexcept {
    if (!has(at, count)) return std::nullopt;
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < count; ++i) value = (value << 8) | byte(at + i);
    return value;
  }

  std::optional<std::uint32_t> little(std::size_t at, std::size_t count) const noexcept {
    if (!has(at, count)) return std::nullopt;
    std::uint32_t value = 0;
    for (std::size_t i = count; i > 0; --i) value = (value << 8) | byte(at + i - 1);
    return value;
  }

  std::uint32_t byte(std::size_t at) const noexcept {
    return static_cast<std::uint8_t>(bytes_[at]);
  }

  std::string_view bytes_;
};

}  // namespace imagecpp::image::detail
