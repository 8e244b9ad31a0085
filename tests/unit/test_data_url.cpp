#include <gtest/gtest.h>

#include "core/data_url.hpp"

namespace data_url = imagecpp::data_url;

TEST(DataUrl, SplitsTypeParametersAndData) {
  const auto p = data_url::split("data:image/png;charset=x;BASE64,aGk=");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->media_type, "image/png");
  EXPECT_TRUE(p->base64);
  EXPECT_TRUE(p->well_formed);
  EXPECT_EQ(p->data, "aGk=");
}

TEST(DataUrl, SchemeInAnyCaseAndAnEmptyTypeOrData) {
  const auto p = data_url::split("DaTa:;base64,");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->media_type, "");
  EXPECT_TRUE(p->base64);
  EXPECT_EQ(p->data, "");
  EXPECT_TRUE(data_url::is_data_url("DATA:x"));
}

TEST(DataUrl, NotDataUrls) {
  EXPECT_FALSE(data_url::split("image/png;base64,aGk=").has_value());
  EXPECT_FALSE(data_url::split("data:image/png;base64").has_value());  // no comma
  EXPECT_FALSE(data_url::split("dat").has_value());
  EXPECT_FALSE(data_url::split("").has_value());
  EXPECT_FALSE(data_url::is_data_url("\xff\xd8\xff"));
}

TEST(DataUrl, Base64OnlyWhenLast) {
  const auto plain = data_url::split("data:text/plain,hi");
  ASSERT_TRUE(plain.has_value());
  EXPECT_FALSE(plain->base64);
  EXPECT_TRUE(plain->well_formed);

  const auto late = data_url::split("data:image/png;base64;x=1,aGk=");
  ASSERT_TRUE(late.has_value());
  EXPECT_FALSE(late->base64);
  EXPECT_FALSE(late->well_formed);
}

TEST(DataUrl, ParametersMustBeNameEqualsValue) {
  for (const char* text : {"data:image/png;x;base64,a", "data:image/png;=1;base64,a",
                           "data:image/png;;base64,a", "data:image/png;base64;base64,a"}) {
    const auto p = data_url::split(text);
    ASSERT_TRUE(p.has_value()) << text;
    EXPECT_FALSE(p->well_formed) << text;
  }
}

TEST(DataUrl, TheDataStartsAtTheFirstComma) {
  const auto p = data_url::split("data:image/png;a=b,c;base64,xyz");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->media_type, "image/png");
  EXPECT_FALSE(p->base64);
  EXPECT_EQ(p->data, "c;base64,xyz");
}
