// The image domain over the real LMDB engine and worker pool: what is stored is what comes back,
// variants are made once and stored under the peers' keys. Every test runs without the hot cache
// (each write awaited) and with it (variants written behind the answer).
#include <gtest/gtest.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <map>
#include <set>
#include <utility>

#include "core/error.hpp"
#include "image/image_service.hpp"
#include "run_awaitable.hpp"
#include "store/lmdb_store.hpp"
#include "temp_dir.hpp"
#include "test_image_support.hpp"
#include "test_images.hpp"

namespace imagecpp::image {
namespace {

namespace asio = boost::asio;

class ImageServiceTest : public ::testing::TestWithParam<std::size_t> {
 protected:
  void SetUp() override { init_vips("unit_tests"); }

  test::TempDir dir_;
  asio::thread_pool blocking_{1};
  // A small value limit, to store values over it cheaply.
  store::LmdbStore store_{
      store::LmdbConfig{.dir = dir_.path() / "data", .max_value_bytes = 4 << 20},
      blocking_.get_executor()};
  WorkerPool workers_{2, 8};
  BytesCache cache_{GetParam()};
  ImageService service_{store_, workers_, cache_,
                        ServiceSettings{.limits = {.max_render_time = test::kNoRenderDeadline}}};

  std::string create(const std::string& bytes) {
    return test::run_awaitable(service_.create(bytes));
  }
  std::optional<SharedBytes> stored(const std::string& key) {
    return test::run_awaitable(store_.get(key));
  }
  void store(const std::string& key, std::string value) {
    test::run_awaitable(store_.put(key, share(std::move(value))));
  }
  template <typename Result>
  ErrorCode error_of(asio::awaitable<Result> work) {
    try {
      test::run_awaitable(std::move(work));
    } catch (const Error& e) {
      return e.code();
    }
    ADD_FAILURE() << "succeeded";
    return ErrorCode::bad_input;
  }
};

constexpr int kSizes[] = {160, 320, 640, 800, 1024, 1200};

TEST_P(ImageServiceTest, OriginalComesBackByteForByte) {
  const std::string jpeg = test::image_bytes("snake.jpg");
  const std::string id = create(jpeg);
  const Image image = test::run_awaitable(service_.original(id));
  EXPECT_EQ(image.format, Format::jpeg);
  EXPECT_EQ(*image.bytes, jpeg);
  ASSERT_TRUE(stored(id));
  EXPECT_EQ(**stored(id), jpeg);
}

TEST_P(ImageServiceTest, RejectsWhatIsNotAnImageAndStoresNothing) {
  EXPECT_THROW(create("definitely not an image"), Error);
  EXPECT_EQ(service_.stats().uploads.load(), 0u);
}

TEST_P(ImageServiceTest, UnknownIdIsNotFound) {
  try {
    test::run_awaitable(service_.original("3f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8c"));
    FAIL() << "expected not_found";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
  }
}

TEST_P(ImageServiceTest, VariantIsComputedOnceAndStoredUnderThePeersKey) {
  const std::string id = create(test::image_bytes("snake.jpg"));
  const Image first = test::run_awaitable(service_.variant(id, 320));
  EXPECT_EQ(first.format, Format::jpeg);
  ASSERT_TRUE(stored(id + "_320"));
  EXPECT_EQ(**stored(id + "_320"), *first.bytes);
  const Image second = test::run_awaitable(service_.variant(id, 320));
  EXPECT_EQ(*second.bytes, *first.bytes);
  EXPECT_EQ(service_.stats().variants_computed.load(), 1u);
  const auto info = inspect(*first.bytes, Limits{});
  EXPECT_EQ(info.dimensions.width, 320u);
  EXPECT_EQ(info.dimensions.height, 240u);
}

TEST_P(ImageServiceTest, ConcurrentRequestsForOneMissingVariantComputeItOnce) {
  const std::string id = create(test::image_bytes("snake.png"));
  asio::io_context io;
  std::vector<std::string> results;
  for (int i = 0; i < 16; ++i) {
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          const Image image = co_await service_.variant(id, 160);
          results.push_back(*image.bytes);
        },
        asio::detached);
  }
  io.run();
  ASSERT_EQ(results.size(), 16u);
  for (const auto& r : results) EXPECT_EQ(r, results.front());
  EXPECT_EQ(service_.stats().variants_computed.load(), 1u);
}

