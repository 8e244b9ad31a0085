#include "image/image_service.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "core/error.hpp"
#include "core/uuid.hpp"

namespace imagecpp::image {
namespace {

Format stored_format(const SharedBytes& bytes) {
  if (const auto format = sniff(*bytes)) return *format;
  throw Error(ErrorCode::internal, "stored value is not an accepted image");
}

}  // namespace

ImageService::ImageService(store::Store& store, WorkerPool& workers, BytesCache& cache,
                           ServiceSettings settings)
    : store_(store),
      workers_(workers),
      cache_(cache),
      settings_(settings),
      avif_gate_(settings.avif_slots, settings.avif_queue_limit) {}

boost::asio::awaitable<std::string> ImageService::create(std::string bytes) {
  const Limits limits = settings_.limits;
  auto shared = share(std::move(bytes));
  // Named, then moved: GCC 12 destroys closure temporaries in a co_await expression twice.
  auto job = [shared, limits] { return inspect(*shared, limits); };
  co_await workers_.run(std::move(job));
  std::string id = uuid::generate();
  co_await store_.put(id, std::move(shared));
  stats_.uploads.fetch_add(1, std::memory_order_relaxed);
  co_return id;
}

boost::asio::awaitable<Image> ImageService::original(const std::string& id) {
  SharedBytes bytes = co_await load_original(id, true);
  const Format format = stored_format(bytes);
  co_return Image{std::move(bytes), format};
}

boost::asio::awaitable<Image> ImageService::variant(const std::string& id, int size) {
  std::string key;
  const std::string digits = std::to_string(size);  // short: no allocation
  key.reserve(id.size() + 1 + digits.size());
  key.append(id).append("_").append(digits);
  return derived(id, std::move(key), size, Format::jpeg);
}

boost::asio::awaitable<Image> ImageService::original_jpeg(const std::string& id) {
  Image image = co_await original(id);
  if (image.format == Format::jpeg) co_return image;
  std::string key = id + "_jpeg";
  co_return co_await derived(id, std::move(key), std::nullopt, Format::jpeg);
}

boost::asio::awaitable<Image> ImageService::variant(const std::string& id, int size,
                                                    Format format) {
  if (format == Format::jpeg) return variant(id, size);
  return derived(id, id + "_" + std::to_string(size) + "_" + std::string(name(format)), size,
                 format);
}

boost::asio::awaitable<Image> ImageService::original_as(const std::string& id, Format format) {
  if (format == Format::jpeg) co_return co_await original_jpeg(id);
  Image image = co_await original(id);
  if (image.format == format) co_return image;
  std::string key = id + "_" + std::string(name(format));
  co_return co_await derived(id, std::move(key), std::nullopt, format);
}

boost::asio::awaitable<SharedBytes> ImageService::load_original(const std::string& id,
                                                                bool keep_hot) {
  if (SharedBytes hot = cache_.get(id)) co_return hot;
  // Concurrent first reads of one image share one store read: one buffer, however many readers.
  auto work = [this, &id] { return fetch_original(id); };
  SharedBytes bytes = co_await flights_.run(id, std::move(work));
  if (keep_hot) cache_.put(id, bytes);
  co_return bytes;
}

// Checked here, inside the single flight and before the cache, so that an original that is not
// an image is never kept hot and is the same 500 on every route (not a 400 from a failed decode
// on the variant routes).
boost::asio::awaitable<SharedBytes> ImageService::fetch_original(const std::string& id) {
  auto bytes = co_await store_.get(id);
  if (!bytes) throw Error(ErrorCode::not_found, "no image " + id);
  if (!sniff(**bytes)) {
    throw Error(ErrorCode::internal, "stored original " + id + " is not an accepted image (" +
                                         std::to_string((*bytes)->size()) + " bytes)");
  }
  co_return std::move(*bytes);
}

// A value that cannot be a derived image (another writer's garbage, a key of another type, a
// value over the size limit) is treated as absent: computed again from its original and written
// over, instead of a 500 for ever. A store that cannot answer is still a 503.
boost::asio::awaitable<SharedBytes> ImageService::stored_derived(const std::string& key) {
  std::optional<SharedBytes> stored;
  std::string unusable;
  try {
    stored = co_await store_.get(key);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::internal) throw;
    unusable = e.what();
  }
  if (stored && !sniff(**stored)) {
    unusable = "not an image (" + std::to_string((*stored)->size()) + " bytes)";
    stored.reset();
  }
  if (!unusable.empty()) spdlog::warn("stored {} unusable, computing it again: {}", key, unusable);
  if (!stored) co_return nullptr;
  co_return std::move(*stored);
}

