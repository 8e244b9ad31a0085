// The Redis engine against a real redis-server that each test starts on its own port.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <iterator>
#include <random>
#include <thread>

#include "core/base64.hpp"
#include "core/error.hpp"
#include "image/format.hpp"
#include "run_awaitable.hpp"
#include "store/redis_store.hpp"
#include "test_redis_server.hpp"

using imagecpp::Error;
using imagecpp::ErrorCode;
using imagecpp::share;
using imagecpp::SharedBytes;
using imagecpp::test::RedisServer;
using imagecpp::test::run_awaitable;
using namespace imagecpp::store;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

RedisConfig config_for(const RedisServer& server, std::chrono::milliseconds timeout = 2000ms) {
  return RedisConfig{.endpoint = parse_redis_url(server.address()),
                     .connect_timeout = timeout,
                     .command_timeout = timeout};
}

void put(RedisStore& store, std::string key, std::string value) {
  run_awaitable(store.put(std::move(key), share(std::move(value))));
}

std::optional<std::string> get(RedisStore& store, std::string key) {
  const std::optional<SharedBytes> bytes = run_awaitable(store.get(std::move(key)));
  if (!bytes) return std::nullopt;
  return **bytes;
}

RedisReply raw(RedisStore& store, std::vector<std::string> args) {
  return run_awaitable(store.command(std::move(args)));
}

bool ping(RedisStore& store) {
  return run_awaitable(store.ping());
}

// The error code of a get, and how long it took to come.
std::pair<ErrorCode, Clock::duration> get_error(RedisStore& store, std::string key) {
  const auto start = Clock::now();
  try {
    get(store, std::move(key));
  } catch (const Error& e) {
    return {e.code(), Clock::now() - start};
  }
  ADD_FAILURE() << "get succeeded";
  return {ErrorCode::bad_input, Clock::now() - start};
}

