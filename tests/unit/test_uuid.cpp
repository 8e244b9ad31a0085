#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "core/uuid.hpp"

namespace uuid = imagecpp::uuid;

class UuidGenerator : public ::testing::TestWithParam<std::string (*)()> {};

TEST_P(UuidGenerator, GeneratesCanonicalLowercaseV4) {
  for (int i = 0; i < 100; ++i) {
    const std::string id = GetParam()();
    ASSERT_TRUE(uuid::is_valid(id)) << id;
    EXPECT_EQ(id, uuid::normalize(id));
    EXPECT_EQ(id[14], '4') << id;                                          // version
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // RFC 4122 variant
  }
}

TEST_P(UuidGenerator, GeneratesDistinctIds) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(GetParam()());
  EXPECT_EQ(ids.size(), 1000u);
}

INSTANTIATE_TEST_SUITE_P(OsEntropyAndFast, UuidGenerator,
                         ::testing::Values(&uuid::generate,
                                           static_cast<std::string (*)()>(&uuid::generate_fast)),
                         [](const auto& info) { return info.index == 0 ? "Os" : "Fast"; });

// Written over a string that held something else (a client's longer correlation id, say).
TEST(Uuid, FastIntoAStringReplacesItWhole) {
  std::string out(100, 'x');
  uuid::generate_fast(out);
  EXPECT_TRUE(uuid::is_valid(out)) << out;
  EXPECT_EQ(out[14], '4');
  const std::string first = out;
  uuid::generate_fast(out);
  EXPECT_TRUE(uuid::is_valid(out)) << out;
  EXPECT_NE(out, first);
}

TEST(Uuid, ValidForms) {
  EXPECT_TRUE(uuid::is_valid("3f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8c"));
  EXPECT_TRUE(uuid::is_valid("3F2B6C1E-9D4A-4F7B-8A1C-0E5D2F6A7B8C"));
  EXPECT_TRUE(uuid::is_valid("00000000-0000-0000-0000-000000000000"));
  EXPECT_TRUE(uuid::is_valid("3f2b6c1e-9d4a-1f7b-0a1c-0e5d2f6a7b8c"));  // any version/variant
}

TEST(Uuid, InvalidForms) {
  for (const char* bad : {
           "",
           "3f2b6c1e9d4a4f7b8a1c0e5d2f6a7b8c",        // no dashes
           "{3f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8c}",  // braces
           "3f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8",     // short
           "3f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8c0",   // long
           "3f2b6c1e-9d4a-4f7b-8a1c_0e5d2f6a7b8c",    // wrong separator
           "3f2b6c1e9-d4a-4f7b-8a1c-0e5d2f6a7b8c",    // dash misplaced
           "3f2b6c1g-9d4a-4f7b-8a1c-0e5d2f6a7b8c",    // not hex
           " 3f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8",    // leading space
           "../../../../etc/passwd-xxxxxxxxxxxxx",
       }) {
    EXPECT_FALSE(uuid::is_valid(bad)) << bad;
  }
}

TEST(Uuid, NormalizeLowercases) {
  EXPECT_EQ(uuid::normalize("3F2B6C1E-9D4A-4F7B-8A1C-0E5D2F6A7B8C"),
            "3f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8c");
  EXPECT_THROW(uuid::normalize("not-a-uuid"), std::invalid_argument);
}
