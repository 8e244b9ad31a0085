#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <fstream>
#include <future>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "held_pool.hpp"
#include "run_awaitable.hpp"
#include "store/lmdb_store.hpp"
#include "stress_support.hpp"
#include "temp_dir.hpp"

using imagecpp::Error;
using imagecpp::ErrorCode;
using imagecpp::share;
using imagecpp::SharedBytes;
using imagecpp::store::LmdbConfig;
using imagecpp::store::LmdbStore;
using imagecpp::test::HeldPool;
using imagecpp::test::ready;
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

namespace {

struct Read {
  std::optional<SharedBytes> value;
  std::thread::id resumed_on;
};

boost::asio::awaitable<Read> read_noting_thread(LmdbStore& store, std::string key) {
  std::optional<SharedBytes> value = co_await store.get(std::move(key));
  Read read{std::move(value), std::this_thread::get_id()};
  co_return read;
}

}  // namespace

// At the limit a value is copied on the calling thread: it is read while the blocking pool
// cannot run anything. One byte more waits for the pool, and resumes on the caller's thread.
TEST_F(LmdbStoreTest, AValueOverTheInlineCopyLimitIsCopiedOnTheBlockingPool) {
  HeldPool blocking;
  LmdbStore store(config(), blocking.executor());
  const std::string small = random_bytes(imagecpp::store::kInlineCopyBytes, 1);
  const std::string large = random_bytes(imagecpp::store::kInlineCopyBytes + 1, 2);
  put(store, "small", small);
  put(store, "large", large);
  blocking.hold();

  boost::asio::io_context io(1);
  auto inline_read =
      boost::asio::co_spawn(io, read_noting_thread(store, "small"), boost::asio::use_future);
  io.poll();
  if (!ready(inline_read)) {
    blocking.release();
    io.run();  // nothing left behind on the pool when the test ends
    FAIL() << "the small value waited for the pool";
  }
  const Read got_small = inline_read.get();
  ASSERT_TRUE(got_small.value);
  EXPECT_EQ(**got_small.value, small);
  EXPECT_EQ(got_small.resumed_on, std::this_thread::get_id());

  io.restart();
  auto pooled_read =
      boost::asio::co_spawn(io, read_noting_thread(store, "large"), boost::asio::use_future);
  io.poll();
  EXPECT_FALSE(ready(pooled_read)) << "the large value was copied without the pool";
  blocking.release();
  io.restart();
  io.run();  // until the copy is handed back
  const Read got_large = pooled_read.get();
  ASSERT_TRUE(got_large.value);
  EXPECT_EQ(**got_large.value, large);
  EXPECT_EQ(got_large.resumed_on, std::this_thread::get_id());
}

TEST_F(LmdbStoreTest, AnAbsentKeyAndAnOversizedValueAreAnsweredWithoutThePool) {
  HeldPool blocking;
  LmdbConfig limited = config();
  limited.max_value_bytes = imagecpp::store::kInlineCopyBytes * 2;
  LmdbStore store(limited, blocking.executor());
  put(store, "huge", std::string(limited.max_value_bytes + 1, 'h'));
  blocking.hold();
  boost::asio::io_context io(1);
  auto absent =
      boost::asio::co_spawn(io, read_noting_thread(store, "absent"), boost::asio::use_future);
  auto huge = boost::asio::co_spawn(io, read_noting_thread(store, "huge"), boost::asio::use_future);
  io.poll();
  const bool answered = ready(absent) && ready(huge);
  blocking.release();
  io.restart();
  io.run();
  EXPECT_TRUE(answered) << "a read that copies nothing waited for the pool";
  EXPECT_FALSE(absent.get().value.has_value());
  try {
    huge.get();
    ADD_FAILURE() << "read";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::internal);
  }
}

// Many coroutines on four loops read one large value at the same moment while other large values
// are written: every reader gets the whole value, on its own loop's thread.
TEST_F(LmdbStoreTest, ManyReadersOfOneLargeValueAtOnceOnManyLoops) {
  constexpr int kReaders = 64;
  constexpr int kWriters = 4;
  LmdbStore store(config(), pool_.get_executor());
  const std::string value = random_bytes(imagecpp::store::kInlineCopyBytes * 4, 3);
  put(store, "shared", value);
  imagecpp::test::Loops loops(4);
  std::atomic<int> right{0};
  std::atomic<int> written{0};
  for (int i = 0; i < kReaders; ++i) {
    auto reader = [&store, &value, &right]() -> boost::asio::awaitable<void> {
      const std::thread::id own = std::this_thread::get_id();
      const Read read = co_await read_noting_thread(store, "shared");
      if (read.value && **read.value == value && read.resumed_on == own) right.fetch_add(1);
    };
    boost::asio::co_spawn(loops[static_cast<std::size_t>(i)], std::move(reader),
                          boost::asio::detached);
  }
  for (int i = 0; i < kWriters; ++i) {
    auto writer = [&store, &written, i]() -> boost::asio::awaitable<void> {
      co_await store.put("other-" + std::to_string(i),
                         share(random_bytes(imagecpp::store::kInlineCopyBytes * 2,
                                            10u + static_cast<unsigned>(i))));
      written.fetch_add(1);
    };
    boost::asio::co_spawn(loops[static_cast<std::size_t>(i)], std::move(writer),
                          boost::asio::detached);
  }
  loops.run();
  EXPECT_EQ(right.load(), kReaders);
  EXPECT_EQ(written.load(), kWriters);
  EXPECT_EQ(get(store, "shared"), value);
}

