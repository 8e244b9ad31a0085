#include <gtest/gtest.h>

#include <stdexcept>

#include "store/redis_url.hpp"

using imagecpp::store::describe;
using imagecpp::store::parse_redis_url;
using imagecpp::store::RedisEndpoint;

namespace {

RedisEndpoint endpoint(std::string host, std::uint16_t port, std::string user = {},
                       std::string password = {}, std::optional<unsigned> db = {}) {
  return RedisEndpoint{std::move(host), port, std::move(user), std::move(password), db};
}

}  // namespace

TEST(RedisUrl, GoPeersHostPort) {
  EXPECT_EQ(parse_redis_url("localhost:6379"), endpoint("localhost", 6379));
  EXPECT_EQ(parse_redis_url("redis:6380"), endpoint("redis", 6380));
  EXPECT_EQ(parse_redis_url("10.0.0.5:7000"), endpoint("10.0.0.5", 7000));
  EXPECT_EQ(parse_redis_url("[::1]:6379"), endpoint("::1", 6379));
}

TEST(RedisUrl, NodePeersHostWithRedisPort) {
  EXPECT_EQ(parse_redis_url("localhost", 6390), endpoint("localhost", 6390));
  EXPECT_EQ(parse_redis_url("redis-host"), endpoint("redis-host", 6379));
  // A port in the URL wins over REDIS_PORT.
  EXPECT_EQ(parse_redis_url("localhost:6381", 6390), endpoint("localhost", 6381));
  EXPECT_EQ(parse_redis_url("redis://localhost", 6390), endpoint("localhost", 6390));
}

TEST(RedisUrl, UrlForm) {
  EXPECT_EQ(parse_redis_url("redis://localhost"), endpoint("localhost", 6379));
  EXPECT_EQ(parse_redis_url("redis://localhost:6390/"), endpoint("localhost", 6390));
  EXPECT_EQ(parse_redis_url("redis://h:1/2"), endpoint("h", 1, "", "", 2));
  EXPECT_EQ(parse_redis_url("REDIS://h/0"), endpoint("h", 6379, "", "", 0));
  EXPECT_EQ(parse_redis_url("redis://[::1]:7000/15"), endpoint("::1", 7000, "", "", 15));
  EXPECT_EQ(parse_redis_url("redis://h:6379/3?protocol=3#x"), endpoint("h", 6379, "", "", 3));
}

TEST(RedisUrl, Credentials) {
  EXPECT_EQ(parse_redis_url("redis://:secret@h:6379"), endpoint("h", 6379, "", "secret"));
  EXPECT_EQ(parse_redis_url("redis://alice:secret@h:6379/4"),
            endpoint("h", 6379, "alice", "secret", 4));
  // Without a colon the userinfo is the password, as redis-cli reads it.
  EXPECT_EQ(parse_redis_url("redis://secret@h"), endpoint("h", 6379, "", "secret"));
  // Percent-encoded characters are decoded.
  EXPECT_EQ(parse_redis_url("redis://al%40ce:p%3Ass%2F%25@h"),
            endpoint("h", 6379, "al@ce", "p:ss/%"));
  EXPECT_EQ(parse_redis_url("redis://:@h"), endpoint("h", 6379));
}

TEST(RedisUrl, Errors) {
  for (const char* bad : {"", "rediss://h:6380", "http://h:6379", "unix:///tmp/redis.sock",
                          "redis://", "redis://:6379", "redis://h:0", "redis://h:65536",
                          "redis://h:99999", "redis://h:x", "h:abc", "h:", ":6379", "redis://h/x",
                          "redis://h/-1", "redis://h/1/2", "a b:1", "redis://h:6379/99999999999"}) {
    EXPECT_THROW(parse_redis_url(bad), std::invalid_argument) << bad;
  }
  EXPECT_THROW(parse_redis_url("localhost", 0), std::invalid_argument);
}

TEST(RedisUrl, ErrorsNeverShowThePassword) {
  try {
    parse_redis_url("redis://u:hunter2@h:99999");
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
}

TEST(RedisUrl, DescribeMasksThePassword) {
  EXPECT_EQ(describe(endpoint("h", 6379)), "redis://h:6379");
  EXPECT_EQ(describe(endpoint("h", 6379, "alice", "secret", 2)), "redis://alice:***@h:6379/2");
  EXPECT_EQ(describe(endpoint("::1", 7000, "", "secret")), "redis://:***@[::1]:7000");
}
