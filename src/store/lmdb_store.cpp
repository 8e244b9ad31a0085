#include "store/lmdb_store.hpp"

#include <lmdb.h>
#include <spdlog/spdlog.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "core/error.hpp"
#include "core/hand_back.hpp"
#include "core/offload.hpp"

namespace imagecpp::store {
namespace {

static_assert(std::is_same_v<MDB_dbi, unsigned int>, "LmdbStore::dbi_ mirrors MDB_dbi");

// Misuse of the API is a bug (500); anything else means the store cannot serve now (503):
// full map, full disk, I/O error, reader table full, a corrupted or panicked environment.
ErrorCode classify(int rc) noexcept {
  switch (rc) {
    case MDB_BAD_VALSIZE:
    case MDB_BAD_TXN:
    case MDB_BAD_DBI:
    case MDB_INCOMPATIBLE:
    case EINVAL:
      return ErrorCode::internal;
    default:
      return ErrorCode::unavailable;
  }
}

void check(int rc, std::string_view what) {
  if (rc == MDB_SUCCESS) return;
  throw Error(classify(rc), "lmdb " + std::string(what) + ": " + mdb_strerror(rc));
}

// A transaction that aborts unless committed.
class Txn {
 public:
  Txn(MDB_env* env, unsigned flags) { check(mdb_txn_begin(env, nullptr, flags, &txn_), "begin"); }
  ~Txn() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  MDB_txn* get() const noexcept { return txn_; }

  // mdb_txn_commit frees the transaction even when it fails, hence the exchange first.
  void commit() { check(mdb_txn_commit(std::exchange(txn_, nullptr)), "commit"); }

