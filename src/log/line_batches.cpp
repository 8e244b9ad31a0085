#include "log/line_batches.hpp"

#include <algorithm>
#include <atomic>
#include <utility>

namespace imagecpp::log {
namespace {

std::atomic<std::uint64_t> g_next_id{1};

}  // namespace

thread_local std::vector<LineBatches::ThreadEntry> LineBatches::t_entries_;

LineBatches::LineBatches(std::size_t batch_bytes, Writer write)
    : id_(g_next_id.fetch_add(1, std::memory_order_relaxed)),
      batch_bytes_(batch_bytes),
      write_(std::move(write)) {}

LineBatches::~LineBatches() {
  flush();
}

LineBatches::Batch& LineBatches::mine() {
  const auto it = std::find_if(t_entries_.begin(), t_entries_.end(),
                               [this](const ThreadEntry& e) { return e.owner == id_; });
  if (it != t_entries_.end()) return *it->batch;
  const std::lock_guard lock(registry_mutex_);
  Batch& batch = *batches_.emplace_back(std::make_unique<Batch>());
  t_entries_.push_back({id_, &batch});
  return batch;
}

void LineBatches::write_out(Batch& batch) {
  if (batch.text.empty()) return;
  write_(batch.text);
  batch.text.clear();  // the capacity stays: no allocation for the next batch
}

void LineBatches::append(std::string_view line) {
  Batch& batch = mine();
  const std::lock_guard lock(batch.mutex);
  if (batch.text.size() + line.size() > batch_bytes_) write_out(batch);
  if (batch.text.capacity() < batch_bytes_) batch.text.reserve(batch_bytes_);
  batch.text.append(line);
}

void LineBatches::flush() {
  const std::lock_guard registry(registry_mutex_);
  for (const auto& batch : batches_) {
    const std::lock_guard lock(batch->mutex);
    write_out(*batch);
  }
}

}  // namespace imagecpp::log
