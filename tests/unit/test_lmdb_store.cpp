#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "run_awaitable.hpp"
#include "store/lmdb_store.hpp"
#include "temp_dir.hpp"

using imagecpp::Error;
using imagecpp::ErrorCode;
using imagecpp::share;
using imagecpp::SharedBytes;
using imagecpp::store::LmdbConfig;
using imagecpp::store::LmdbStore;
using imagecpp::test::run_awaitable;
using imagecpp::test::TempDir;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

class LmdbStoreTest : public ::testing::Test {
 protected:
  LmdbConfig config(std::size_t map_size = std::size_t{1} << 30) const {
    return LmdbConfig{dir_.path() / "db", map_size, 126};
  }

  void put(LmdbStore& store, std::string key, std::string value) {
    run_awaitable(store.put(std::move(key), share(std::move(value))));
  }

  std::optional<std::string> get(LmdbStore& store, std::string key) {
    const std::optional<SharedBytes> bytes = run_awaitable(store.get(std::move(key)));
    if (!bytes) return std::nullopt;
    return **bytes;
  }

  ErrorCode put_error(LmdbStore& store, std::string key, std::string value) {
    try {
      put(store, std::move(key), std::move(value));
    } catch (const Error& e) {
      return e.code();
    }
    ADD_FAILURE() << "put succeeded";
    return ErrorCode::bad_input;
  }

  TempDir dir_;
  boost::asio::thread_pool pool_{2};
};

}  // namespace

TEST_F(LmdbStoreTest, CreatesDirectoryAndPings) {
  LmdbStore store(config(), pool_.get_executor());
  EXPECT_TRUE(std::filesystem::is_directory(dir_.path() / "db"));
  EXPECT_TRUE(run_awaitable(store.ping()));
}

TEST_F(LmdbStoreTest, AbsentKey) {
  LmdbStore store(config(), pool_.get_executor());
  EXPECT_EQ(get(store, "3f2b6c1e-9d4a-4f7b-8a1c-0e5d2f6a7b8c"), std::nullopt);
}

TEST_F(LmdbStoreTest, RoundTripOfLargeRandomValue) {
  LmdbStore store(config(), pool_.get_executor());
  const std::string value = random_bytes(10 << 20, 1);
  put(store, "id", value);
  EXPECT_EQ(get(store, "id"), value);
  EXPECT_EQ(get(store, "id_320"), std::nullopt);
}

TEST_F(LmdbStoreTest, EmptyAndBinaryValues) {
  LmdbStore store(config(), pool_.get_executor());
  put(store, "empty", "");
  put(store, "nul", std::string("\0a\0", 3));
  EXPECT_EQ(get(store, "empty"), "");
  EXPECT_EQ(get(store, "nul"), std::string("\0a\0", 3));
}

TEST_F(LmdbStoreTest, Overwrite) {
  LmdbStore store(config(), pool_.get_executor());
  put(store, "id_jpeg", "first");
  put(store, "id_jpeg", random_bytes(100000, 2));
  put(store, "id_jpeg", "second");
  EXPECT_EQ(get(store, "id_jpeg"), "second");
}

TEST_F(LmdbStoreTest, PersistsAcrossReopen) {
  const std::string value = random_bytes(3 << 20, 3);
  {
    LmdbStore store(config(), pool_.get_executor());
    put(store, "id", value);
    put(store, "id_160", "small");
  }
  LmdbStore store(config(), pool_.get_executor());
  EXPECT_EQ(get(store, "id"), value);
  EXPECT_EQ(get(store, "id_160"), "small");
}

TEST_F(LmdbStoreTest, PutResumesOnCallerExecutor) {
  LmdbStore store(config(), pool_.get_executor());
  boost::asio::io_context io;
  bool on_caller = false;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        co_await store.put("k", share("v"));
        on_caller = io.get_executor().running_in_this_thread();
      },
      boost::asio::detached);
  io.run();
  EXPECT_TRUE(on_caller);
  EXPECT_EQ(get(store, "k"), "v");
}

TEST_F(LmdbStoreTest, ConcurrentPutsFromManyCoroutinesAndThreads) {
  LmdbStore store(config(), pool_.get_executor());
  constexpr int kCoroutines = 64;
  boost::asio::io_context io;
  std::atomic<int> done{0};
  for (int i = 0; i < kCoroutines; ++i) {
    boost::asio::co_spawn(
        io,
        [&store, &done, i]() -> boost::asio::awaitable<void> {
          const std::string key = "key-" + std::to_string(i);
          co_await store.put(key, share(random_bytes(40000 + i, i)));
          co_await store.put(key + "_320", share(key));
          ++done;
        },
        boost::asio::detached);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&io] { io.run(); });
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(done.load(), kCoroutines);
  for (int i = 0; i < kCoroutines; ++i) {
    const std::string key = "key-" + std::to_string(i);
    EXPECT_EQ(get(store, key), random_bytes(40000 + i, i)) << key;
    EXPECT_EQ(get(store, key + "_320"), key);
  }
}

TEST_F(LmdbStoreTest, MapFullIsUnavailableAndStoreStaysUsable) {
  LmdbStore store(config(std::size_t{1} << 20), pool_.get_executor());
  EXPECT_EQ(put_error(store, "big", random_bytes(2 << 20, 4)), ErrorCode::unavailable);
  EXPECT_EQ(get(store, "big"), std::nullopt);
  put(store, "small", "fits");
  EXPECT_EQ(get(store, "small"), "fits");
}

TEST_F(LmdbStoreTest, BadKeysAreInternalErrors) {
  LmdbStore store(config(), pool_.get_executor());
  EXPECT_EQ(put_error(store, std::string(4096, 'k'), "v"), ErrorCode::internal);
  EXPECT_EQ(put_error(store, "", "v"), ErrorCode::internal);
  EXPECT_THROW(get(store, std::string(4096, 'k')), Error);
  put(store, std::string(511, 'k'), "v");  // LMDB's default max key size
  EXPECT_EQ(get(store, std::string(511, 'k')), "v");
}

TEST_F(LmdbStoreTest, UnopenableDirectoryIsUnavailable) {
  const auto file = dir_.path() / "not-a-dir";
  std::ofstream(file) << "x";
  try {
    LmdbStore store(LmdbConfig{file / "db", std::size_t{1} << 20, 126}, pool_.get_executor());
    ADD_FAILURE() << "opened";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::unavailable);
  }
}

namespace {

// Anonymous memory of this process: a value copied out of the map lands there, whereas the
// map's own pages are file-backed.
std::size_t anonymous_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("RssAnon:")) return std::stoull(line.substr(8)) * 1024;
  }
  return 0;
}

}  // namespace

TEST_F(LmdbStoreTest, OversizedValueIsRefusedWithoutBeingCopied) {
  LmdbConfig limited = config();
  limited.max_value_bytes = 1 << 20;
  LmdbStore store(limited, pool_.get_executor());
  put(store, "exact", std::string(1 << 20, 'e'));
  put(store, "huge", std::string(std::size_t{64} << 20, 'h'));
  EXPECT_EQ(get(store, "exact")->size(), std::size_t{1} << 20);
  const std::size_t before = anonymous_rss_bytes();
  for (int i = 0; i < 3; ++i) {
    try {
      get(store, "huge");
      ADD_FAILURE() << "read";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::internal);
    }
  }
  // Three copies would be 192 MiB.
  EXPECT_LT(anonymous_rss_bytes(), before + (std::size_t{32} << 20));
}
