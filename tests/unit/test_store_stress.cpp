// The shared paths below the HTTP layer, hammered from several loops at once as the network
// threads do: the Redis client's request queue (pipelined commands, deadlines, a server that
// stalls mid-run) and the image domain (first reads of originals and variants through the hot
// cache, the single flights and the worker pool). Bounded by operation counts, never by time.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "image/image_service.hpp"
#include "run_awaitable.hpp"
#include "store/lmdb_store.hpp"
#include "store/redis_store.hpp"
#include "stress_support.hpp"
#include "temp_dir.hpp"
#include "test_images.hpp"
#include "test_redis_server.hpp"

namespace imagecpp {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

using test::belongs_to;
using test::keyed_value;
using test::Loops;

// Callers on four loops put and get three keys over one pipelined connection, with values from
// a few bytes to 256 KB; halfway through, the server stalls past the command timeout and comes
// back. Every answer is a value of its own key, "absent" before the first write, or 503 while
// the server stalls: never another key's bytes, another error, or no answer.
TEST(RedisStoreStress, CallersOnManyLoopsOnAFewKeysThroughAStall) {
  test::RedisServer server;
  store::RedisStore store(store::RedisConfig{.endpoint = store::parse_redis_url(server.address()),
                                             .connect_timeout = 300ms,
                                             .command_timeout = 300ms});
  Loops loops(4);
  std::atomic<int> answers{0};
  std::atomic<int> wrong{0};
  std::atomic<int> unavailable{0};
  std::atomic<int> values_read{0};
  constexpr int kCallers = 32;
  constexpr int kRounds = 60;
  std::atomic<bool> stalled{false};
  for (int c = 0; c < kCallers; ++c) {
    asio::co_spawn(
        loops[c],
        [&, c]() -> asio::awaitable<void> {
          std::mt19937 rng(static_cast<unsigned>(c));
          for (int round = 0; round < kRounds; ++round) {
            if (c == 0 && round == kRounds / 2) {
              server.pause();
              asio::steady_timer timer(co_await asio::this_coro::executor, 500ms);
              co_await timer.async_wait(asio::use_awaitable);
              server.resume();
              stalled = true;
            }
            const std::string key = "stress-" + std::to_string(rng() % 3);
            try {
              if (rng() % 2 == 0) {
                const std::size_t size = rng() % 4 == 0 ? 256 * 1024 : 16 + rng() % 4096;
                co_await store.put(key, share(keyed_value(key, size, rng())));
              } else if (const auto got = co_await store.get(key)) {
                values_read.fetch_add(1);
                if (!belongs_to(**got, key)) wrong.fetch_add(1);
              }
            } catch (const Error& e) {
              if (e.code() != ErrorCode::unavailable) wrong.fetch_add(1);
              unavailable.fetch_add(1);
            }
            answers.fetch_add(1);
          }
        },
        asio::detached);
  }
  loops.run();
  EXPECT_TRUE(stalled.load());
  EXPECT_EQ(answers.load(), kCallers * kRounds);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(values_read.load(), 0);
  // And it serves again once the server is back.
  const auto value = test::run_awaitable(store.get("stress-0"));
  EXPECT_TRUE(!value || belongs_to(**value, "stress-0"));
}

// First reads of two new images, every form at once from four loops, through the hot cache (or
// without it): each derived image is computed exactly once, every caller of one key gets the same
// bytes, and originals come back byte for byte.
class ImageServiceStress : public ::testing::TestWithParam<std::size_t> {
 protected:
  void SetUp() override { image::init_vips("unit_tests"); }

  test::TempDir dir_;
  asio::thread_pool blocking_{1};
  store::LmdbStore store_{store::LmdbConfig{.dir = dir_.path() / "data"}, blocking_.get_executor()};
  WorkerPool workers_{2, 256};
  BytesCache cache_{GetParam()};
  // No render deadline to speak of: the verdict must not depend on how busy the machine is.
  image::ImageService service_{store_, workers_, cache_,
                               image::ServiceSettings{.limits = {.max_render_time = 1h}}};
};

TEST_P(ImageServiceStress, FirstReadsOfEveryFormFromManyLoops) {
  const std::string jpeg = test::image_bytes("snake.jpg");
  const std::string png = test::image_bytes("snake.png");
  const std::array<std::string, 2> ids{test::run_awaitable(service_.create(jpeg)),
                                       test::run_awaitable(service_.create(png))};
  const std::array<const std::string*, 2> originals{&jpeg, &png};
  Loops loops(4);
  std::mutex mutex;
  std::map<std::string, std::vector<SharedBytes>> answers;  // by store key
  std::atomic<int> wrong{0};
  std::atomic<int> failed{0};
  constexpr int kCallers = 48;
  constexpr int kRounds = 12;
  for (int c = 0; c < kCallers; ++c) {
    asio::co_spawn(
        loops[c],
        [&, c]() -> asio::awaitable<void> {
          std::mt19937 rng(static_cast<unsigned>(c));
          for (int round = 0; round < kRounds; ++round) {
            const std::size_t which = rng() % 2;
            const std::string& id = ids[which];
            try {
              switch (rng() % 4) {
                case 0: {
                  const image::Image image = co_await service_.original(id);
                  if (*image.bytes != *originals[which]) wrong.fetch_add(1);
                  break;
                }
                case 1: {
                  const image::Image image = co_await service_.original_jpeg(id);
                  if (image.format != image::Format::jpeg) wrong.fetch_add(1);
                  const std::lock_guard lock(mutex);
                  answers[id + "_jpeg"].push_back(image.bytes);
                  break;
                }
                default: {
                  const int size = rng() % 2 == 0 ? 160 : 320;
                  const image::Image image = co_await service_.variant(id, size);
                  if (image.format != image::Format::jpeg) wrong.fetch_add(1);
                  const std::lock_guard lock(mutex);
                  answers[id + "_" + std::to_string(size)].push_back(image.bytes);
                }
              }
            } catch (const std::exception&) {
              failed.fetch_add(1);
            }
          }
        },
        asio::detached);
  }
  loops.run();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  ASSERT_EQ(answers.size(), 6u);  // two ids x (160, 320, jpeg)
  for (const auto& [key, bytes] : answers) {
    for (const SharedBytes& b : bytes) EXPECT_EQ(*b, *bytes.front()) << key;
  }
  // The jpeg original is its own /jpeg form: five computations, each once.
  EXPECT_EQ(service_.stats().variants_computed.load(), 5u);
  EXPECT_EQ(*answers[ids[0] + "_jpeg"].front(), jpeg);
}

INSTANTIATE_TEST_SUITE_P(CacheOffAndOn, ImageServiceStress,
                         ::testing::Values(std::size_t{0}, std::size_t{2} << 20),
                         [](const auto& info) { return info.param == 0 ? "NoCache" : "Cache"; });

}  // namespace
}  // namespace imagecpp