TEST_P(ImageServiceTest, JpegOfAJpegOriginalIsTheOriginal) {
  const std::string jpeg = test::image_bytes("snake.jpg");
  const std::string id = create(jpeg);
  EXPECT_EQ(*test::run_awaitable(service_.original_jpeg(id)).bytes, jpeg);
  EXPECT_FALSE(stored(id + "_jpeg"));
}

TEST_P(ImageServiceTest, JpegOfAPngOriginalIsConvertedOnceAtFullSize) {
  const std::string id = create(test::image_bytes("snake.png"));
  const Image jpeg = test::run_awaitable(service_.original_jpeg(id));
  EXPECT_EQ(jpeg.format, Format::jpeg);
  const auto info = inspect(*jpeg.bytes, Limits{});
  EXPECT_EQ(info.dimensions.width, 600u);
  EXPECT_EQ(info.dimensions.height, 450u);
  ASSERT_TRUE(stored(id + "_jpeg"));
  test::run_awaitable(service_.original_jpeg(id));
  EXPECT_EQ(service_.stats().variants_computed.load(), 1u);
}

TEST_P(ImageServiceTest, HotVariantsAndOriginalsAreServedFromTheCache) {
  const std::string id = create(test::image_bytes("snake.jpg"));
  const Image first = test::run_awaitable(service_.variant(id, 160));
  // The original read to compute it is not kept: the variant is what is asked for again.
  EXPECT_EQ(cache_.stats().entries, cache_.enabled() ? 1u : 0u);
  const Image again = test::run_awaitable(service_.variant(id, 160));
  test::run_awaitable(service_.original(id));
  test::run_awaitable(service_.original(id));
  EXPECT_EQ(*again.bytes, *first.bytes);
  EXPECT_EQ(service_.writes_pending(), 0u);
  ASSERT_TRUE(stored(id + "_160"));  // written behind the answer, but written
  const auto stats = cache_.stats();
  if (!cache_.enabled()) {
    EXPECT_EQ(stats.hits, 0u);
    EXPECT_EQ(stats.entries, 0u);
    return;
  }
  // The second variant read and the second original read are hits: the same buffer, no copy.
  EXPECT_EQ(again.bytes.get(), first.bytes.get());
  EXPECT_GE(stats.hits, 2u);
  EXPECT_EQ(stats.entries, 2u);  // "{id}" and "{id}_160"
}

// Another writer's garbage under a variant key, or a value too large to read: computed again from
// the original, answered, and written over the bad value.
TEST_P(ImageServiceTest, UnusableVariantsAreComputedAgainAndWrittenOver) {
  const std::string id = create(test::image_bytes("snake.png"));
  store(id + "_320", "garbage, not an image");
  store(id + "_160", std::string(5 << 20, '\xff'));  // over the store's limit
  store(id + "_jpeg", "");
  for (const int size : {320, 160}) {
    const Image image = test::run_awaitable(service_.variant(id, size));
    EXPECT_EQ(image.format, Format::jpeg);
    EXPECT_EQ(inspect(*image.bytes, Limits{}).dimensions.width, static_cast<unsigned>(size));
    ASSERT_TRUE(stored(id + "_" + std::to_string(size)));
    EXPECT_EQ(**stored(id + "_" + std::to_string(size)), *image.bytes);
  }
  const Image jpeg = test::run_awaitable(service_.original_jpeg(id));
  EXPECT_EQ(inspect(*jpeg.bytes, Limits{}).dimensions.width, 600u);
  EXPECT_EQ(**stored(id + "_jpeg"), *jpeg.bytes);
  EXPECT_EQ(service_.stats().variants_computed.load(), 3u);
  // Good values now: read, not computed again.
  test::run_awaitable(service_.variant(id, 320));
  test::run_awaitable(service_.variant(id, 160));
  EXPECT_EQ(service_.stats().variants_computed.load(), 3u);
}

