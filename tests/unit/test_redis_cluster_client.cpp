// The cluster mode of the Redis engine against a real two-node Redis Cluster (masters only,
// set up by hand: one node holds every slot, the other joins empty): keys routed by slot, a
// slot moved under concurrent reads (ASK while its keys migrate, MOVED after), many threads on
// a few keys (the routing state is shared), and no reachable seed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "run_awaitable.hpp"
#include "store/redis_slot.hpp"
#include "store/redis_store.hpp"
#include "temp_dir.hpp"
#include "test_redis_server.hpp"

using imagecpp::Error;
using imagecpp::ErrorCode;
using imagecpp::share;
using imagecpp::test::RedisServer;
using imagecpp::test::run_awaitable;
using imagecpp::test::TempDir;
using namespace imagecpp::store;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> node_args(const TempDir& dir) {
  return {"--cluster-enabled",      "yes",
          "--cluster-config-file",  (dir.path() / "nodes.conf").string(),
          "--cluster-node-timeout", "1000"};
}

RedisReply raw(RedisStore& store, std::vector<std::string> args) {
  return run_awaitable(store.command(std::move(args)));
}

std::string text(RedisStore& store, std::vector<std::string> args) {
  const RedisReply reply = raw(store, std::move(args));
  return reply.type == RedisReply::Type::error ? "ERROR " + reply.text : reply.text;
}

RedisConfig direct(const RedisServer& server) {
  return RedisConfig{.endpoint = parse_redis_url(server.address())};
}

// Node a holds every slot; b has met it and holds none.
class RedisClusterTwoNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(text(a_, {"CLUSTER", "ADDSLOTSRANGE", "0", "16383"}), "OK");
    ASSERT_EQ(text(a_, {"CLUSTER", "MEET", "127.0.0.1", std::to_string(server_b_.port())}), "OK");
    a_id_ = text(a_, {"CLUSTER", "MYID"});
    b_id_ = text(b_, {"CLUSTER", "MYID"});
    // Until both agree: b knows a's slots (polled; bounded by the test's own timeout).
    while (text(a_, {"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos ||
           text(b_, {"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos ||
           text(b_, {"CLUSTER", "INFO"}).find("cluster_known_nodes:2") == std::string::npos) {
      std::this_thread::sleep_for(20ms);
    }
  }

  RedisConfig cluster_config(std::chrono::milliseconds timeout = 2000ms) const {
    return RedisConfig{.cluster_seeds = {parse_redis_url(server_a_.address())},
                       .connect_timeout = timeout,
                       .command_timeout = timeout};
  }

  // Moves `slot` from a to b as redis-cli --cluster reshard does, `between` running after
  // each step.
  template <class Step>
  void move_slot(std::uint16_t slot, const std::vector<std::string>& keys, Step between) {
    const std::string s = std::to_string(slot);
    ASSERT_EQ(text(b_, {"CLUSTER", "SETSLOT", s, "IMPORTING", a_id_}), "OK");
    ASSERT_EQ(text(a_, {"CLUSTER", "SETSLOT", s, "MIGRATING", b_id_}), "OK");
    between();
    for (const std::string& key : keys) {
      ASSERT_EQ(
          text(a_, {"MIGRATE", "127.0.0.1", std::to_string(server_b_.port()), key, "0", "5000"}),
          "OK");
      between();
    }
    ASSERT_EQ(text(b_, {"CLUSTER", "SETSLOT", s, "NODE", b_id_}), "OK");
    ASSERT_EQ(text(a_, {"CLUSTER", "SETSLOT", s, "NODE", b_id_}), "OK");
    between();
  }

  TempDir dir_a_, dir_b_;
  RedisServer server_a_{node_args(dir_a_)};
  RedisServer server_b_{node_args(dir_b_)};
  RedisStore a_{direct(server_a_)};
  RedisStore b_{direct(server_b_)};
  std::string a_id_, b_id_;
};

// Keys that hash to one slot: "{tag}..." shares the slot of "tag".
std::vector<std::string> keys_in_slot_of(const std::string& tag, int count) {
  std::vector<std::string> keys;
  for (int i = 0; i < count; ++i) keys.push_back("{" + tag + "}-" + std::to_string(i));
  return keys;
}

}  // namespace

TEST_F(RedisClusterTwoNodes, ReadsAndWritesThroughTheSlotMap) {
  RedisStore store(cluster_config());
  for (int i = 0; i < 50; ++i) {
    run_awaitable(store.put("key-" + std::to_string(i), share("value-" + std::to_string(i))));
  }
  for (int i = 0; i < 50; ++i) {
    const auto value = run_awaitable(store.get("key-" + std::to_string(i)));
    ASSERT_TRUE(value);
    EXPECT_EQ(**value, "value-" + std::to_string(i));
  }
  EXPECT_EQ(run_awaitable(store.get("missing")), std::nullopt);
  EXPECT_TRUE(run_awaitable(store.ping()));
  EXPECT_EQ(raw(a_, {"DBSIZE"}).integer, 50);
}

TEST_F(RedisClusterTwoNodes, NoReadFailsWhileASlotMoves) {
  RedisStore store(cluster_config());
  const std::vector<std::string> keys = keys_in_slot_of("moving", 4);
  for (const std::string& key : keys) run_awaitable(store.put(key, share("v:" + key)));
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      for (int n = t; !stop.load(); ++n) {
        const std::string& key = keys[static_cast<std::size_t>(n) % keys.size()];
        try {
          const auto value = run_awaitable(store.get(key));
          if (!value || **value != "v:" + key) failures.fetch_add(1);
        } catch (const Error&) {
          failures.fetch_add(1);
        }
        reads.fetch_add(1);
      }
    });
  }
  // Each step of the move is read through by some reads (counted, not timed).
  auto some_reads = [&reads] {
    const int until = reads.load() + 40;
    while (reads.load() < until) std::this_thread::sleep_for(1ms);
  };
  move_slot(key_slot("moving"), keys, some_reads);
  some_reads();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(raw(b_, {"DBSIZE"}).integer, 4);
  // Both redirects were followed: a answered ASK while migrating, then MOVED.
  const std::string errors = text(a_, {"INFO", "errorstats"});
  EXPECT_NE(errors.find("errorstat_ASK"), std::string::npos) << errors;
  EXPECT_NE(errors.find("errorstat_MOVED"), std::string::npos) << errors;
  // Writes go to the new owner.
  run_awaitable(store.put(keys[0], share("new")));
  EXPECT_EQ(text(b_, {"GET", keys[0]}), "new");
}