 private:
  MDB_txn* txn_ = nullptr;
};

MDB_val as_val(std::string_view s) noexcept {
  // LMDB takes a non-const pointer but only reads through it for keys and mdb_put data.
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}

}  // namespace

void LmdbStore::EnvCloser::operator()(MDB_env* env) const noexcept {
  mdb_env_close(env);
}

LmdbStore::LmdbStore(const LmdbConfig& config, boost::asio::any_io_executor blocking)
    : max_value_bytes_(config.max_value_bytes),
      inline_copy_bytes_(config.inline_copy_bytes),
      max_batch_bytes_(config.max_batch_bytes),
      blocking_(std::move(blocking)) {
  std::error_code ec;
  std::filesystem::create_directories(config.dir, ec);
  if (ec)
    throw Error(ErrorCode::unavailable,
                "lmdb: cannot create " + config.dir.string() + ": " + ec.message());

  MDB_env* env = nullptr;
  check(mdb_env_create(&env), "env_create");
  env_.reset(env);
  check(mdb_env_set_mapsize(env, config.map_size), "set_mapsize");
  check(mdb_env_set_maxreaders(env, config.max_readers), "set_maxreaders");
  // MDB_NOTLS: a reader slot belongs to the transaction, not the thread, because coroutines
  // move between threads. No NOSYNC/NOMETASYNC/WRITEMAP: a commit is durable when it returns.
  check(mdb_env_open(env, config.dir.c_str(), MDB_NOTLS, 0640), "open " + config.dir.string());
  int stale = 0;
  check(mdb_reader_check(env, &stale), "reader_check");  // slots left by a crashed process
  max_key_size_ = static_cast<std::size_t>(mdb_env_get_maxkeysize(env));

  Txn txn(env, 0);
  check(mdb_dbi_open(txn.get(), nullptr, 0, &dbi_), "dbi_open");
  txn.commit();
}

LmdbStore::~LmdbStore() {
  // The writer may still be between its last hand-back and its return (the callers of its last
  // batch already resumed): it must be out before the queue and its mutex go.
  std::unique_lock lock(queue_mutex_);
  writer_done_.wait(lock, [this] { return !writing_; });
}

void LmdbStore::check_key(std::string_view key) const {
  if (key.empty() || key.size() > max_key_size_) {
    throw Error(ErrorCode::internal, "lmdb: key size " + std::to_string(key.size()) +
                                         " not in 1.." + std::to_string(max_key_size_));
  }
}

void LmdbStore::write(std::span<const PendingPut> puts) {
  Txn txn(env_.get(), 0);
  for (const PendingPut& p : puts) {
    MDB_val k = as_val(p.key);
    MDB_val v = as_val(*p.value);
    check(mdb_put(txn.get(), dbi_, &k, &v, 0), "put");
  }
  txn.commit();
  commits_.fetch_add(1, std::memory_order_relaxed);
}

LmdbStore::Lookup LmdbStore::read(std::string_view key, std::size_t copy_limit) const {
  const Txn txn(env_.get(), MDB_RDONLY);
  MDB_val k = as_val(key);
  MDB_val v{};
  const int rc = mdb_get(txn.get(), dbi_, &k, &v);
  if (rc == MDB_NOTFOUND) return {};
  check(rc, "get");
  // Only the map's pages the copy would touch are read from disk: refusing here costs nothing.
  if (v.mv_size > max_value_bytes_) {
    spdlog::warn("lmdb: value of key {} is {} bytes, over the {}-byte limit: refused", key,
                 v.mv_size, max_value_bytes_);
    throw Error(ErrorCode::internal, "lmdb: value of key " + std::string(key) + " too large (" +
                                         std::to_string(v.mv_size) + " bytes)");
  }
  // Deferring costs nothing either: mdb_get takes the size from the leaf page, and the value's
  // own pages are not touched before the copy.
  if (v.mv_size > copy_limit) return {.value = std::nullopt, .too_large_to_copy = true};
  // The map is only valid inside the transaction: copy out before it ends.
  return {.value = share(std::string(static_cast<const char*>(v.mv_data), v.mv_size))};
}

boost::asio::awaitable<std::optional<SharedBytes>> LmdbStore::get(std::string key) {
  check_key(key);
  Lookup found = read(key, inline_copy_bytes_);
  if (!found.too_large_to_copy) co_return std::move(found.value);
  // Megabytes of copy (and of page faults, on disk when the map is cold) would hold a network
  // thread: looked up again on the pool, where the copy takes as long as it takes. The reader
  // slot is not held while the job waits for a thread.
  auto copy = [this, &key] { return read(key, max_value_bytes_).value; };
  co_return co_await run_on(blocking_, std::move(copy));
}

boost::asio::awaitable<void> LmdbStore::put(std::string key, SharedBytes value) {
  check_key(key);
  if (!value) throw Error(ErrorCode::internal, "lmdb: put of a null value");
  // The initiation captures only `this`; the rest comes as arguments (GCC 12 destroys a
  // capturing closure made inside a co_await expression twice).
  co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, PutSignature>(
      [this](auto handler, std::string&& k, SharedBytes&& v) {
        boost::asio::any_io_executor resume = boost::asio::get_associated_executor(handler);
        enqueue(PendingPut{.key = std::move(k),
                           .value = std::move(v),
                           .handler = std::move(handler),
                           .resume = std::move(resume)});
      },
      boost::asio::use_awaitable, std::move(key), std::move(value));
}

void LmdbStore::enqueue(PendingPut put) {
  bool start = false;
  {
    const std::lock_guard lock(queue_mutex_);
    queue_.push_back(std::move(put));
    start = !std::exchange(writing_, true);
  }
  if (start) boost::asio::post(blocking_, [this] { write_batches(); });
}

void LmdbStore::write_batches() {
  for (;;) {
    std::vector<PendingPut> batch;
    {
      const std::lock_guard lock(queue_mutex_);
      if (queue_.empty()) {
        writing_ = false;
        writer_done_.notify_all();  // under the lock: the last thing the writer touches
        return;
      }
      std::size_t bytes = 0;
      while (!queue_.empty() &&
             (batch.empty() || bytes + queue_.front().value->size() <= max_batch_bytes_)) {
        bytes += queue_.front().value->size();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commit_batch(batch);
  }
}

void LmdbStore::commit_batch(std::vector<PendingPut>& batch) {
  const auto complete = [](PendingPut& p, std::exception_ptr error) {
    const bool written = !error;
    hand_back(p.resume, std::move(p.handler), std::move(error), written);
  };
  std::exception_ptr error;
  try {
    write(batch);
  } catch (...) {
    error = std::current_exception();
  }
  if (!error) {
    for (PendingPut& p : batch) complete(p, nullptr);
    return;
  }
  if (batch.size() == 1) {
    // Moved, not copied: a copy left here would be released on this thread while the caller
    // reads the same exception object (libstdc++'s count is invisible to TSan, which flagged it).
    complete(batch.front(), std::move(error));
    return;
  }
  // One put that cannot be written (a full map) fails its whole transaction: each alone then,
  // so that only the puts that cannot be written fail.
  for (PendingPut& p : batch) {
    std::exception_ptr own;
    try {
      write(std::span<const PendingPut>(&p, 1));
    } catch (...) {
      own = std::current_exception();
    }
    complete(p, std::move(own));
  }
}

boost::asio::awaitable<bool> LmdbStore::ping() {
  try {
    const Txn txn(env_.get(), MDB_RDONLY);
    co_return true;
  } catch (const Error&) {
    co_return false;
  }
}

}  // namespace imagecpp::store