// An original that is not an image is the same 500 on every route, every time, and never kept
// in the cache.
TEST_P(ImageServiceTest, AnOriginalThatIsNotAnImageIsInternalOnEveryRoute) {
  const std::string id = "3f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8c";
  store(id, "this is not an image");
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(error_of(service_.original(id)), ErrorCode::internal);
    EXPECT_EQ(error_of(service_.original_jpeg(id)), ErrorCode::internal);
    for (const int size : kSizes) {
      EXPECT_EQ(error_of(service_.variant(id, size)), ErrorCode::internal) << size;
    }
  }
  EXPECT_EQ(cache_.stats().entries, 0u);
  EXPECT_FALSE(stored(id + "_320"));

  const std::string huge = "4f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8c";
  store(huge, test::image_bytes("snake.jpg") + std::string(5 << 20, '\0'));  // over the limit
  EXPECT_EQ(error_of(service_.original(huge)), ErrorCode::internal);
  EXPECT_EQ(error_of(service_.original_jpeg(huge)), ErrorCode::internal);
  EXPECT_EQ(error_of(service_.variant(huge, 320)), ErrorCode::internal);
  EXPECT_EQ(cache_.stats().entries, 0u);
}

// An original whose header is fine but whose pixels are cut short is what the upload checks
// accept (they read headers only): its variants are the documented 400 "stored image cannot be
// decoded", every time, and nothing is stored for them.
TEST_P(ImageServiceTest, AnUndecodableOriginalIsBadInputForItsVariants) {
  const std::string id = "5f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8c";
  store(id, test::image_bytes("snake.png").substr(0, 2000));
  for (const int size : kSizes) {
    EXPECT_EQ(error_of(service_.variant(id, size)), ErrorCode::bad_input) << size;
  }
  EXPECT_EQ(error_of(service_.original_jpeg(id)), ErrorCode::bad_input);
  EXPECT_EQ(service_.stats().variants_computed.load(), 0u);
  EXPECT_FALSE(stored(id + "_320"));
}

// The variants on their way to the store behind their answers hold at most the cache's capacity:
// beyond, a request waits for its own write (a slow store slows requests, memory stays bounded).
TEST_P(ImageServiceTest, WritesBehindHoldAtMostTheCachesCapacity) {
  const std::string id = create(test::image_bytes("snake.jpg"));
  BytesCache tiny(1024);  // on, but smaller than any variant
  ImageService waiting(store_, workers_, tiny, ServiceSettings{});
  test::run_awaitable(waiting.variant(id, 160));
  test::run_awaitable(waiting.variant(id, 320));
  EXPECT_EQ(waiting.stats().writes_waited.load(), 2u);
  EXPECT_EQ(waiting.writes_pending(), 0u);
  EXPECT_TRUE(stored(id + "_160"));
  EXPECT_TRUE(stored(id + "_320"));
  // Room for them (or no cache at all): none waits beyond what the cache setting says.
  test::run_awaitable(service_.variant(id, 640));
  EXPECT_EQ(service_.stats().writes_waited.load(), 0u);
  EXPECT_TRUE(stored(id + "_640"));
}

