// The logout consumer's thread against a real RabbitMQ node (tests/unit/rabbit_process.hpp):
// logouts applied in order, everything else dropped or ignored without ending the consumer,
// reconnection after the broker closes its connections or dies, and start/stop from the owner's
// thread while the consumer's thread is connecting, consuming or backing off. Run in the TSan
// stage too (scripts/test.sh): the consumer's thread shares its counters, its state and the
// callback's target with the owner's.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "events/logout_consumer.hpp"
#include "events/logout_message.hpp"
#include "rabbit_process.hpp"

namespace imagecpp::events {
namespace {

using namespace std::chrono_literals;

// Only a hang guard: every wait below ends as soon as its condition holds, and a loaded machine
// or a sanitizer build only makes it end later. Reaching it means the consumer is stuck.
constexpr auto kHangGuard = 120s;

// The tokens the consumer made us forget, in order; waits are woken by each new one.
class Forgotten {
 public:
  ForgetToken callback() {
    return [this](std::string_view token) {
      {
        const std::lock_guard lock(mutex_);
        tokens_.emplace_back(token);
      }
      changed_.notify_all();
    };
  }
  // True once `token` was forgotten.
  bool wait_for(const std::string& token) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kHangGuard, [&] {
      return std::find(tokens_.begin(), tokens_.end(), token) != tokens_.end();
    });
  }
  std::vector<std::string> tokens() const {
    const std::lock_guard lock(mutex_);
    return tokens_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> tokens_;
};

// Polls a state of the consumer's thread that has no notification of its own.
bool eventually(const std::function<bool()>& condition) {
  const auto give_up = std::chrono::steady_clock::now() + kHangGuard;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::string node_logout(const std::string& token) {
  return R"({"type":"logout","message":"bearer )" + token + R"("})";
}

class LogoutConsumerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      rabbit_ = std::make_unique<test::RabbitProcess>();
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() { rabbit_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(rabbit_) << start_error_;
    if (!rabbit_->skip_reason().empty()) GTEST_SKIP() << rabbit_->skip_reason();
  }

  static ConsumerSettings settings(const std::string& url) {
    return ConsumerSettings{.url = url,
                            .exchange = "auth",
                            .backoff_min = 20ms,
                            .backoff_max = 200ms,
                            .io_timeout = 10s,  // a loaded machine must not make a login fail
                            .poll = 20ms};
  }
  std::unique_ptr<LogoutConsumer> consumer() {
    return std::make_unique<LogoutConsumer>(settings(rabbit_->url()), forgotten_.callback());
  }
  // Until the consumer has subscribed more than `before` times: a message published from then
  // on reaches it.
  static void wait_subscribed(const LogoutConsumer& c, std::uint64_t before = 0) {
    ASSERT_TRUE(eventually([&] { return c.sessions() > before; })) << "never subscribed";
  }

  static std::unique_ptr<test::RabbitProcess> rabbit_;
  static std::string start_error_;
  Forgotten forgotten_;
};

std::unique_ptr<test::RabbitProcess> LogoutConsumerTest::rabbit_;
std::string LogoutConsumerTest::start_error_;

TEST_F(LogoutConsumerTest, AppliesLogoutsInOrderAndDropsEverythingElse) {
  const auto c = consumer();
  EXPECT_FALSE(c->connected());
  c->start();
  wait_subscribed(*c);
  EXPECT_TRUE(c->connected());

  const std::vector<std::string> malformed = {
      "not json",
      "",
      "[1,2]",
      R"({"message": 5})",
      R"({"type": 7})",
      R"({"message": "bearer a b"})",
      std::string("\xff\xfe"
                  "\x00"
                  "binary",
                  9),
      R"({"message": "x")",
      node_logout(std::string(kMaxLogoutBody, 'a')),  // over the limit: skipped unread
  };
  rabbit_->publish(node_logout("first-token"));
  for (const auto& body : malformed) rabbit_->publish(body);
  rabbit_->publish(R"({"type":"login","message":"bearer not-a-logout"})");
  rabbit_->publish(
      R"({"correlation_id":"c","exchange":"","routing_key":"","message":"Bearer last"})");

  ASSERT_TRUE(forgotten_.wait_for("last"));
  EXPECT_EQ(forgotten_.tokens(), (std::vector<std::string>{"first-token", "last"}));
  // Counted once the callback has returned: just after it, on the consumer's thread.
  EXPECT_TRUE(eventually([&] { return c->applied() == 2; })) << c->applied();
  EXPECT_EQ(c->dropped(), malformed.size());
  EXPECT_TRUE(c->connected());
  EXPECT_EQ(c->sessions(), 1u) << "a bad message must not cost the connection";
  c->stop();
  EXPECT_FALSE(c->connected());
}

TEST_F(LogoutConsumerTest, ReconnectsWhenTheBrokerClosesItsConnections) {
  const auto c = consumer();
  c->start();
  wait_subscribed(*c);
  rabbit_->close_connections();
  wait_subscribed(*c, 1);
  rabbit_->publish(node_logout("after-close"));
  ASSERT_TRUE(forgotten_.wait_for("after-close"));
  EXPECT_TRUE(eventually([&] { return c->applied() == 1; })) << c->applied();
}

TEST_F(LogoutConsumerTest, ReconnectsAfterTheBrokerIsKilledAndStartedAgain) {
  const auto c = consumer();
  c->start();
  wait_subscribed(*c);
  rabbit_->kill();
  // Nothing to reconnect to while the node is down: "disconnected" holds until it is back.
  ASSERT_TRUE(eventually([&] { return !c->connected(); })) << "a dead broker went unnoticed";
  rabbit_->start();
  wait_subscribed(*c, 1);
  rabbit_->publish(node_logout("after-restart"));
  ASSERT_TRUE(forgotten_.wait_for("after-restart"));
  EXPECT_TRUE(c->connected());
}

TEST_F(LogoutConsumerTest, AnAbsentBrokerLeavesItDisconnectedAndStopStillEndsIt) {
  // Port 1 on loopback: refused at once, so the thread is backing off when stop() comes.
  LogoutConsumer c(settings("amqp://guest:guest@127.0.0.1:1/"), forgotten_.callback());
  c.start();
  std::this_thread::sleep_for(100ms);  // a few refused attempts (any number is fine)
  EXPECT_FALSE(c.connected());
  c.stop();
  EXPECT_FALSE(c.connected());
  EXPECT_EQ(c.sessions(), 0u);
  EXPECT_TRUE(forgotten_.tokens().empty());
}

// start() and stop() land while the thread connects, subscribes, waits for a frame or backs
// off; each stop() must join it, and the consumer must work again after any of them.
TEST_F(LogoutConsumerTest, StopAndStartAtAnyMomentThenStillConsumes) {
  const auto c = consumer();
  for (int round = 0; round < 30; ++round) {
    const std::uint64_t before = c->sessions();
    c->start();
    c->start();  // a second start while running is a no-op
    if (round % 3 == 1) std::this_thread::sleep_for(std::chrono::milliseconds(round));
    if (round % 3 == 2) wait_subscribed(*c, before);
    c->stop();
    EXPECT_FALSE(c->connected()) << "round " << round;
    c->stop();  // stopping a stopped consumer is a no-op
  }
  const std::uint64_t last = c->sessions();
  c->start();
  wait_subscribed(*c, last);
  rabbit_->publish(node_logout("after-restarts"));
  ASSERT_TRUE(forgotten_.wait_for("after-restarts"));
  EXPECT_EQ(forgotten_.tokens(), std::vector<std::string>{"after-restarts"});
}

TEST_F(LogoutConsumerTest, DestroyedWhileConsumingWithoutAStop) {
  auto c = consumer();
  c->start();
  wait_subscribed(*c);
  c.reset();  // the destructor stops and joins the thread
  // The callback's target outlives the consumer here; nothing may call it after the join.
  rabbit_->publish(node_logout("after-destruction"));
  const auto again = consumer();
  again->start();
  wait_subscribed(*again);
  rabbit_->publish(node_logout("to-the-new-one"));
  ASSERT_TRUE(forgotten_.wait_for("to-the-new-one"));
  EXPECT_EQ(forgotten_.tokens(), std::vector<std::string>{"to-the-new-one"});
}

}  // namespace
}  // namespace imagecpp::events