TEST_F(RedisClusterTwoNodes, ManyThreadsOnAFewKeys) {
  RedisStore store(cluster_config());
  const std::vector<std::string> keys{"k1", "k2", "{k1}x", "k3"};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < 150; ++n) {
        const std::string& key = keys[static_cast<std::size_t>(n + t) % keys.size()];
        if ((n + t) % 3 == 0) {
          run_awaitable(store.put(key, share("value of " + key)));
        } else {
          const auto value = run_awaitable(store.get(key));
          if (value && **value != "value of " + key) wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  for (const std::string& key : keys) EXPECT_EQ(text(a_, {"GET", key}), "value of " + key);
}

TEST_F(RedisClusterTwoNodes, WaitWithoutReplicasIsUnavailableAndTheValueStays) {
  RedisConfig config = cluster_config(400ms);
  config.wait_replicas = 1;
  RedisStore store(std::move(config));
  try {
    run_awaitable(store.put("waited", share("bytes")));
    FAIL() << "acknowledged without a replica";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unavailable);
    EXPECT_NE(std::string(e.what()).find("0 of 1 replicas"), std::string::npos) << e.what();
  }
  EXPECT_EQ(text(a_, {"GET", "waited"}), "bytes");
}

TEST(RedisClusterClient, NoSeedAnswersIsUnavailable) {
  RedisServer gone;
  const std::string address = gone.address();
  gone.stop();
  RedisStore store(RedisConfig{.cluster_seeds = {parse_redis_url(address)},
                               .connect_timeout = 300ms,
                               .command_timeout = 300ms});
  for (int i = 0; i < 3; ++i) {
    try {
      run_awaitable(store.get("key"));
      FAIL() << "a read without a cluster";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::unavailable);
    }
  }
  EXPECT_FALSE(run_awaitable(store.ping()));
}
