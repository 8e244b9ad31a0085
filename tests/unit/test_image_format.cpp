#include <gtest/gtest.h>

#include <random>
#include <string>

#include "image/format.hpp"
#include "test_images.hpp"

namespace imagecpp::image {
namespace {

using test::image_bytes;

// An ISO-BMFF ftyp box with the given major and compatible brands, then a few bytes of "meta".
std::string ftyp(std::string_view major, std::initializer_list<std::string_view> compatible) {
  const std::size_t size = 16 + 4 * compatible.size();
  std::string box{'\0', '\0', '\0', static_cast<char>(size)};
  box += "ftyp";
  box += major;
  box += std::string(4, '\0');
  for (const std::string_view brand : compatible) box += brand;
  return box + std::string("\0\0\0\x08meta", 8);
}

TEST(FormatSniff, RecognisesRealFiles) {
  EXPECT_EQ(sniff(image_bytes("snake.jpg")), Format::jpeg);
  EXPECT_EQ(sniff(image_bytes("snake-progressive.jpg")), Format::jpeg);
  EXPECT_EQ(sniff(image_bytes("snake.png")), Format::png);
  EXPECT_EQ(sniff(image_bytes("snake.gif")), Format::gif);
  EXPECT_EQ(sniff(image_bytes("sample.webp")), Format::webp);
  EXPECT_EQ(sniff(image_bytes("sample.avif")), Format::avif);
  EXPECT_EQ(sniff(image_bytes("snake.heic")), Format::heic);
}

TEST(FormatSniff, RecognisesMinimalMagic) {
  EXPECT_EQ(sniff("\xff\xd8\xff"), Format::jpeg);
  EXPECT_EQ(sniff(std::string_view("\x89PNG\r\n\x1a\n", 8)), Format::png);
  EXPECT_EQ(sniff("GIF87a"), Format::gif);
  EXPECT_EQ(sniff("GIF89a"), Format::gif);
  EXPECT_EQ(sniff(std::string_view("RIFF\0\0\0\0WEBP", 12)), Format::webp);
}

TEST(FormatSniff, RejectsEmptyShortAndTruncatedMagic) {
  EXPECT_EQ(sniff(""), std::nullopt);
  EXPECT_EQ(sniff("\xff\xd8"), std::nullopt);
  EXPECT_EQ(sniff("abc"), std::nullopt);
  EXPECT_EQ(sniff(std::string_view("\x89PNG\r\n\x1a", 7)), std::nullopt);
  EXPECT_EQ(sniff("GIF89"), std::nullopt);
  EXPECT_EQ(sniff("GIF88a"), std::nullopt);
  EXPECT_EQ(sniff(std::string_view("RIFF\0\0\0\0WEB", 11)), std::nullopt);
  EXPECT_EQ(sniff(std::string_view("RIFF\0\0\0\0WAVE", 12)), std::nullopt);
  EXPECT_EQ(sniff(ftyp("avif", {}).substr(0, 12)), std::nullopt);
}

TEST(FormatSniff, RejectsOtherFormats) {
  EXPECT_EQ(sniff(image_bytes("sample.tif")), std::nullopt);
  EXPECT_EQ(sniff(image_bytes("snake.bmp")), std::nullopt);
  EXPECT_EQ(sniff(image_bytes("sample.jxl")), std::nullopt);
  EXPECT_EQ(sniff(image_bytes("svg.svg")), std::nullopt);
  EXPECT_EQ(sniff(ftyp("mp42", {"isom", "mp42"})), std::nullopt);  // a video
}

TEST(FormatSniff, RejectsRandomBytes) {
  std::mt19937 random(42);
  for (int i = 0; i < 1000; ++i) {
    std::string bytes(random() % 64, '\0');
    for (char& byte : bytes) byte = static_cast<char>(random());
    if (!bytes.empty()) bytes[0] = 'x';  // no magic starts so; "ftyp" at 4 is 2^-32 likely
    EXPECT_EQ(sniff(bytes), std::nullopt) << "case " << i;
  }
}

TEST(FormatSniff, HeifMajorBrandDecides) {
  EXPECT_EQ(sniff(ftyp("avif", {"mif1", "miaf"})), Format::avif);
  EXPECT_EQ(sniff(ftyp("avis", {"msf1"})), Format::avif);
  EXPECT_EQ(sniff(ftyp("heic", {"mif1"})), Format::heic);
  EXPECT_EQ(sniff(ftyp("heix", {})), Format::heic);
  EXPECT_EQ(sniff(ftyp("hevc", {"msf1"})), Format::heic);
}

TEST(FormatSniff, GenericHeifMajorBrandDefersToCompatibleBrands) {
  EXPECT_EQ(sniff(ftyp("mif1", {"miaf", "avif"})), Format::avif);
  EXPECT_EQ(sniff(ftyp("mif1", {"heic"})), Format::heic);
  EXPECT_EQ(sniff(ftyp("msf1", {"msf1", "hevc"})), Format::heic);
  EXPECT_EQ(sniff(ftyp("mif1", {})), Format::heic);
  EXPECT_EQ(sniff(ftyp("isom", {"mif1"})), Format::heic);
  EXPECT_EQ(sniff(ftyp("isom", {"avif"})), Format::avif);
}

TEST(FormatSniff, CompatibleBrandsStayInsideTheBox) {
  std::string box = ftyp("mif1", {});
  box += "avif";  // after the box: not a compatible brand
  EXPECT_EQ(sniff(box), Format::heic);
  std::string oversized = ftyp("isom", {"avif"});
  oversized[3] = '\x7f';  // declares more than there is: read what exists, nothing beyond
  EXPECT_EQ(sniff(oversized), Format::avif);
  EXPECT_EQ(sniff(oversized.substr(0, 18)), std::nullopt);
}

TEST(FormatNames, MimeTypesAndNames) {
  EXPECT_EQ(mime_type(Format::jpeg), "image/jpeg");
  EXPECT_EQ(mime_type(Format::png), "image/png");
  EXPECT_EQ(mime_type(Format::webp), "image/webp");
  EXPECT_EQ(mime_type(Format::gif), "image/gif");
  EXPECT_EQ(mime_type(Format::avif), "image/avif");
  EXPECT_EQ(mime_type(Format::heic), "image/heic");
  EXPECT_EQ(name(Format::jpeg), "jpeg");
  EXPECT_EQ(name(Format::png), "png");
  EXPECT_EQ(name(Format::webp), "webp");
  EXPECT_EQ(name(Format::gif), "gif");
  EXPECT_EQ(name(Format::avif), "avif");
  EXPECT_EQ(name(Format::heic), "heic");
}

}  // namespace
}  // namespace imagecpp::image
