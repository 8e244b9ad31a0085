#pragma once
// The image domain: create an image, find it, and make each resized variant once. Talks to a
// Store and a WorkerPool only; knows no HTTP and no storage engine.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <string>

#include "core/bytes.hpp"
#include "core/bytes_cache.hpp"
#include "core/gate.hpp"
#include "core/single_flight.hpp"
#include "core/worker_pool.hpp"
#include "image/format.hpp"
#include "image/processor.hpp"
#include "store/store.hpp"

namespace imagecpp::image {

struct Image {
  SharedBytes bytes;
  Format format = Format::jpeg;
};

struct ServiceSettings {
  int jpeg_quality = 80;
  Limits limits;
  // WebP and AVIF: the lowest qualities whose mean SSIM on the benchmark photos reaches the JPEG
  // variant's at its default (bench/formats.py --sweep; figures in the README). AVIF effort 2:
  // about a seventh of effort 4's CPU, for a few per cent more bytes (encoded on request).
  int webp_quality = 80;
  int webp_effort = 4;
  int avif_quality = 60;
  int avif_effort = 2;
  // AVIF encodes are several times slower than JPEG: at most `avif_slots` run at once (the other
  // workers stay free for JPEG and WebP), and `avif_queue_limit` more wait (503 beyond).
  unsigned avif_slots = 1;
  unsigned avif_queue_limit = 16;
};

struct ServiceStats {
  std::atomic<std::uint64_t> variants_computed{0};  // every format
  std::atomic<std::uint64_t> webp_computed{0};
  std::atomic<std::uint64_t> avif_computed{0};
  std::atomic<std::uint64_t> uploads{0};
  std::atomic<std::uint64_t> write_behind_failures{0};
  // Variants whose request waited for their write: the writes behind held their bound.
  std::atomic<std::uint64_t> writes_waited{0};
};

class ImageService {
 public:
  // `cache` holds hot originals and variants in front of the store (it may be disabled).
  ImageService(store::Store& store, WorkerPool& workers, BytesCache& cache,
               ServiceSettings settings);

  // Validates the bytes as an accepted image within limits, stores them under a new id and
  // returns the id once the store acknowledged the write.
  boost::asio::awaitable<std::string> create(std::string bytes);

  // Every awaitable below refers to `id` (not a copy): it must live until the awaiting ends.

  // The original as stored. Throws Error(not_found).
  boost::asio::awaitable<Image> original(const std::string& id);

  // The JPEG variant fitted in size x size, computed once and stored under "{id}_{size}".
  boost::asio::awaitable<Image> variant(const std::string& id, int size);

  // The original as JPEG: itself when it is one, else converted once and stored "{id}_jpeg".
  boost::asio::awaitable<Image> original_jpeg(const std::string& id);

  // The variant in `format` (jpeg, webp or avif), computed once: JPEG under "{id}_{size}" as
  // variant(), the others under "{id}_{size}_{format}". Transparency is kept in WebP and AVIF.
  boost::asio::awaitable<Image> variant(const std::string& id, int size, Format format);

  // The original in `format`: itself when it is one, else converted once, full size, and stored
  // under "{id}_{format}" (JPEG: original_jpeg()).
  boost::asio::awaitable<Image> original_as(const std::string& id, Format format);

  // AVIF computations holding a slot, and waiting for one.
  std::size_t avif_running() const { return avif_gate_.running(); }
  std::size_t avif_waiting() const { return avif_gate_.waiting(); }

  const ServiceStats& stats() const noexcept { return stats_; }

  // Variant writes still on their way to the store: shutdown waits for none to be left.
  std::size_t writes_pending() const noexcept {
    return writes_pending_.load(std::memory_order_acquire);
  }

 private:
  // `keep_hot`: an original a client reads is kept in the cache; one read only to compute a
  // variant is not (the variant is what will be asked for again, and originals are large).
  boost::asio::awaitable<SharedBytes> load_original(const std::string& id, bool keep_hot);
  boost::asio::awaitable<SharedBytes> fetch_original(const std::string& id);
  // `key` by value: variant() hands over a key it builds and returns this awaitable without
  // being a coroutine itself (no frame of its own on the warmest path).
  boost::asio::awaitable<Image> derived(const std::string& id, std::string key,
                                        std::optional<int> box, Format format);
  boost::asio::awaitable<SharedBytes> stored_derived(const std::string& key);
  boost::asio::awaitable<SharedBytes> compute(const std::string& id, const std::string& key,
                                              std::optional<int> box, Format format);
  boost::asio::awaitable<Encoded> encode_on_worker(SharedBytes original, RenderOptions options);
  RenderOptions options_for(std::optional<int> box, Format format) const;
  boost::asio::awaitable<void> write_behind(std::string key, SharedBytes bytes);
  bool reserve_write_behind(std::size_t bytes) noexcept;

  store::Store& store_;
  WorkerPool& workers_;
  BytesCache& cache_;
  const ServiceSettings settings_;
  SingleFlight<SharedBytes> flights_;  // keyed by store key: originals and derived images
  Gate avif_gate_;
  ServiceStats stats_;
  std::atomic<std::size_t> writes_pending_{0};
  // Bytes of the variants being written behind their answers, at most the cache's capacity: a
  // store slower than the workers makes requests wait for their writes rather than letting
  // variants pile up in memory on their way to it.
  std::atomic<std::size_t> writes_behind_bytes_{0};
};

}  // namespace imagecpp::image