// WebP and AVIF (issue 14): each format's variant under its own key beside the JPEG one, which
// keeps its peers' key; computed once each, concurrent first reads included.
TEST_P(ImageServiceTest, EachFormatIsComputedOnceAndStoredBesideTheJpegVariant) {
  const std::string id = create(test::image_bytes("alpha.png"));
  const std::pair<Format, std::string> keys[] = {{Format::jpeg, id + "_160"},
                                                 {Format::webp, id + "_160_webp"},
                                                 {Format::avif, id + "_160_avif"}};
  for (const auto& [format, key] : keys) {
    const Image image = test::run_awaitable(service_.variant(id, 160, format));
    EXPECT_EQ(image.format, format) << key;
    EXPECT_EQ(sniff(*image.bytes), format) << key;
    ASSERT_TRUE(stored(key)) << key;
    EXPECT_EQ(**stored(key), *image.bytes) << key;
    EXPECT_EQ(*test::run_awaitable(service_.variant(id, 160, format)).bytes, *image.bytes);
  }
  EXPECT_EQ(service_.stats().variants_computed.load(), 3u);
  EXPECT_EQ(service_.stats().webp_computed.load(), 1u);
  EXPECT_EQ(service_.stats().avif_computed.load(), 1u);
  // Without Size: the original converted once, full size, under "{id}_{format}".
  for (const Format format : {Format::webp, Format::avif}) {
    const Image converted = test::run_awaitable(service_.original_as(id, format));
    EXPECT_EQ(converted.format, format);
    EXPECT_EQ(inspect(*converted.bytes, Limits{}).dimensions.width, 200u);
    const std::string key = id + "_" + std::string(name(format));
    ASSERT_TRUE(stored(key)) << key;
    test::run_awaitable(service_.original_as(id, format));
  }
  EXPECT_EQ(service_.stats().variants_computed.load(), 5u);
  EXPECT_EQ(*test::run_awaitable(service_.original_as(id, Format::jpeg)).bytes,
            *test::run_awaitable(service_.original_jpeg(id)).bytes);
}

TEST_P(ImageServiceTest, AnOriginalInTheAskedFormatIsItself) {
  const std::string webp = test::image_bytes("alpha.webp");
  const std::string id = create(webp);
  EXPECT_EQ(*test::run_awaitable(service_.original_as(id, Format::webp)).bytes, webp);
  EXPECT_FALSE(stored(id + "_webp"));
  EXPECT_EQ(service_.stats().variants_computed.load(), 0u);
}

TEST_P(ImageServiceTest, ConcurrentFirstReadsInEveryFormatComputeEachOnce) {
  const std::string id = create(test::image_bytes("snake.png"));
  asio::io_context io;
  std::map<std::pair<int, Format>, std::set<std::string>> results;
  int answers = 0;
  for (int i = 0; i < 24; ++i) {
    const Format format = std::array{Format::jpeg, Format::webp, Format::avif}[i % 3];
    const int size = i % 2 == 0 ? 160 : 320;
    asio::co_spawn(
        io,
        [&, format, size]() -> asio::awaitable<void> {
          const Image image = co_await service_.variant(id, size, format);
          results[{size, format}].insert(*image.bytes);
          ++answers;
        },
        asio::detached);
  }
  io.run();
  EXPECT_EQ(answers, 24);
  ASSERT_EQ(results.size(), 6u);
  for (const auto& [what, bodies] : results) EXPECT_EQ(bodies.size(), 1u);
  EXPECT_EQ(service_.stats().variants_computed.load(), 6u);
  EXPECT_EQ(service_.stats().webp_computed.load(), 2u);
  EXPECT_EQ(service_.stats().avif_computed.load(), 2u);
  EXPECT_EQ(service_.avif_running(), 0u);
  EXPECT_EQ(service_.avif_waiting(), 0u);
}

INSTANTIATE_TEST_SUITE_P(CacheOffAndOn, ImageServiceTest,
                         ::testing::Values(std::size_t{0}, std::size_t{16} << 20),
                         [](const auto& info) { return info.param == 0 ? "NoCache" : "Cache"; });

}  // namespace
}  // namespace imagecpp::image
