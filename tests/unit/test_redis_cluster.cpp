// Redis Cluster routing without a cluster: key slots (checked against a real redis-server's
// CLUSTER KEYSLOT too), the slot map from CLUSTER SLOTS replies, redirects and the decisions
// taken on them, and the cluster URL.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <stdexcept>

#include "run_awaitable.hpp"
#include "store/redis_cluster_redirect.hpp"
#include "store/redis_cluster_slots.hpp"
#include "store/redis_reply.hpp"
#include "store/redis_slot.hpp"
#include "store/redis_store.hpp"
#include "store/redis_url.hpp"
#include "temp_dir.hpp"
#include "test_redis_server.hpp"

using imagecpp::share;
using imagecpp::SharedBytes;
using namespace imagecpp::store;

namespace {

RedisReply integer(long long value) {
  RedisReply r;
  r.type = RedisReply::Type::integer;
  r.integer = value;
  return r;
}

RedisReply bulk(std::string text) {
  RedisReply r;
  r.type = RedisReply::Type::string;
  r.text = std::move(text);
  return r;
}

RedisReply error_reply(std::string text) {
  RedisReply r;
  r.type = RedisReply::Type::error;
  r.text = std::move(text);
  return r;
}

RedisReply status_reply(std::string text) {
  RedisReply r;
  r.type = RedisReply::Type::status;
  r.text = std::move(text);
  return r;
}

RedisReply array(std::vector<RedisReply> items) {
  RedisReply r;
  r.type = RedisReply::Type::array;
  r.items = std::move(items);
  return r;
}

// [first, last, [host, port, id], [replica host, port, id]...] as Redis 7 sends it.
RedisReply range(long long first, long long last, std::string host, long long port,
                 std::vector<std::pair<std::string, long long>> replicas = {}) {
  std::vector<RedisReply> items{integer(first), integer(last),
                                array({bulk(host), integer(port), bulk("id-m")})};
  for (auto& [h, p] : replicas) items.push_back(array({bulk(h), integer(p), bulk("id-r")}));
  return array(std::move(items));
}

const NodeAddress kAsked{"10.0.0.9", 7009};

NodeAddress node(std::string host, std::uint16_t port) {
  return NodeAddress{std::move(host), port};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Slots

TEST(RedisClusterSlot, Crc16KnownVectors) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);  // CRC-16/XMODEM check value
  EXPECT_EQ(crc16(""), 0);
  EXPECT_EQ(crc16(std::string_view("\0", 1)), 0);
  EXPECT_EQ(crc16("A"), 0x58E5);
}

TEST(RedisClusterSlot, HashTags) {
  // The Redis Cluster specification's examples.
  EXPECT_EQ(hash_tag("{user1000}.following"), "user1000");
  EXPECT_EQ(hash_tag("{user1000}.followers"), "user1000");
  EXPECT_EQ(hash_tag("foo{}{bar}"), "foo{}{bar}");  // an empty tag: the whole key
  EXPECT_EQ(hash_tag("foo{{bar}}zap"), "{bar");     // from the first '{' to the first '}'
  EXPECT_EQ(hash_tag("foo{bar}{zap}"), "bar");      // the first tag only
  EXPECT_EQ(hash_tag("no-tag"), "no-tag");
  EXPECT_EQ(hash_tag("open{only"), "open{only");
  EXPECT_EQ(hash_tag("}{x}"), "x");
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
  EXPECT_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar"));
  EXPECT_EQ(key_slot("foo{bar}{zap}"), key_slot("bar"));
  EXPECT_EQ(key_slot("123456789"), 0x31C3 % 16384);
}

TEST(RedisClusterSlot, StoreKeysOfOneImageSpreadOverSlots) {
  // The service's keys carry no tag: an image's variants land anywhere, like the peers' keys.
  const std::string id = "8c1a2b3c-0d4e-4f50-9a6b-7c8d9e0f1a2b";
  EXPECT_EQ(hash_tag(id + "_320"), id + "_320");
  EXPECT_EQ(key_slot(id + "_jpeg"), crc16(id + "_jpeg") % 16384);
}

