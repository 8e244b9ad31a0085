#include <gtest/gtest.h>

#include <random>
#include <string>

#include "base64_reference.hpp"
#include "core/base64.hpp"

namespace b64 = imagecpp::base64;

namespace {

std::string random_bytes(std::mt19937& rng, std::size_t n) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(byte(rng));
  return out;
}

std::string strip_padding(std::string s) {
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

}  // namespace

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(b64::encode(""), "");
  EXPECT_EQ(b64::encode("f"), "Zg==");
  EXPECT_EQ(b64::encode("fo"), "Zm8=");
  EXPECT_EQ(b64::encode("foo"), "Zm9v");
  EXPECT_EQ(b64::encode("foob"), "Zm9vYg==");
  EXPECT_EQ(b64::encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(b64::encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(b64::decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(b64::decode("Zm9vYg=="), "foob");
  EXPECT_EQ(b64::decode(""), "");
}

TEST(Base64, EncodedSize) {
  EXPECT_EQ(b64::encoded_size(0), 0u);
  EXPECT_EQ(b64::encoded_size(1), 4u);
  EXPECT_EQ(b64::encoded_size(3), 4u);
  EXPECT_EQ(b64::encoded_size(4), 8u);
}

TEST(Base64, EncodeAppendKeepsPrefix) {
  std::string out = "data:image/png;base64,";
  b64::encode_append("foo", out);
  EXPECT_EQ(out, "data:image/png;base64,Zm9v");
}

TEST(Base64, RoundTripAllLengthsPaddedAndUnpadded) {
  std::mt19937 rng(42);
  for (std::size_t n = 0; n <= 64; ++n) {
    const std::string bytes = random_bytes(rng, n);
    const std::string encoded = b64::encode(bytes);
    EXPECT_EQ(encoded.size(), b64::encoded_size(n));
    EXPECT_EQ(b64::decode(encoded), bytes) << n;
    EXPECT_EQ(b64::decode(strip_padding(encoded)), bytes) << n;
  }
}

TEST(Base64, AllByteValues) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  EXPECT_EQ(b64::decode(b64::encode(bytes)), bytes);
}

TEST(Base64, UrlSafeAlphabet) {
  const std::string bytes = "\xfb\xff\xbf";
  EXPECT_EQ(b64::encode(bytes), "+/+/");
  EXPECT_EQ(b64::decode("-_-_"), bytes);
  EXPECT_EQ(b64::decode("+_-/"), bytes);  // mixed, as Node accepts
}

TEST(Base64, WhitespaceIsSkipped) {
  EXPECT_EQ(b64::decode("Zm9v\r\nYmFy"), "foobar");
  EXPECT_EQ(b64::decode(" Z m 9 v\tY\vm\fF y \n"), "foobar");
  EXPECT_EQ(b64::decode("Zm9vYg=\n="), "foob");
  EXPECT_EQ(b64::decode("Zm9vYg==\n"), "foob");
  EXPECT_EQ(b64::decode(" \n\t"), "");
}

TEST(Base64, PaddingVariants) {
  EXPECT_EQ(b64::decode("Zg"), "f");
  EXPECT_EQ(b64::decode("Zg=="), "f");
  EXPECT_EQ(b64::decode("Zm8"), "fo");
  EXPECT_EQ(b64::decode("Zm8="), "fo");
  EXPECT_EQ(b64::decode("Zg="), std::nullopt);    // incomplete padding
  EXPECT_EQ(b64::decode("Zg==="), std::nullopt);  // too much padding
  EXPECT_EQ(b64::decode("Zm8=="), std::nullopt);
  EXPECT_EQ(b64::decode("Zm9v="), std::nullopt);
  EXPECT_EQ(b64::decode("Zm9v===="), std::nullopt);
  EXPECT_EQ(b64::decode("===="), std::nullopt);
  EXPECT_EQ(b64::decode("="), std::nullopt);
  EXPECT_EQ(b64::decode("Z==="), std::nullopt);
}

TEST(Base64, DataAfterPaddingRejected) {
  EXPECT_EQ(b64::decode("Zg==Zg=="), std::nullopt);
  EXPECT_EQ(b64::decode("Zm8=Zm9v"), std::nullopt);
  EXPECT_EQ(b64::decode("Zg=a="), std::nullopt);
}

TEST(Base64, DanglingSymbolRejected) {
  EXPECT_EQ(b64::decode("Z"), std::nullopt);
  EXPECT_EQ(b64::decode("Zm9vY"), std::nullopt);
  EXPECT_EQ(b64::decode("Zm9vY \n"), std::nullopt);
}

TEST(Base64, BadAlphabetRejected) {
  for (const char* bad : {"Zm9v!mFy", "Zm9v.", "Zm9v\x80YmFy", "data:Zm9v", "Zm*v"}) {
    EXPECT_EQ(b64::decode(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(b64::decode(std::string_view("Zm9v\0YmFy", 9)), std::nullopt);
}

TEST(Base64, LargeRoundTrip) {
  std::mt19937 rng(7);
  const std::string bytes = random_bytes(rng, 1 << 20);
  EXPECT_EQ(b64::decode(b64::encode(bytes)), bytes);
}

// The decoder against the symbol-by-symbol reference, on inputs that mix what it meets: long runs
// of symbols (its table path), whitespace and padding anywhere, URL-safe symbols, bad bytes.
TEST(Base64, AgreesWithTheReferenceDecoder) {
  std::mt19937 rng(1130);
  const std::string symbols = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_";
  const std::string others = " \t\r\n\v\f=*.\x80\xff\0";
  std::uniform_int_distribution<std::size_t> length(0, 64);
  std::uniform_int_distribution<int> percent(0, 99);
  std::size_t decoded = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string input;
    const int noise = percent(rng) < 50 ? 0 : percent(rng) / 10;  // half of them clean
    for (std::size_t n = length(rng); n > 0; --n) {
      const std::string& from = percent(rng) < noise ? others : symbols;
      input += from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(rng)];
    }
    const auto expected = imagecpp::base64_reference::decode(input);
    ASSERT_EQ(b64::decode(input), expected) << testing::PrintToString(input);
    decoded += expected.has_value();
  }
  EXPECT_GT(decoded, 50000u);  // both outcomes were compared, not only refusals
}

// Large payloads: every quad of a 1 MB encoding, wrapped or not, with a bad byte at any place.
TEST(Base64, LargePayloadsAgreeWithTheReference) {
  std::mt19937 rng(2026);
  const std::string raw = random_bytes(rng, 1 << 20);
  std::string encoded = b64::encode(raw);
  ASSERT_EQ(b64::decode(encoded), raw);
  std::string wrapped;
  for (std::size_t i = 0; i < encoded.size(); i += 76) wrapped += encoded.substr(i, 76) + "\r\n";
  ASSERT_EQ(b64::decode(wrapped), raw);
  for (const std::size_t at :
       {std::size_t{0}, std::size_t{5}, encoded.size() / 2, encoded.size() - 1}) {
    std::string bad = encoded;
    bad[at] = '*';
    EXPECT_FALSE(b64::decode(bad).has_value()) << at;
    EXPECT_FALSE(imagecpp::base64_reference::decode(bad).has_value()) << at;
  }
}
