#include "core/heap_trimmer.hpp"

#include <malloc.h>
#include <pthread.h>

#include <utility>

namespace imagecpp {

HeapTrimmer::HeapTrimmer(HeapTrimSettings settings, Probe probe, Trim trim)
    : settings_(settings), probe_(std::move(probe)), trim_(std::move(trim)) {
  if (settings_.interval.count() > 0) {
    thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
  }
}

HeapTrimmer::~HeapTrimmer() {
  if (thread_.joinable()) {
    thread_.request_stop();  // wakes the wait at once
    thread_.join();
  }
}

void HeapTrimmer::run(const std::stop_token& stop) {
  pthread_setname_np(pthread_self(), "heap-trim");  // to tell it apart in top and perf
  std::unique_lock lock(mutex_);
  // Nothing notifies but the stop request: each wait ends after the interval (false: check), or
  // at once when stopping (true).
  while (
      !wake_.wait_for(lock, stop, settings_.interval, [&stop] { return stop.stop_requested(); })) {
    lock.unlock();
    check();
    lock.lock();
  }
}

bool HeapTrimmer::check() {
  const auto before = probe_();
  if (!before || *before <= settings_.above_bytes) return false;
  const auto start = std::chrono::steady_clock::now();
  trim_();
  const auto ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count());
  // Other threads allocate and free meanwhile: the drop is an estimate of what was released.
  const auto after = probe_();
  stats_.trims.fetch_add(1, std::memory_order_relaxed);
  stats_.trim_ns.fetch_add(ns, std::memory_order_relaxed);
  // One writer (this thread, or a test's only one): no lost update between the load and store.
  if (ns > stats_.longest_trim_ns.load(std::memory_order_relaxed)) {
    stats_.longest_trim_ns.store(ns, std::memory_order_relaxed);
  }
  if (after && *after < *before) {
    stats_.released_bytes.fetch_add(*before - *after, std::memory_order_relaxed);
  }
  return true;
}

void HeapTrimmer::release_free_pages() noexcept {
  malloc_trim(0);
}

}  // namespace imagecpp