// Polls until the store answers again (the backoff is at most 1 s).
bool recovers(RedisStore& store, std::chrono::milliseconds within) {
  const auto deadline = Clock::now() + within;
  while (Clock::now() < deadline) {
    if (ping(store)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

class RedisStoreTest : public ::testing::Test {
 protected:
  RedisServer server_;
};

}  // namespace

TEST_F(RedisStoreTest, RoundTripsRawBytes) {
  RedisStore store(config_for(server_));
  const std::string bytes = random_bytes(1000, 1) + std::string("\0\r\n$3\r\n", 7);
  put(store, "id-1", bytes);
  EXPECT_EQ(get(store, "id-1"), bytes);
  EXPECT_EQ(get(store, "missing"), std::nullopt);
  // Stored as the bytes themselves (no base64): a quarter less memory.
  const RedisReply stored = raw(store, {"GET", "id-1"});
  EXPECT_EQ(stored.type, RedisReply::Type::string);
  EXPECT_EQ(stored.text, bytes);
  EXPECT_TRUE(ping(store));
}

TEST_F(RedisStoreTest, WritesDataUrlsWhenConfigured) {
  RedisConfig config = config_for(server_);
  config.write_format = ValueFormat::data_url;
  config.media_type_of = imagecpp::image::media_type_of;
  RedisStore store(std::move(config));
  const std::string png = read_file(IMAGECPP_TEST_IMAGES "/alpha.png");
  put(store, "id-2", png);
  EXPECT_EQ(raw(store, {"GET", "id-2"}).text,
            "data:image/png;base64," + imagecpp::base64::encode(png));
  EXPECT_EQ(get(store, "id-2"), png);
}

TEST_F(RedisStoreTest, ReadsTheDataUrlsThePeersWrote) {
  RedisStore store(config_for(server_));
  const std::string jpeg = read_file(IMAGECPP_TEST_IMAGES "/cmyk.jpg");
  const std::string value = "data:image/jpeg;base64," + imagecpp::base64::encode(jpeg);
  EXPECT_TRUE(raw(store, {"SET", "peer", value}).is_status("OK"));
  EXPECT_TRUE(raw(store, {"SET", "peer_320", value}).is_status("OK"));
  EXPECT_EQ(get(store, "peer"), jpeg);
  EXPECT_EQ(get(store, "peer_320"), jpeg);
}

TEST_F(RedisStoreTest, UnreadableValuesAreInternalErrors) {
  RedisStore store(config_for(server_));
  raw(store, {"SET", "bad", "data:image/png;base64,@@@"});
  raw(store, {"RPUSH", "list", "x"});
  EXPECT_EQ(get_error(store, "bad").first, ErrorCode::internal);
  EXPECT_EQ(get_error(store, "list").first, ErrorCode::internal);  // WRONGTYPE
}

TEST_F(RedisStoreTest, SixteenMegabyteValues) {
  RedisStore store(config_for(server_, 10'000ms));
  const std::string big = random_bytes(16u << 20, 2);
  put(store, "big", big);
  EXPECT_EQ(get(store, "big"), big);

  // The same as a data URL, as the peers would store it: about 22 MB.
  RedisConfig config = config_for(server_, 10'000ms);
  config.write_format = ValueFormat::data_url;
  RedisStore peers_way(std::move(config));
  put(peers_way, "big-url", big);
  EXPECT_GT(raw(peers_way, {"STRLEN", "big-url"}).integer, 22'000'000);
  EXPECT_EQ(get(peers_way, "big-url"), big);
}

namespace {

// Bytes Redis has written to its clients since the last CONFIG RESETSTAT.
long long net_output_bytes(RedisStore& store) {
  const std::string info = raw(store, {"INFO", "stats"}).text;
  const std::string field = "total_net_output_bytes:";
  const std::size_t at = info.find(field);
  if (at == std::string::npos) return -1;
  return std::stoll(info.substr(at + field.size()));
}

}  // namespace

// A value over the limit is refused, and what Redis sent for it is far below its size: it was
// never transferred, so it was never held.
TEST_F(RedisStoreTest, OversizedRawValueIsRefusedWithoutBeingTransferred) {
  RedisStore store(config_for(server_, 10'000ms));  // the default limit: 16 MiB
  raw(store, {"SET", "huge", std::string(64u << 20, 'x')});
  raw(store, {"CONFIG", "RESETSTAT"});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get_error(store, "huge").first, ErrorCode::internal);
  EXPECT_LT(net_output_bytes(store), 3 * (1 << 20));  // 3 x 64 MiB if read
}

TEST_F(RedisStoreTest, OversizedDataUrlIsRefusedWithoutBeingTransferred) {
  RedisStore store(config_for(server_, 10'000ms));
  // Base64 of 24 MiB: more than any 16 MiB upload gives, in the peers' layout.
  raw(store, {"SET", "huge-url", "data:image/jpeg;base64," + std::string(32u << 20, 'A')});
  raw(store, {"CONFIG", "RESETSTAT"});
  EXPECT_EQ(get_error(store, "huge-url").first, ErrorCode::internal);
  EXPECT_LT(net_output_bytes(store), 1 << 20);
}

// Between the two limits: a raw value must fit the raw limit, even though a data URL of that
// length would be accepted.
TEST_F(RedisStoreTest, RawValueOverTheRawLimitIsRefused) {
  RedisConfig config = config_for(server_);
  config.max_value_bytes = 3 << 20;
  RedisStore store(std::move(config));
  const std::string url = encode_data_url(random_bytes(3u << 20, 7), "image/jpeg");
  raw(store, {"SET", "url", url});
  raw(store, {"SET", "raw", std::string((3u << 20) + 1, 'r')});
  raw(store, {"SET", "exact", std::string(3u << 20, 'e')});
  EXPECT_EQ(get(store, "url")->size(), 3u << 20);
  EXPECT_EQ(get_error(store, "raw").first, ErrorCode::internal);
  EXPECT_EQ(get(store, "exact")->size(), 3u << 20);
}

// Around the first read's size (the second round trip starts there), and the empty string,
// which is a value, not a missing key.
TEST_F(RedisStoreTest, ValuesOfEverySizeAroundTheFirstRead) {
  RedisStore store(config_for(server_, 10'000ms));
  for (const std::size_t n :
       {std::size_t{0}, std::size_t{1}, std::size_t{256 << 10} - 1, std::size_t{256 << 10},
        std::size_t{256 << 10} + 1, std::size_t{5} << 20}) {
    const std::string value = random_bytes(n, static_cast<unsigned>(n));
    put(store, "v", value);
    EXPECT_EQ(get(store, "v"), value) << n;
  }
  EXPECT_EQ(get(store, "missing"), std::nullopt);
}

// A server that answers nothing until it has received every command of a read: a client that
// waited for one reply before sending the next command would get no value at all.
TEST(RedisStorePipeline, ASmallValueIsReadInOneRoundTrip) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string received;
  std::thread server([listener, &received] {
    const int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    char buf[4096];
    while (received.find("GETRANGE") == std::string::npos) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      received.append(buf, static_cast<std::size_t>(n));
    }
    // Only now, all at once: EXISTS 1, STRLEN 5, then the value.
    const std::string replies = ":1\r\n:5\r\n$5\r\nhello\r\n";
    ::send(fd, replies.data(), replies.size(), MSG_NOSIGNAL);
    while (::recv(fd, buf, sizeof buf, 0) > 0) {
    }
    ::close(fd);
  });
  {
    RedisStore store(RedisConfig{.endpoint = parse_redis_url("127.0.0.1", ntohs(addr.sin_port)),
                                 .connect_timeout = 5000ms,
                                 .command_timeout = 5000ms});
    EXPECT_EQ(get(store, "k"), "hello");
  }
  server.join();
  ::close(listener);
  EXPECT_NE(received.find("EXISTS"), std::string::npos);
  EXPECT_NE(received.find("STRLEN"), std::string::npos);
  EXPECT_NE(received.find("GETRANGE"), std::string::npos);
}

TEST_F(RedisStoreTest, ManyCommandsInFlightOnOneConnection) {
  RedisStore store(config_for(server_, 10'000ms));
  boost::asio::thread_pool callers(4);
  constexpr int kCount = 400;
  std::vector<std::future<bool>> results;
  for (int i = 0; i < kCount; ++i) {
    results.push_back(boost::asio::co_spawn(
        callers,
        [&store, i]() -> boost::asio::awaitable<bool> {
          const std::string key = "k" + std::to_string(i);
          const std::string value = random_bytes(100 + 37 * i, i);
          co_await store.put(key, share(value));
          const auto back = co_await store.get(key);
          co_return back&&** back == value;
        },
        boost::asio::use_future));
  }
  int ok = 0;
  for (auto& r : results) ok += r.get() ? 1 : 0;
  EXPECT_EQ(ok, kCount);
  // All on one pipelined connection (plus the redis-cli-like check itself).
  const RedisReply clients = raw(store, {"CLIENT", "LIST"});
  EXPECT_EQ(std::count(clients.text.begin(), clients.text.end(), '\n'), 1) << clients.text;
  callers.join();
}

TEST(RedisStoreAuth, RequirePass) {
  RedisServer server({"--requirepass", "s3cret"});
  RedisStore good(RedisConfig{.endpoint = parse_redis_url("redis://:s3cret@" + server.address())});
  put(good, "a", "1");
  EXPECT_EQ(get(good, "a"), "1");

  RedisStore wrong(RedisConfig{.endpoint = parse_redis_url("redis://:nope@" + server.address())});
  EXPECT_EQ(get_error(wrong, "a").first, ErrorCode::unavailable);
  EXPECT_FALSE(ping(wrong));

  RedisStore none(RedisConfig{.endpoint = parse_redis_url(server.address())});
  EXPECT_EQ(get_error(none, "a").first, ErrorCode::unavailable);  // NOAUTH
}

TEST(RedisStoreAuth, AclUserAndPassword) {
  RedisServer server(
      {"--user", "default", "off", "--user", "alice", "on", ">pw", "~*", "&*", "+@all"});
  RedisStore alice(
      RedisConfig{.endpoint = parse_redis_url("redis://alice:pw@" + server.address() + "/0")});
  put(alice, "a", "1");
  EXPECT_EQ(get(alice, "a"), "1");
  RedisStore anonymous(RedisConfig{.endpoint = parse_redis_url(server.address())});
  EXPECT_FALSE(ping(anonymous));
}

TEST_F(RedisStoreTest, SelectsTheDatabase) {
  RedisStore db3(RedisConfig{.endpoint = parse_redis_url("redis://" + server_.address() + "/3")});
  RedisStore db0(config_for(server_));
  put(db3, "in-3", "x");
  EXPECT_EQ(get(db3, "in-3"), "x");
  EXPECT_EQ(get(db0, "in-3"), std::nullopt);
  EXPECT_EQ(raw(db0, {"SELECT", "3"}).text, "OK");  // this connection now reads db 3
  EXPECT_EQ(get(db0, "in-3"), "x");

  RedisStore no_such_db(
      RedisConfig{.endpoint = parse_redis_url("redis://" + server_.address() + "/99")});
  EXPECT_EQ(get_error(no_such_db, "in-3").first, ErrorCode::unavailable);
}

TEST_F(RedisStoreTest, KilledThenRestartedOnTheSamePort) {
  RedisStore store(config_for(server_, 1000ms));
  put(store, "a", "1");
  server_.stop();
  const auto [code, took] = get_error(store, "a");
  EXPECT_EQ(code, ErrorCode::unavailable);
  EXPECT_LT(took, 1000ms);  // a refused connection is known at once
  EXPECT_FALSE(ping(store));
  // Within the backoff, commands fail fast without a new attempt.
  const auto [again, fast] = get_error(store, "a");
  EXPECT_EQ(again, ErrorCode::unavailable);
  EXPECT_LT(fast, 500ms);

  server_.start();  // empty again: --save ''
  EXPECT_TRUE(recovers(store, 3000ms));
  put(store, "a", "2");
  EXPECT_EQ(get(store, "a"), "2");
}

TEST_F(RedisStoreTest, SilentServerTimesOutThenRecovers) {
  RedisStore store(config_for(server_, 300ms));
  put(store, "a", "1");
  server_.pause();
  const auto [code, took] = get_error(store, "a");
  EXPECT_EQ(code, ErrorCode::unavailable);
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2500ms);  // bounded by the timeout, with slack for a loaded CI machine
  // A new connection to a stopped server is accepted by the kernel but AUTH/PING hang: the
  // command timeout bounds it too.
  const auto [code2, took2] = get_error(store, "a");
  EXPECT_EQ(code2, ErrorCode::unavailable);
  EXPECT_LT(took2, 2500ms);
  server_.resume();
  EXPECT_TRUE(recovers(store, 3000ms));
  EXPECT_EQ(get(store, "a"), "1");
}

TEST(RedisStoreDown, NeverStartedFailsFast) {
  RedisServer server;
  const std::uint16_t port = server.port();
  server.stop();
  RedisStore store(RedisConfig{.endpoint = parse_redis_url("127.0.0.1", port)});
  const auto start = Clock::now();
  EXPECT_FALSE(ping(store));
  EXPECT_THROW(put(store, "a", "1"), Error);
  EXPECT_LT(Clock::now() - start, 1500ms);
}

TEST(RedisStoreDown, UnresolvableHost) {
  RedisStore store(RedisConfig{.endpoint = parse_redis_url("no-such-host.invalid:6379"),
                               .connect_timeout = 1000ms,
                               .command_timeout = 1000ms});
  const auto [code, took] = get_error(store, "a");
  EXPECT_EQ(code, ErrorCode::unavailable);
  EXPECT_LT(took, 1500ms);
}

TEST(RedisStoreDown, ConnectTimeout) {
  // A listener whose accept queue is full: the kernel drops further SYNs, so a connect hangs.
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 3; ++i) {
    fillers.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    ::connect(fillers.back(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  std::this_thread::sleep_for(50ms);

  RedisStore store(RedisConfig{.endpoint = parse_redis_url("127.0.0.1", ntohs(addr.sin_port)),
                               .connect_timeout = 300ms,
                               .command_timeout = 5000ms});
  const auto [code, took] = get_error(store, "a");
  EXPECT_EQ(code, ErrorCode::unavailable);
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2500ms);  // bounded by the timeout, with slack for a loaded CI machine
  for (const int fd : fillers) ::close(fd);
  ::close(listener);
}

TEST_F(RedisStoreTest, DestroyedWithCommandsInFlight) {
  std::vector<std::future<std::optional<SharedBytes>>> pending;
  boost::asio::thread_pool callers(2);
  auto store = std::make_unique<RedisStore>(config_for(server_, 5000ms));
  put(*store, "a", "1");
  server_.pause();
  for (int i = 0; i < 20; ++i) {
    pending.push_back(boost::asio::co_spawn(callers, store->get("a"), boost::asio::use_future));
  }
  std::this_thread::sleep_for(50ms);
  const auto start = Clock::now();
  store.reset();  // fails what is pending, without waiting for the timeouts
  EXPECT_LT(Clock::now() - start, 1000ms);
  for (auto& p : pending) EXPECT_THROW(p.get(), Error);
  server_.resume();
  callers.join();
}