// The slot of random keys (binary, with braces) as a real redis-server computes it.
TEST(RedisClusterSlot, MatchesRedisKeyslot) {
  imagecpp::test::TempDir dir;
  imagecpp::test::RedisServer server(
      {"--cluster-enabled", "yes", "--cluster-config-file", (dir.path() / "nodes.conf").bulk()});
  RedisStore store(RedisConfig{.endpoint = parse_redis_url(server.address())});
  std::mt19937 rng(7);
  const std::string alphabet("ab{}{}\0\xff-_0123456789", 20);
  for (int i = 0; i < 300; ++i) {
    std::string key(rng() % 24, '\0');
    for (char& c : key) c = alphabet[rng() % alphabet.size()];
    const RedisReply reply =
        imagecpp::test::run_awaitable(store.command({"CLUSTER", "KEYSLOT", key}));
    ASSERT_EQ(reply.type, RedisReply::Type::integer) << reply.text;
    EXPECT_EQ(reply.integer, key_slot(key)) << "key of " << key.size() << " bytes";
  }
}

// ---------------------------------------------------------------------------------------------
// The slot map

TEST(RedisClusterSlots, ParsesAWholeMap) {
  const RedisReply reply = array({range(10923, 16383, "127.0.0.1", 7002, {{"127.0.0.1", 7005}}),
                                  range(0, 5460, "127.0.0.1", 7000, {{"127.0.0.1", 7003}}),
                                  range(5461, 10922, "127.0.0.1", 7001, {{"127.0.0.1", 7004}})});
  const ParsedSlots parsed = parse_cluster_slots(reply, kAsked);
  ASSERT_EQ(parsed.error, "");
  ASSERT_EQ(parsed.ranges.size(), 3u);
  EXPECT_EQ(parsed.ranges[0].first, 0);  // sorted by slot
  EXPECT_EQ(parsed.ranges[0].replicas, std::vector<NodeAddress>{node("127.0.0.1", 7003)});
  const SlotMap map(parsed.ranges);
  EXPECT_EQ(map.covered(), 16384u);
  EXPECT_EQ(*map.owner(0), node("127.0.0.1", 7000));
  EXPECT_EQ(*map.owner(5460), node("127.0.0.1", 7000));
  EXPECT_EQ(*map.owner(5461), node("127.0.0.1", 7001));
  EXPECT_EQ(*map.owner(16383), node("127.0.0.1", 7002));
  EXPECT_EQ(map.masters().size(), 3u);
  EXPECT_EQ(map.nodes().size(), 6u);
}

TEST(RedisClusterSlots, ParsesTheWireFormat) {
  // As a Redis 7 node sends it, with the fourth field (a map of host names) of 7.0.
  const std::string resp =
      "*2\r\n"
      "*3\r\n:0\r\n:8191\r\n*4\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n*0\r\n"
      "*4\r\n:8192\r\n:16383\r\n*4\r\n$0\r\n\r\n:7001\r\n$2\r\nid\r\n*0\r\n"
      "*4\r\n$9\r\n127.0.0.1\r\n:7002\r\n$2\r\nid\r\n*0\r\n";
  const auto reply = parse_resp(resp);
  ASSERT_TRUE(reply);
  const ParsedSlots parsed = parse_cluster_slots(*reply, kAsked);
  ASSERT_EQ(parsed.error, "");
  const SlotMap map(parsed.ranges);
  EXPECT_EQ(*map.owner(8191), node("127.0.0.1", 7000));
  EXPECT_EQ(*map.owner(8192), node(kAsked.host, 7001));  // "" is the asked node's host
  EXPECT_EQ(parsed.ranges[1].replicas, std::vector<NodeAddress>{node("127.0.0.1", 7002)});
}

TEST(RedisClusterSlots, UnknownEndpointIsTheAskedNode) {
  RedisReply nil_host = array({integer(0), integer(1), array({RedisReply{}, integer(7001)})});
  const RedisReply reply =
      array({std::move(nil_host), range(2, 3, "?", 7002), range(4, 5, "", 7003)});
  const ParsedSlots parsed = parse_cluster_slots(reply, kAsked);
  ASSERT_EQ(parsed.error, "");
  for (const SlotRange& r : parsed.ranges) EXPECT_EQ(r.master.host, kAsked.host);
}

