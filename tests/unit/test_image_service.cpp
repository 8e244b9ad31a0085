// The image domain over the real LMDB engine and worker pool: what is stored is what comes back,
// variants are made once and stored under the peers' keys.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "core/error.hpp"
#include "image/image_service.hpp"
#include "run_awaitable.hpp"
#include "store/lmdb_store.hpp"
#include "temp_dir.hpp"
#include "test_images.hpp"

namespace imagecpp::image {
namespace {

namespace asio = boost::asio;

class ImageServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { init_vips("unit_tests"); }

  test::TempDir dir_;
  asio::thread_pool blocking_{1};
  store::LmdbStore store_{store::LmdbConfig{.dir = dir_.path() / "data"}, blocking_.get_executor()};
  WorkerPool workers_{2, 8};
  ImageService service_{store_, workers_, ServiceSettings{}};

  std::string create(const std::string& bytes) {
    return test::run_awaitable(service_.create(bytes));
  }
  std::optional<SharedBytes> stored(const std::string& key) {
    return test::run_awaitable(store_.get(key));
  }
};

TEST_F(ImageServiceTest, OriginalComesBackByteForByte) {
  const std::string jpeg = test::image_bytes("snake.jpg");
  const std::string id = create(jpeg);
  const Image image = test::run_awaitable(service_.original(id));
  EXPECT_EQ(image.format, Format::jpeg);
  EXPECT_EQ(*image.bytes, jpeg);
  ASSERT_TRUE(stored(id));
  EXPECT_EQ(**stored(id), jpeg);
}

TEST_F(ImageServiceTest, RejectsWhatIsNotAnImageAndStoresNothing) {
  EXPECT_THROW(create("definitely not an image"), Error);
  EXPECT_EQ(service_.stats().uploads.load(), 0u);
}

TEST_F(ImageServiceTest, UnknownIdIsNotFound) {
  try {
    test::run_awaitable(service_.original("3f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8c"));
    FAIL() << "expected not_found";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
  }
}

TEST_F(ImageServiceTest, VariantIsComputedOnceAndStoredUnderThePeersKey) {
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

TEST_F(ImageServiceTest, ConcurrentRequestsForOneMissingVariantComputeItOnce) {
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

TEST_F(ImageServiceTest, JpegOfAJpegOriginalIsTheOriginal) {
  const std::string jpeg = test::image_bytes("snake.jpg");
  const std::string id = create(jpeg);
  EXPECT_EQ(*test::run_awaitable(service_.original_jpeg(id)).bytes, jpeg);
  EXPECT_FALSE(stored(id + "_jpeg"));
}

TEST_F(ImageServiceTest, JpegOfAPngOriginalIsConvertedOnceAtFullSize) {
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

}  // namespace
}  // namespace imagecpp::image
