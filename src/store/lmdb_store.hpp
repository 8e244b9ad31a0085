#pragma once
// The embedded engine: LMDB in a data directory. Durable: a put is answered once a commit that
// holds it is on disk (fsynced), so a crash never loses an acknowledged image nor corrupts the
// file. Puts that arrive while a commit is being written share the next one (group commit):
// one fsync for all of them instead of one each, one after the other.
#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "store/store.hpp"

struct MDB_env;  // from <lmdb.h>, kept out of this header

namespace imagecpp::store {

// The largest value a get copies out of the map on the calling (network) thread. Measured with
// bench/offthread_reference (Release, warm map, the service's malloc settings): a copy-out of
// 512 KiB costs 13-15 us, of 1 MiB 370-450 us (from 1 MiB a buffer is mapped: page faults), of
// 5 MiB milliseconds; a hand-off to a pool and back 3-6 us (17 us on a machine at load 40). At
// most about 3 hand-offs' worth stays inline; from 1 MiB the copy is 20-80 of them.
inline constexpr std::size_t kInlineCopyBytes = std::size_t{512} << 10;

struct LmdbConfig {
  std::filesystem::path dir = "data";  // created if missing
  // Address space reserved for the file; virtual only (the file grows as data is written).
  std::size_t map_size = std::size_t{64} << 30;
  // Concurrent read transactions; each get holds one only while it copies a value out.
  unsigned max_readers = 126;
  // The largest image a value may hold (the upload limit): a larger one is refused before it is
  // copied out of the map.
  std::size_t max_value_bytes = std::size_t{16} << 20;
  // A larger value is copied out of the map on the blocking executor, not the caller's thread
  // (see kInlineCopyBytes).
  std::size_t inline_copy_bytes = kInlineCopyBytes;
  // The most bytes of values one commit takes (at least one put, whatever its size): bounds the
  // dirty pages of a transaction and the wait of a batch's first put.
  std::size_t max_batch_bytes = std::size_t{64} << 20;
};

class LmdbStore : public Store {
 public:
  // Opens (creating if needed) the environment in config.dir. Writes, which block on fsync,
  // and copies of large values run on `blocking`, typically a thread pool. Throws
  // Error(unavailable) when the environment cannot be opened. Only one LmdbStore per directory
  // per process (LMDB rule). The store must outlive every put and get it started (drain
  // `blocking` before destroying it); its destructor waits for a writer still finishing.
  LmdbStore(const LmdbConfig& config, boost::asio::any_io_executor blocking);
  ~LmdbStore() override;

  LmdbStore(const LmdbStore&) = delete;
  LmdbStore& operator=(const LmdbStore&) = delete;

  // A memory-mapped read copied out of the map: inline on the caller's thread up to
  // inline_copy_bytes, else on the blocking executor (the caller resumes on its own).
  // Error(internal) for a value over max_value_bytes (logged with its key and size, never
  // copied).
  boost::asio::awaitable<std::optional<SharedBytes>> get(std::string key) override;

  // Queued for the next commit, written on the blocking executor with the puts queued beside
  // it (up to max_batch_bytes a commit); resumes on the caller's executor once that commit is on
  // disk. Error(unavailable) on a full map or an I/O error, Error(internal) on a key LMDB cannot
  // hold (empty or longer than its max key size). A put that fails fails alone: its batch is
  // then written again one put a commit.
  boost::asio::awaitable<void> put(std::string key, SharedBytes value) override;

  // Commits written so far (a batch of puts is one): for tests and metrics.
  std::uint64_t commits() const noexcept { return commits_.load(std::memory_order_relaxed); }

  boost::asio::awaitable<bool> ping() override;

 private:
  struct EnvCloser {
    void operator()(MDB_env* env) const noexcept;
  };

  // A put waiting for its commit, and its caller, resumed on its own executor (hand_back) with
  // whether the put was written.
  using PutSignature = void(std::exception_ptr, bool);
  struct PendingPut {
    std::string key;
    SharedBytes value;
    boost::asio::any_completion_handler<PutSignature> handler;
    boost::asio::any_io_executor resume;
  };

  void check_key(std::string_view key) const;
  void enqueue(PendingPut put);
  // The writer, on the blocking executor: commits batches until the queue is empty.
  void write_batches();
  void commit_batch(std::vector<PendingPut>& batch);
  // Writes `puts` in one transaction and commits it; throws on any failure (nothing written).
  void write(std::span<const PendingPut> puts);
  // What a lookup found: the value copied out, or only that it is larger than `copy_limit`.
  struct Lookup {
    std::optional<SharedBytes> value;
    bool too_large_to_copy = false;
  };
  Lookup read(std::string_view key, std::size_t copy_limit) const;

  std::unique_ptr<MDB_env, EnvCloser> env_;
  unsigned int dbi_ = 0;  // MDB_dbi
  std::size_t max_key_size_ = 0;
  std::size_t max_value_bytes_ = 0;
  std::size_t inline_copy_bytes_ = 0;
  std::size_t max_batch_bytes_ = 0;
  boost::asio::any_io_executor blocking_;

  std::mutex queue_mutex_;
  std::condition_variable writer_done_;  // the destructor waits on it for a running writer
  // Guarded by queue_mutex_. A deque: puts leave it from the front one by one, moved out, never
  // shifted by assignment (Boost 1.81's any_completion_handler wraps itself on move-assignment).
  std::deque<PendingPut> queue_;
  bool writing_ = false;  // a writer is posted or running; guarded by queue_mutex_
  std::atomic<std::uint64_t> commits_{0};
};

}  // namespace imagecpp::store
