// The JSON answer of a large image is encoded on the offload pool, a small one on the calling
// thread; concurrent first readers of one large answer still share one encoding (issue 15).
// The real Api over the real image service and LMDB store, called as the server calls it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/http/verb.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api/api.hpp"
#include "api/image_json.hpp"
#include "auth/static_verifier.hpp"
#include "core/base64.hpp"
#include "core/bytes_cache.hpp"
#include "core/worker_pool.hpp"
#include "held_pool.hpp"
#include "image/image_service.hpp"
#include "metrics/registry.hpp"
#include "run_awaitable.hpp"
#include "store/lmdb_store.hpp"
#include "stress_support.hpp"
#include "temp_dir.hpp"
#include "test_images.hpp"

namespace asio = boost::asio;
namespace imagecpp {
namespace {

constexpr std::string_view kLargeId = "3f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8c";
constexpr std::string_view kSmallId = "9a6e1d2c-4b3f-4e5a-8c7d-1f2e3d4c5b6a";

// A real JPEG of `size` bytes: the photo, then padding (decoders stop at the end-of-image
// marker; the JSON route sends the bytes as stored and decodes nothing).
std::string jpeg_of_size(std::size_t size) {
  std::string bytes = test::image_bytes("display-p3.jpg");
  if (bytes.size() < size) bytes.resize(size, '\0');
  return bytes;
}

struct Answer {
  unsigned status = 0;
  SharedBytes body;
  std::thread::id resumed_on;
};

class ApiJsonOffload : public ::testing::Test {
 protected:
  void store(std::string_view id, const std::string& bytes) {
    test::run_awaitable(store_.put(std::string(id), share(bytes)));
  }

  // The original read once, so that it is hot in the cache: what remains of a JSON read is the
  // encoding alone.
  void warm(std::string_view id) { test::run_awaitable(images_.original(std::string(id))); }

  asio::awaitable<Answer> get_json(std::string id) {
    http::Request request{boost::beast::http::verb::get, "/v1/image/" + id, 11};
    http::Exchange exchange;
    http::Response response = co_await api_.handle(request, exchange);
    Answer answer{response.result_int(), response.body(), std::this_thread::get_id()};
    co_return answer;
  }

  // Runs `request` on a loop of its own while the offload pool is held: whether it was answered
  // before the pool could run anything, then its answer once the pool was released.
  struct HeldRun {
    bool answered_while_held = false;
    Answer answer;
  };
  HeldRun run_with_pool_held(asio::awaitable<Answer> request) {
    offload_.hold();
    asio::io_context io(1);
    auto answer = asio::co_spawn(io, std::move(request), asio::use_future);
    io.poll();
    const bool answered = test::ready(answer);
    offload_.release();
    io.restart();
    io.run();
    return {answered, answer.get()};
  }

  static std::string expected_json(std::string_view id, const std::string& bytes) {
    return api::image_json(id, image::Image{share(bytes), image::Format::jpeg});
  }

  test::TempDir dir_;
  asio::thread_pool store_pool_{1};
  store::LmdbStore store_{store::LmdbConfig{.dir = dir_.path() / "data"},
                          store_pool_.get_executor()};
  WorkerPool workers_{1, 4};
  BytesCache cache_{std::size_t{64} << 20};
  image::ImageService images_{store_, workers_, cache_, image::ServiceSettings{}};
  auth::StaticVerifier verifier_{
      std::vector<auth::Credential>{{.token = "t", .user = {.id = "u", .name = "u"}}}};
  metrics::Registry registry_;
  test::HeldPool offload_;
  api::Api api_{api::ApiSettings{.offload = offload_.executor()},
                images_,
                cache_,
                verifier_,
                store_,
                registry_};
};

}  // namespace

// One byte over the limit: the encoding waits for the offload pool (held), and the answer comes
// back on the caller's thread once the pool runs it.
TEST_F(ApiJsonOffload, ALargeAnswerIsEncodedOnThePoolAndResumesOnTheCaller) {
  const std::string bytes = jpeg_of_size(api::kInlineJsonBytes + 1);
  store(kLargeId, bytes);
  warm(kLargeId);
  const HeldRun run = run_with_pool_held(get_json(std::string(kLargeId)));
  EXPECT_FALSE(run.answered_while_held) << "encoded without the pool";
  const Answer& got = run.answer;
  EXPECT_EQ(got.status, 200u);
  ASSERT_TRUE(got.body);
  EXPECT_EQ(*got.body, expected_json(kLargeId, bytes));
  EXPECT_EQ(got.resumed_on, std::this_thread::get_id());
}

// At the limit (a thumbnail is far below it): answered while the pool cannot run anything.
TEST_F(ApiJsonOffload, ASmallAnswerIsEncodedOnTheCallingThread) {
  const std::string bytes = jpeg_of_size(api::kInlineJsonBytes);
  store(kSmallId, bytes);
  warm(kSmallId);
  const HeldRun run = run_with_pool_held(get_json(std::string(kSmallId)));
  EXPECT_TRUE(run.answered_while_held) << "the small answer waited for the pool";
  const Answer& got = run.answer;
  EXPECT_EQ(got.status, 200u);
  ASSERT_TRUE(got.body);
  EXPECT_EQ(*got.body, expected_json(kSmallId, bytes));
}

// First readers of one large answer on four loops at the same moment, its original cold (read
// from the store on the store's pool, then encoded on the offload pool): every one gets the same
// buffer, i.e. one encoding, on its own loop's thread.
TEST_F(ApiJsonOffload, ConcurrentFirstReadersOfOneLargeAnswerShareOneEncoding) {
  constexpr int kReaders = 48;
  const std::string bytes =
      jpeg_of_size(std::max(api::kInlineJsonBytes, store::kInlineCopyBytes) * 4);
  store(kLargeId, bytes);
  const std::string expected = expected_json(kLargeId, bytes);
  test::Loops loops(4);
  std::vector<Answer> answers(kReaders);
  std::atomic<int> on_own_thread{0};
  for (int i = 0; i < kReaders; ++i) {
    auto reader = [this, &answers, &on_own_thread, i]() -> asio::awaitable<void> {
      const std::thread::id own = std::this_thread::get_id();
      Answer got = co_await get_json(std::string(kLargeId));
      if (got.resumed_on == own) on_own_thread.fetch_add(1);
      answers[static_cast<std::size_t>(i)] = std::move(got);
    };
    asio::co_spawn(loops[static_cast<std::size_t>(i)], std::move(reader), asio::detached);
  }
  loops.run();
  EXPECT_EQ(on_own_thread.load(), kReaders);
  ASSERT_TRUE(answers.front().body);
  EXPECT_EQ(*answers.front().body, expected);
  for (const Answer& a : answers) {
    EXPECT_EQ(a.status, 200u);
    EXPECT_EQ(a.body, answers.front().body) << "encoded more than once";
  }
}

}  // namespace imagecpp