TEST(RedisClusterSlots, PartialMapLeavesSlotsWithoutOwner) {
  // A master failed and no replica took over yet, or slots never assigned.
  const RedisReply reply = array({range(0, 100, "h", 1), range(5000, 5000, "h2", 2)});
  const ParsedSlots parsed = parse_cluster_slots(reply, kAsked);
  ASSERT_EQ(parsed.error, "");
  const SlotMap map(parsed.ranges);
  EXPECT_EQ(map.covered(), 102u);
  EXPECT_EQ(map.owner(101), nullptr);
  EXPECT_EQ(map.owner(4999), nullptr);
  EXPECT_EQ(*map.owner(5000), node("h2", 2));
  EXPECT_EQ(map.owner(16383), nullptr);
  EXPECT_EQ(map.owner(16384), nullptr);  // out of range: no owner, no crash
}

TEST(RedisClusterSlots, GarbageIsRefusedWhole) {
  const std::vector<std::pair<std::string, RedisReply>> cases{
      {"error reply", error_reply("ERR This instance has cluster support disabled")},
      {"nil", RedisReply{}},
      {"integer", integer(3)},
      {"status", status_reply("OK")},
      {"no ranges", array({})},
      {"range not an array", array({integer(0)})},
      {"range too short", array({array({integer(0), integer(1)})})},
      {"slot not an integer",
       array({array({bulk("0"), integer(1), array({bulk("h"), integer(1)})})})},
      {"slot negative", array({range(-1, 5, "h", 1)})},
      {"slot too large", array({range(0, 16384, "h", 1)})},
      {"reversed", array({range(10, 5, "h", 1)})},
      {"overlap", array({range(0, 10, "h", 1), range(10, 20, "h2", 2)})},
      {"port zero", array({range(0, 1, "h", 0)})},
      {"port too large", array({range(0, 1, "h", 65536)})},
      {"port as string", array({array({integer(0), integer(1), array({bulk("h"), bulk("1")})})})},
      {"node not an array", array({array({integer(0), integer(1), bulk("h:1")})})},
      {"host an integer",
       array({array({integer(0), integer(1), array({integer(1), integer(1)})})})},
      {"host with a space", array({range(0, 1, "h h", 1)})},
      {"host with a NUL", array({range(0, 1, std::string("h\0", 2), 1)})},
      {"host too long", array({range(0, 1, std::string(300, 'h'), 1)})},
      {"one bad range among good ones",
       array({range(0, 100, "h", 1), range(101, 200, "h", 70000)})},
  };
  for (const auto& [name, reply] : cases) {
    const ParsedSlots parsed = parse_cluster_slots(reply, kAsked);
    EXPECT_NE(parsed.error, "") << name;
    EXPECT_TRUE(parsed.ranges.empty()) << name;
  }
}