boost::asio::awaitable<Image> ImageService::derived(const std::string& id, std::string key,
                                                    std::optional<int> box, Format format) {
  // No co_await inside ?: (GCC 12 destroys the result of such an expression twice).
  SharedBytes bytes = cache_.get(key);
  if (!bytes) {
    bytes = co_await stored_derived(key);
    if (bytes) {
      cache_.put(key, bytes);  // only a value checked above: the cache never holds garbage
    } else {
      auto work = [this, &id, &key, box, format] { return compute(id, key, box, format); };
      bytes = co_await flights_.run(key, std::move(work));
    }
  }
  const Format stored = stored_format(bytes);
  co_return Image{std::move(bytes), stored};
}

boost::asio::awaitable<SharedBytes> ImageService::compute(const std::string& id,
                                                          const std::string& key,
                                                          std::optional<int> box, Format format) {
  // A caller that lost the race to a finished flight lands here: use what it stored.
  if (SharedBytes hot = cache_.get(key)) co_return hot;
  if (SharedBytes stored = co_await stored_derived(key)) co_return stored;
  // An AVIF waits for its slot before it reads the original or takes a worker: a burst of AVIF
  // holds at most its slots' workers and no waiting original in memory.
  Gate::Pass pass;
  if (format == Format::avif) pass = co_await avif_gate_.enter();
  SharedBytes original = co_await load_original(id, false);
  // An original accepted at upload whose pixels cannot be decoded (cut short) answers 400, as
  // documented for hostile uploads; one that is not an image at all was refused above (500).
  const RenderOptions options = options_for(box, format);
  Encoded encoded = co_await encode_on_worker(original, options);
  pass = Gate::Pass();  // the slot is free again once the encode is done
  SharedBytes result = encoded.passthrough ? original : share(std::move(encoded.bytes));
  if (format == Format::webp) stats_.webp_computed.fetch_add(1, std::memory_order_relaxed);
  if (format == Format::avif) stats_.avif_computed.fetch_add(1, std::memory_order_relaxed);
  stats_.variants_computed.fetch_add(1, std::memory_order_relaxed);
  if (!cache_.enabled()) {
    co_await store_.put(key, result);  // the store is the only memory of it: wait for it
    co_return result;
  }
  // A variant can be recomputed from its original, so its first requester need not wait for a
  // durable write: the cache holds it meanwhile, and the write completes behind the answer.
  cache_.put(key, result);
  if (!reserve_write_behind(result->size())) {
    stats_.writes_waited.fetch_add(1, std::memory_order_relaxed);
    co_await store_.put(key, result);
    co_return result;
  }
  writes_pending_.fetch_add(1, std::memory_order_acq_rel);
  const auto executor = co_await boost::asio::this_coro::executor;
  boost::asio::co_spawn(executor, write_behind(key, result), boost::asio::detached);
  co_return result;
}

// Never lets the total pass the bound, not even for a moment (as WorkerPool's places).
bool ImageService::reserve_write_behind(std::size_t bytes) noexcept {
  std::size_t current = writes_behind_bytes_.load(std::memory_order_relaxed);
  do {
    if (bytes > cache_.capacity() || current > cache_.capacity() - bytes) return false;
  } while (!writes_behind_bytes_.compare_exchange_weak(current, current + bytes,
                                                       std::memory_order_relaxed));
  return true;
}

RenderOptions ImageService::options_for(std::optional<int> box, Format format) const {
  switch (format) {
    case Format::webp:
      return {box, settings_.webp_quality, format, settings_.webp_effort};
    case Format::avif:
      return {box, settings_.avif_quality, format, settings_.avif_effort};
    default:
      return {box, settings_.jpeg_quality, Format::jpeg, 0};
  }
}

boost::asio::awaitable<Encoded> ImageService::encode_on_worker(SharedBytes original,
                                                               RenderOptions options) {
  const Limits limits = settings_.limits;
  // Named, then moved: GCC 12 destroys closure temporaries in a co_await expression twice.
  auto job = [original, options, limits] { return render(*original, options, limits); };
  co_return co_await workers_.run(std::move(job));
}

boost::asio::awaitable<void> ImageService::write_behind(std::string key, SharedBytes bytes) {
  const std::size_t size = bytes->size();
  try {
    co_await store_.put(std::move(key), std::move(bytes));
  } catch (const std::exception&) {
    // Not lost: the next request for it after eviction computes it again.
    stats_.write_behind_failures.fetch_add(1, std::memory_order_relaxed);
  }
  writes_behind_bytes_.fetch_sub(size, std::memory_order_relaxed);
  writes_pending_.fetch_sub(1, std::memory_order_acq_rel);
}

}  // namespace imagecpp::image
