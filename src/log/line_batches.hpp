#pragma once
// Lines gathered per thread and written out a batch at a time. Every network thread writes an
// access line per request: through one spdlog sink and stdio's FILE that was two locks a line
// shared by all of them, contended at every request (futex calls and context switches: about a
// microsecond of CPU a warm read). Here a thread appends to its own batch under a lock nobody
// else takes except the flush; a batch goes to the writer whole, when it would pass
// `batch_bytes`, and on flush() (once a second, before any other log line, and at the end).
//
// Lines of one thread stay in order; lines of different threads come out in batches, so within
// a flush period they are not in time order across threads (each line carries its time).
// Memory: at most `batch_bytes` (plus one line) a thread that ever appended.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace imagecpp::log {

class LineBatches {
 public:
  // Called with whole lines only, never with an empty text, one call at a time per batch.
  using Writer = std::function<void(std::string_view)>;

  LineBatches(std::size_t batch_bytes, Writer write);
  ~LineBatches();  // flushes
  LineBatches(const LineBatches&) = delete;
  LineBatches& operator=(const LineBatches&) = delete;

  // `line` (with its newline) joins the calling thread's batch.
  void append(std::string_view line);

  // Writes every thread's batch now.
  void flush();

 private:
  struct Batch {
    std::mutex mutex;
    std::string text;
  };
  // A thread's batches, by owner id (ids are never reused, so the entry of a destroyed owner is
  // never looked up again). Usually one entry: the access log's.
  struct ThreadEntry {
    std::uint64_t owner;
    Batch* batch;
  };
  static thread_local std::vector<ThreadEntry> t_entries_;

  Batch& mine();
  void write_out(Batch& batch);  // with batch.mutex held

  const std::uint64_t id_;  // tells this object's batches from another's in a thread's cache
  const std::size_t batch_bytes_;
  const Writer write_;
  std::mutex registry_mutex_;
  std::vector<std::unique_ptr<Batch>> batches_;  // one per thread that appended; never removed
};

}  // namespace imagecpp::log