TEST(RedisClusterSlots, MovedAssignsOneSlot) {
  SlotMap map(parse_cluster_slots(array({range(0, 16383, "a", 1)}), kAsked).ranges);
  map.assign(42, node("b", 2));
  EXPECT_EQ(*map.owner(42), node("b", 2));
  EXPECT_EQ(*map.owner(41), node("a", 1));
  EXPECT_EQ(*map.owner(43), node("a", 1));
  map.assign(16384, node("c", 3));  // out of range: ignored
  EXPECT_EQ(map.masters().size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Redirects

TEST(RedisClusterRedirect, ParsesMovedAndAsk) {
  EXPECT_EQ(parse_redirect("MOVED 3999 127.0.0.1:6381", kAsked),
            (Redirect{Redirect::Kind::moved, 3999, node("127.0.0.1", 6381)}));
  EXPECT_EQ(parse_redirect("ASK 3999 127.0.0.1:6381", kAsked),
            (Redirect{Redirect::Kind::ask, 3999, node("127.0.0.1", 6381)}));
  EXPECT_EQ(parse_redirect("MOVED 16383 redis-2.example:7000", kAsked),
            (Redirect{Redirect::Kind::moved, 16383, node("redis-2.example", 7000)}));
  // Redis 7 announces an unknown endpoint as an empty host: the replying node's own.
  EXPECT_EQ(parse_redirect("MOVED 0 :7001", kAsked),
            (Redirect{Redirect::Kind::moved, 0, node(kAsked.host, 7001)}));
  // IPv6: the port follows the last ':'.
  EXPECT_EQ(parse_redirect("ASK 5 ::1:7002", kAsked),
            (Redirect{Redirect::Kind::ask, 5, node("::1", 7002)}));
  EXPECT_EQ(parse_redirect("ASK 5 [::1]:7002", kAsked),
            (Redirect{Redirect::Kind::ask, 5, node("::1", 7002)}));
}

TEST(RedisClusterRedirect, RefusesMalformedRedirects) {
  for (const std::string_view text : {"MOVED",
                                      "MOVED ",
                                      "MOVED 3999",
                                      "MOVED 3999 ",
                                      "MOVED 3999 host",
                                      "MOVED 3999 host:",
                                      "MOVED 16384 h:1",
                                      "MOVED -1 h:1",
                                      "MOVED x h:1",
                                      "MOVED 1 h:0",
                                      "MOVED 1 h:65536",
                                      "MOVED 1 h:1x",
                                      "MOVED  1 h:1",
                                      "MOVED 1 h h:1",
                                      "MOVEDX 1 h:1",
                                      "moved 1 h:1",
                                      "ASK",
                                      "ASKING 1 h:1",
                                      "ERR unknown command",
                                      "TRYAGAIN",
                                      "",
                                      "MOVED 1 [h:1",
                                      "MOVED 1 a,b:1"}) {
    EXPECT_EQ(parse_redirect(text, kAsked), std::nullopt) << text;
  }
}

TEST(RedisClusterRedirect, NextStepOfReplies) {
  const NodeAddress at = node("127.0.0.1", 7000);
  // Plain replies, error replies that are not the cluster's included: the answer.
  EXPECT_EQ(next_step({integer(1), integer(3), bulk("abc")}, at).kind, NextStep::Kind::done);
  EXPECT_EQ(next_step({error_reply("WRONGTYPE Operation against a key")}, at).kind,
            NextStep::Kind::done);
  EXPECT_EQ(next_step({error_reply("MOVED nonsense")}, at).kind, NextStep::Kind::done);

  const NextStep moved =
      next_step({error_reply("MOVED 12 127.0.0.1:7001"), error_reply("MOVED 12 127.0.0.1:7001"),
                 error_reply("MOVED 12 127.0.0.1:7001")},
                at);
  EXPECT_EQ(moved.kind, NextStep::Kind::redirect);
  EXPECT_TRUE(moved.refresh);
  EXPECT_EQ(moved.redirect->node, node("127.0.0.1", 7001));

  // Part of a pipeline redirected (the key migrated between two commands): all again, there.
  const NextStep ask = next_step({integer(1), error_reply("ASK 12 127.0.0.1:7002"), bulk("")}, at);
  EXPECT_EQ(ask.kind, NextStep::Kind::redirect);
  EXPECT_FALSE(ask.refresh);
  EXPECT_EQ(ask.redirect->kind, Redirect::Kind::ask);

  const NextStep again =
      next_step({error_reply("TRYAGAIN Multiple keys request during rehashing")}, at);
  EXPECT_EQ(again.kind, NextStep::Kind::retry_later);
  EXPECT_FALSE(again.refresh);
  const NextStep down = next_step({error_reply("CLUSTERDOWN The cluster is down"), integer(0)}, at);
  EXPECT_EQ(down.kind, NextStep::Kind::retry_later);
  EXPECT_TRUE(down.refresh);
  EXPECT_EQ(down.why, "CLUSTERDOWN The cluster is down");

  // A redirect wins over a retry: the answer is elsewhere now.
  EXPECT_EQ(next_step({error_reply("CLUSTERDOWN x"), error_reply("MOVED 1 h:2")}, at).kind,
            NextStep::Kind::redirect);
}

TEST(RedisClusterRedirect, AskingPrecedesEveryCommand) {
  const std::vector<std::vector<SharedBytes>> commands{{share("EXISTS"), share("k")},
                                                       {share("STRLEN"), share("k")}};
  const auto sent = with_asking(commands);
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(*sent[0][0], "ASKING");
  EXPECT_EQ(*sent[1][0], "EXISTS");
  EXPECT_EQ(*sent[2][0], "ASKING");
  EXPECT_EQ(*sent[3][1], "k");
  const auto replies =
      without_asking({status_reply("OK"), integer(1), status_reply("OK"), integer(5)});
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].integer, 1);
  EXPECT_EQ(replies[1].integer, 5);
  EXPECT_TRUE(without_asking({status_reply("OK"), integer(1), status_reply("OK")}).empty());
}

