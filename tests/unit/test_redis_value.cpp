#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "store/redis_value.hpp"

using imagecpp::Error;
using imagecpp::ErrorCode;
using namespace imagecpp::store;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

ErrorCode decode_error(std::string_view value) {
  try {
    decode_data_url(value);
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "decoded " << value;
  return ErrorCode::bad_input;
}

}  // namespace

TEST(RedisValue, EncodesWithTheGivenMediaType) {
  const std::string png = read_file(IMAGECPP_TEST_IMAGES "/alpha.png");
  ASSERT_FALSE(png.empty());
  const std::string value = encode_data_url(png, "image/png");
  EXPECT_EQ(value, "data:image/png;base64," + imagecpp::base64::encode(png));
  EXPECT_TRUE(is_data_url(value));
  EXPECT_EQ(decode_data_url(value), png);
}

TEST(RedisValue, DecodesWhatThePeersStore) {
  EXPECT_EQ(decode_data_url("data:image/jpeg;base64,/9j/4AAQ"),
            std::string("\xff\xd8\xff\xe0\x00\x10", 6));
  EXPECT_EQ(decode_data_url("data:image/png;charset=x;BASE64,aGk="), "hi");
  EXPECT_EQ(decode_data_url("data:;base64,aGk"), "hi");  // no media type, no padding
}

TEST(RedisValue, RawBytesAreNotDataUrls) {
  EXPECT_FALSE(is_data_url("\xff\xd8\xff\xe0"));
  EXPECT_FALSE(is_data_url("dat"));
  EXPECT_FALSE(is_data_url(""));
}

TEST(RedisValue, UnreadableDataUrlsAreInternalErrors) {
  EXPECT_EQ(decode_error("data:image/png"), ErrorCode::internal);
  EXPECT_EQ(decode_error("data:image/png,plain%20text"), ErrorCode::internal);
  EXPECT_EQ(decode_error("data:image/png;base64,@@@"), ErrorCode::internal);
}

TEST(RedisValue, AnyMediaTypeEncodes) {
  EXPECT_EQ(encode_data_url("hi", "application/octet-stream"),
            "data:application/octet-stream;base64,aGk=");
}
