#include "image/image_service.hpp"

#include "core/error.hpp"
#include "core/uuid.hpp"

namespace imagecpp::image {
namespace {

Format stored_format(const SharedBytes& bytes) {
  if (const auto format = sniff(*bytes)) return *format;
  throw Error(ErrorCode::internal, "stored value is not an accepted image");
}

}  // namespace

ImageService::ImageService(store::Store& store, WorkerPool& workers, ServiceSettings settings)
    : store_(store), workers_(workers), settings_(settings) {}

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
  SharedBytes bytes = co_await load_original(id);
  const Format format = stored_format(bytes);
  co_return Image{std::move(bytes), format};
}

boost::asio::awaitable<Image> ImageService::variant(const std::string& id, int size) {
  co_return co_await derived(id, id + "_" + std::to_string(size), size);
}

boost::asio::awaitable<Image> ImageService::original_jpeg(const std::string& id) {
  Image image = co_await original(id);
  if (image.format == Format::jpeg) co_return image;
  co_return co_await derived(id, id + "_jpeg", std::nullopt);
}

boost::asio::awaitable<SharedBytes> ImageService::load_original(const std::string& id) {
  auto bytes = co_await store_.get(id);
  if (!bytes) throw Error(ErrorCode::not_found, "no image " + id);
  co_return std::move(*bytes);
}

boost::asio::awaitable<Image> ImageService::derived(const std::string& id, const std::string& key,
                                                    std::optional<int> box) {
  // No co_await inside ?: (GCC 12 destroys the result of such an expression twice).
  SharedBytes bytes;
  if (auto stored = co_await store_.get(key)) {
    bytes = std::move(*stored);
  } else {
    auto work = [this, &id, &key, box] { return compute(id, key, box); };
    bytes = co_await flights_.run(key, std::move(work));
  }
  const Format format = stored_format(bytes);
  co_return Image{std::move(bytes), format};
}

boost::asio::awaitable<SharedBytes> ImageService::compute(const std::string& id,
                                                          const std::string& key,
                                                          std::optional<int> box) {
  // A caller that lost the race to a finished flight lands here: use what it stored.
  if (auto stored = co_await store_.get(key)) co_return std::move(*stored);
  SharedBytes original = co_await load_original(id);
  const RenderOptions options{box, settings_.jpeg_quality};
  const Limits limits = settings_.limits;
  auto job = [original, options, limits] { return render_jpeg(*original, options, limits); };
  Rendered rendered = co_await workers_.run(std::move(job));
  SharedBytes result = rendered.passthrough ? original : share(std::move(rendered.jpeg));
  co_await store_.put(key, result);
  stats_.variants_computed.fetch_add(1, std::memory_order_relaxed);
  co_return result;
}

}  // namespace imagecpp::image