TEST(RedisClusterRedirect, RoutingKey) {
  EXPECT_EQ(routing_key({share("GET"), share("k1")}), "k1");
  EXPECT_EQ(routing_key({share("SET"), share("k2"), share("v")}), "k2");
  EXPECT_EQ(routing_key({share("PING")}), std::nullopt);
  EXPECT_EQ(routing_key({share("wait"), share("1"), share("100")}), std::nullopt);
  EXPECT_EQ(routing_key({share("CLUSTER"), share("SLOTS")}), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// The cluster URL

TEST(RedisClusterUrl, SeedList) {
  EXPECT_TRUE(is_cluster_url("redis+cluster://h:1"));
  EXPECT_TRUE(is_cluster_url("REDIS+Cluster://h:1"));
  EXPECT_FALSE(is_cluster_url("redis://h:1"));
  EXPECT_FALSE(is_cluster_url("h:1"));
  const auto seeds = parse_redis_cluster_url("redis+cluster://a:7000,10.0.0.2:7001,[::1]:7002/");
  ASSERT_EQ(seeds.size(), 3u);
  EXPECT_EQ(seeds[0].host, "a");
  EXPECT_EQ(seeds[0].port, 7000);
  EXPECT_EQ(seeds[1].host, "10.0.0.2");
  EXPECT_EQ(seeds[2].host, "::1");
  EXPECT_EQ(seeds[2].port, 7002);
  EXPECT_FALSE(seeds[2].db);
  EXPECT_EQ(describe(seeds), "redis+cluster://a:7000,10.0.0.2:7001,[::1]:7002/");
}

TEST(RedisClusterUrl, CredentialsApplyToEverySeed) {
  const auto seeds = parse_redis_cluster_url("redis+cluster://alice:p%40ss@a:1,b:2/0");
  ASSERT_EQ(seeds.size(), 2u);
  for (const auto& seed : seeds) {
    EXPECT_EQ(seed.user, "alice");
    EXPECT_EQ(seed.password, "p@ss");
  }
  EXPECT_EQ(describe(seeds), "redis+cluster://alice:***@a:1,b:2/");
  EXPECT_EQ(parse_redis_cluster_url("redis+cluster://:pw@a:1")[0].password, "pw");
}

TEST(RedisClusterUrl, DefaultPorts) {
  const auto seeds = parse_redis_cluster_url("redis+cluster://a,b:7001", 7000);
  EXPECT_EQ(seeds[0].port, 7000);
  EXPECT_EQ(seeds[1].port, 7001);
  EXPECT_EQ(parse_redis_cluster_url("redis+cluster://a")[0].port, 6379);
}

TEST(RedisClusterUrl, RefusesBadLists) {
  for (const std::string_view url :
       {"redis+cluster://", "redis+cluster:///", "redis+cluster://a:1,", "redis+cluster://,a:1",
        "redis+cluster://a:1,,b:2", "redis+cluster://a:99999", "redis+cluster://a:x",
        "redis+cluster://a:1/3", "redis+cluster://a b:1", "redis://a:1,b:2"}) {
    EXPECT_THROW(parse_redis_cluster_url(url), std::invalid_argument) << url;
  }
  try {
    parse_redis_cluster_url("redis+cluster://u:hunter2@a:1/3");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("database 0"), std::string::npos);
  }
}
