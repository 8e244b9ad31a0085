#pragma once
// Gives the heap's free pages back to the kernel, from a thread of its own, whenever more than a
// bound of resident memory is free in it (issue 18).
//
// glibc returns memory by itself only from the top of the heap, above M_TRIM_THRESHOLD (256 MiB
// here, core/allocator.cpp), and never from free chunks below a block still in use. Under steady
// load, blocks of the hot cache and of answers in flight pin such holes, and the free bytes
// between them stay resident: RssAnon crept up while the bytes in use stayed flat. malloc_trim(0)
// (glibc 2.36) also releases the whole pages inside every free chunk (MADV_DONTNEED), so the
// holes cost address space, not memory. It holds the arena's lock while it walks the free
// chunks: every malloc waits meanwhile, hence a thread of its own that trims only when it pays.
//
// mallinfo2 cannot tell when it pays: its free bytes (fordblks) still count the pages a trim
// released, so after one trim they would call for the next forever. The kernel can: resident
// anonymous memory (RssAnon) less the bytes malloc has handed out is what the heap keeps
// resident for nothing, plus the threads' stacks and the little else that is not malloc's.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

namespace imagecpp {

struct HeapTrimSettings {
  std::chrono::milliseconds interval{1000};  // between checks; 0 = no thread, no trim
  std::uint64_t above_bytes = 8u << 20;      // resident memory not in use the heap may keep
};

class HeapTrimmer {
 public:
  struct Stats {
    std::atomic<std::uint64_t> trims{0};
    std::atomic<std::uint64_t> released_bytes{0};   // the probe's drop across each trim
    std::atomic<std::uint64_t> trim_ns{0};          // time inside malloc_trim, all trims
    std::atomic<std::uint64_t> longest_trim_ns{0};  // the longest: how long mallocs can wait
  };

  // Resident memory the heap keeps without using it, in bytes; nullopt when it cannot be read
  // (then nothing is trimmed).
  using Probe = std::function<std::optional<std::uint64_t>()>;
  using Trim = std::function<void()>;

  // Checks every settings.interval on a thread of its own, or never when it is 0 (check() is
  // then the caller's). The process's probe is metrics::resident_unused_heap (core knows no
  // /proc); the trim is injectable for tests.
  HeapTrimmer(HeapTrimSettings settings, Probe probe, Trim trim = release_free_pages);
  ~HeapTrimmer();  // stops and joins the thread
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

  // One check: trims when the probe reads more than settings.above_bytes. Returns whether it
  // trimmed. Not to be called concurrently with itself (the thread is its only caller).
  bool check();

  const Stats& stats() const noexcept { return stats_; }
  const HeapTrimSettings& settings() const noexcept { return settings_; }

  // malloc_trim(0): the top of the heap above nothing, and the pages inside free chunks.
  static void release_free_pages() noexcept;

 private:
  void run(const std::stop_token& stop);

  const HeapTrimSettings settings_;
  const Probe probe_;
  const Trim trim_;
  Stats stats_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: started after the members it uses, and joined before them
};

}  // namespace imagecpp
