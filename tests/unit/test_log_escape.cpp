#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "log/escape.hpp"

namespace {

using imagecpp::log::escape;
using imagecpp::log::is_valid_utf8;
using imagecpp::log::Spaces;

constexpr std::size_t kNoCap = 4096;

std::string esc(std::string_view raw, Spaces spaces = Spaces::keep) {
  return escape(raw, kNoCap, spaces);
}

TEST(LogEscape, KeepsPrintableAsciiAndValidUtf8) {
  EXPECT_EQ(esc("/v1/image/3f2a?Size=160"), "/v1/image/3f2a?Size=160");
  EXPECT_EQ(esc("Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xb7"),
            "Jos\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xb7");
  EXPECT_EQ(esc(""), "");
}

TEST(LogEscape, EscapesEveryControlByteAndDel) {
  for (int byte = 0; byte < 0x20; ++byte) {
    const std::string raw(1, static_cast<char>(byte));
    const char hex[] = "0123456789abcdef";
    const std::string expected = std::string("\\x") + hex[byte >> 4] + hex[byte & 15];
    EXPECT_EQ(esc(raw), expected) << byte;
  }
  EXPECT_EQ(esc("\x7f"), "\\x7f");
  EXPECT_EQ(esc("user\nFAKE 2024 access GET /"), "user\\x0aFAKE 2024 access GET /");
  EXPECT_EQ(esc("a\r\nb"), "a\\x0d\\x0ab");
  EXPECT_EQ(esc("/\x1b[2J\x1b]0;pwned\x07"), "/\\x1b[2J\\x1b]0;pwned\\x07");
  EXPECT_EQ(esc(std::string_view("a\0b", 3)), "a\\x00b");
}

TEST(LogEscape, EscapesTheBackslashSoThatEscapesAreUnambiguous) {
  // A client sending the four characters \x1b must not look like one escaped ESC.
  EXPECT_EQ(esc("\\x1b"), "\\\\x1b");
  EXPECT_NE(esc("\\x1b"), esc("\x1b"));
  EXPECT_EQ(esc("\\"), "\\\\");
}

TEST(LogEscape, SpacesOnlyWhenAsked) {
  EXPECT_EQ(esc("a b\tc"), "a b\\x09c");
  EXPECT_EQ(esc("u1 status=500", Spaces::escape), "u1\\x20status=500");
}

TEST(LogEscape, EscapesEachByteOfInvalidUtf8) {
  EXPECT_EQ(esc("\xff"), "\\xff");
  EXPECT_EQ(esc("\x80"), "\\x80");                             // lone continuation byte
  EXPECT_EQ(esc("a\xc3"), "a\\xc3");                           // truncated sequence at the end
  EXPECT_EQ(esc("\xc3("), "\\xc3(");                           // lead byte without its continuation
  EXPECT_EQ(esc("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(esc("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");           // overlong '/', three bytes
  EXPECT_EQ(esc("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // UTF-16 surrogate
  EXPECT_EQ(esc("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(esc("\xf5\x80\x80\x80"), "\\xf5\\x80\\x80\\x80");
  EXPECT_EQ(esc("\x9b"
                "2J"),
            "\\x9b2J");  // an 8-bit terminal's CSI
  // Boundaries that are valid.
  EXPECT_EQ(esc("\xc2\xa0"), "\xc2\xa0");                  // U+00A0
  EXPECT_EQ(esc("\xed\x9f\xbf"), "\xed\x9f\xbf");          // U+D7FF
  EXPECT_EQ(esc("\xf4\x8f\xbf\xbf"), "\xf4\x8f\xbf\xbf");  // U+10FFFF
}

TEST(LogEscape, EscapesInvisibleAndLineBreakingCodePoints) {
  EXPECT_EQ(esc("\xc2\x85"), "\\u0085");  // NEL
  EXPECT_EQ(esc("\xc2\x9b"), "\\u009b");  // C1 CSI
  EXPECT_EQ(esc("a\xe2\x80\xa8"
                "b"),
            "a\\u2028b");  // line separator
  EXPECT_EQ(esc("\xe2\x80\xa9"), "\\u2029");
  EXPECT_EQ(esc("\xe2\x80\xae"), "\\u202e");  // right-to-left override
  EXPECT_EQ(esc("\xe2\x81\xa6"), "\\u2066");
  EXPECT_EQ(esc("\xe2\x80\x8f"), "\\u200f");
}

TEST(LogEscape, CapsOnACharacterBoundaryWithAMarker) {
  EXPECT_EQ(escape("abcdef", 6), "abcdef");
  EXPECT_EQ(escape("abcdefg", 6), "abcdef...[cut:7-bytes]");
  EXPECT_EQ(escape("abcdefg", 0), "...[cut:7-bytes]");
  // The cap counts bytes of the value, not of its escaped form.
  EXPECT_EQ(escape("\n\n\n", 3), "\\x0a\\x0a\\x0a");
  // A character that does not fit whole is left out, not split.
  EXPECT_EQ(escape("ab\xe2\x82\xac", 4), "ab...[cut:5-bytes]");
  EXPECT_EQ(escape("ab\xe2\x82\xac", 5), "ab\xe2\x82\xac");
  const std::string path(5000, 'a');
  const std::string cut = escape(path, imagecpp::log::kMaxPathBytes);
  EXPECT_EQ(cut, std::string(1024, 'a') + "...[cut:5000-bytes]");
}

TEST(LogEscape, OutputIsAlwaysValidUtf8WithoutControlsAndValidJson) {
  std::string every_byte;
  for (int byte = 0; byte < 256; ++byte) every_byte += static_cast<char>(byte);
  for (const std::string& raw :
       {every_byte, std::string("\xe2\x82"), std::string("\xf0\x9f\x93")}) {
    const std::string out = esc(raw);
    EXPECT_TRUE(is_valid_utf8(out));
    for (const char c : out) {
      const auto byte = static_cast<unsigned char>(c);
      EXPECT_TRUE(byte >= 0x20 && byte != 0x7f) << static_cast<int>(byte);
    }
    // boost::json copies bytes of 0x80 and above as they are: only valid UTF-8 input keeps a
    // JSON line valid, and the value then reads back exactly.
    const std::string line = boost::json::serialize(boost::json::value(out));
    EXPECT_EQ(boost::json::parse(line).as_string(), out);
  }
}

TEST(LogEscape, RawInvalidUtf8WouldBreakAJsonLine) {
  // Why the JSON log escapes too: boost::json writes bytes of 0x80 and above as they are.
  const std::string line = boost::json::serialize(boost::json::value("user-\xff"));
  boost::system::error_code ec;
  boost::json::parse(line, ec);
  EXPECT_TRUE(ec) << line;
}

TEST(LogEscape, ValidUtf8Check) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain \x01 ascii"));
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9\xf0\x9f\x93\xb7"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc1\xbf"));
}

}  // namespace