namespace {

// Puts started on one loop while the writer cannot run yet (its pool held): they queue for the
// next commit. Returns how many of them had completed before the pool was released.
struct QueuedPuts {
  int completed_while_held = 0;
  std::vector<std::optional<ErrorCode>> outcome;  // nullopt: written
};

QueuedPuts put_while_held(LmdbStore& store, HeldPool& blocking,
                          const std::vector<std::pair<std::string, std::string>>& puts) {
  blocking.hold();
  boost::asio::io_context io(1);
  QueuedPuts result;
  result.outcome.resize(puts.size());
  std::vector<bool> done(puts.size(), false);
  for (std::size_t i = 0; i < puts.size(); ++i) {
    boost::asio::co_spawn(
        io,
        [&store, &puts, &result, &done, i]() -> boost::asio::awaitable<void> {
          try {
            co_await store.put(puts[i].first, share(puts[i].second));
          } catch (const Error& e) {
            result.outcome[i] = e.code();
          }
          done[i] = true;
        },
        boost::asio::detached);
  }
  io.poll();  // every put queued; none can be written yet
  result.completed_while_held = static_cast<int>(std::count(done.begin(), done.end(), true));
  blocking.release();
  io.run();  // until every put is answered
  return result;
}

}  // namespace

// Group commit: puts that arrive while the writer is busy share one commit, and none is answered
// before that commit is done.
TEST_F(LmdbStoreTest, PutsQueuedMeanwhileShareOneCommit) {
  HeldPool blocking;
  LmdbStore store(config(), blocking.executor());
  std::vector<std::pair<std::string, std::string>> puts;
  for (int i = 0; i < 32; ++i) {
    puts.emplace_back("key-" + std::to_string(i), random_bytes(1000 + i, i));
  }
  const std::uint64_t before = store.commits();
  const QueuedPuts result = put_while_held(store, blocking, puts);
  EXPECT_EQ(result.completed_while_held, 0) << "a put was answered before its commit";
  EXPECT_EQ(store.commits() - before, 1u);
  for (std::size_t i = 0; i < puts.size(); ++i) {
    EXPECT_FALSE(result.outcome[i]) << puts[i].first;
    EXPECT_EQ(get(store, puts[i].first), puts[i].second) << puts[i].first;
  }
}

// A put the map cannot hold fails its batch's transaction: the others are written one a commit.
TEST_F(LmdbStoreTest, AFailingPutFailsAloneInItsBatch) {
  HeldPool blocking;
  LmdbStore store(config(std::size_t{1} << 20), blocking.executor());
  const std::vector<std::pair<std::string, std::string>> puts = {
      {"small-1", "fits"}, {"big", random_bytes(2 << 20, 4)}, {"small-2", "fits too"}};
  const std::uint64_t before = store.commits();
  const QueuedPuts result = put_while_held(store, blocking, puts);
  EXPECT_FALSE(result.outcome[0]);
  EXPECT_EQ(result.outcome[1], ErrorCode::unavailable);
  EXPECT_FALSE(result.outcome[2]);
  EXPECT_EQ(store.commits() - before, 2u);  // the batch failed; the two small ones alone
  EXPECT_EQ(get(store, "small-1"), "fits");
  EXPECT_EQ(get(store, "big"), std::nullopt);
  EXPECT_EQ(get(store, "small-2"), "fits too");
}

// A commit takes at most max_batch_bytes of values (but always one put, however large).
TEST_F(LmdbStoreTest, ACommitTakesAtMostTheBatchBytes) {
  HeldPool blocking;
  LmdbConfig c = config();
  c.max_batch_bytes = 100000;
  LmdbStore store(c, blocking.executor());
  std::vector<std::pair<std::string, std::string>> puts;
  for (int i = 0; i < 5; ++i) puts.emplace_back("k" + std::to_string(i), random_bytes(40000, i));
  puts.emplace_back("huge", random_bytes(300000, 9));  // over the bound: a commit of its own
  const std::uint64_t before = store.commits();
  const QueuedPuts result = put_while_held(store, blocking, puts);
  EXPECT_EQ(result.completed_while_held, 0);
  // 40+40 | 40+40 | 40 (the next 300 000 would pass the bound) | 300 000 alone.
  EXPECT_EQ(store.commits() - before, 4u);
  for (const auto& [key, value] : puts) EXPECT_EQ(get(store, key), value) << key;
}

// Many clients write one key at the same moment from four loops (as concurrent re-computations
// of one variant do): every put is answered, written, and the key holds one of their values
// whole; the queue and the writer are shared by all of them.
TEST_F(LmdbStoreTest, ManyClientsPutOneKeyAtOnceOnManyLoops) {
  LmdbStore store(config(), pool_.get_executor());
  constexpr int kClients = 48;
  std::vector<std::string> values;
  for (int i = 0; i < kClients; ++i) values.push_back(random_bytes(20000 + i, i));
  imagecpp::test::Loops loops(4);
  std::atomic<int> written{0};
  for (int i = 0; i < kClients; ++i) {
    auto client = [&store, &values, &written, i]() -> boost::asio::awaitable<void> {
      co_await store.put("one-key", share(values[static_cast<std::size_t>(i)]));
      written.fetch_add(1);
    };
    boost::asio::co_spawn(loops[static_cast<std::size_t>(i)], std::move(client),
                          boost::asio::detached);
  }
  loops.run();
  EXPECT_EQ(written.load(), kClients);
  const std::optional<std::string> stored = get(store, "one-key");
  ASSERT_TRUE(stored);
  EXPECT_NE(std::find(values.begin(), values.end(), *stored), values.end())
      << "the key holds no client's value whole";
}