namespace imagecpp {
namespace {

class ApiUploadOffload : public ApiJsonOffload {
 protected:
  asio::awaitable<Answer> post_json(std::string body) {
    http::Request request{boost::beast::http::verb::post, "/v1/image", 11};
    request.set(boost::beast::http::field::authorization, "Bearer t");
    request.set(boost::beast::http::field::content_type, "application/json");
    request.body() = std::move(body);
    request.prepare_payload();
    http::Exchange exchange;
    http::Response response = co_await api_.handle(request, exchange);
    Answer answer{response.result_int(), response.body(), std::this_thread::get_id()};
    co_return answer;
  }

  // A JSON upload body of exactly `size` bytes whose payload is not base64: answered 400 by the
  // decode itself, before any other step that could wait (worker, store).
  static std::string invalid_body(std::size_t size) {
    const std::string head = R"({"image":"data:image/jpeg;base64,)";
    const std::string tail = "\"}";
    return head + std::string(size - head.size() - tail.size(), '*') + tail;
  }
};

}  // namespace

// At the limit: decoded on the calling thread, the answer ready while the pool cannot run.
TEST_F(ApiUploadOffload, ASmallBodyIsDecodedOnTheCallingThread) {
  const HeldRun run = run_with_pool_held(post_json(invalid_body(api::kInlineJsonBytes)));
  EXPECT_TRUE(run.answered_while_held) << "the small body waited for the pool";
  EXPECT_EQ(run.answer.status, 400u);
}

// One byte over: the decode waits for the pool (held), and the answer comes back on the caller's
// thread once the pool runs it.
TEST_F(ApiUploadOffload, ALargeBodyIsDecodedOnThePoolAndResumesOnTheCaller) {
  const HeldRun run = run_with_pool_held(post_json(invalid_body(api::kInlineJsonBytes + 1)));
  EXPECT_FALSE(run.answered_while_held) << "decoded without the pool";
  EXPECT_EQ(run.answer.status, 400u);
  EXPECT_EQ(run.answer.resumed_on, std::this_thread::get_id());
}

// A valid large upload decoded on the pool is stored as sent.
TEST_F(ApiUploadOffload, ALargeValidUploadIsStoredAsSent) {
  const std::string bytes = jpeg_of_size(api::kInlineJsonBytes);
  const std::string body = R"({"image":"data:image/jpeg;base64,)" + base64::encode(bytes) + "\"}";
  ASSERT_GT(body.size(), api::kInlineJsonBytes);
  asio::io_context io(1);
  auto answer = asio::co_spawn(io, post_json(body), asio::use_future);
  io.run();
  const Answer got = answer.get();
  ASSERT_EQ(got.status, 200u) << (got.body ? *got.body : "");
  const std::string json = *got.body;
  const std::string id = json.substr(json.find(":\"") + 2, 36);
  const std::optional<SharedBytes> stored = test::run_awaitable(store_.get(id));
  ASSERT_TRUE(stored);
  EXPECT_EQ(**stored, bytes);
}

}  // namespace imagecpp
