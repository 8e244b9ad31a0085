#include <mutex>
#include <string>

#include "core/error.hpp"
#include "image/glib_log.hpp"
#include "image/processor.hpp"
#include "image/vips_support.hpp"

namespace imagecpp::image {
namespace {

// Loader base classes; unblocking one unblocks its file, buffer and source variants.
constexpr const char* kAllowedLoaders[] = {"VipsForeignLoadJpeg", "VipsForeignLoadPng",
                                           "VipsForeignLoadWebp", "VipsForeignLoadNsgif",
                                           "VipsForeignLoadHeif"};

void start_vips(const char* argv0) {
  route_glib_logs();
  if (VIPS_INIT(argv0 != nullptr ? argv0 : "imagecpp") != 0) {
    std::string detail = std::string("libvips failed to start: ") + vips_error_buffer();
    vips_error_clear();
    throw Error(ErrorCode::internal, detail);
  }
  // Every image is different, so cached operations would only hold memory.
  vips_cache_set_max(0);
  // One thread per image: the service runs many images in parallel instead.
  vips_concurrency_set(1);
  // Uploads are hostile: no loader beyond the formats the service accepts may ever see them,
  // even if a bug let other bytes past sniff().
  vips_block_untrusted_set(TRUE);
  vips_operation_block_set("VipsForeignLoad", TRUE);
  for (const char* loader : kAllowedLoaders) vips_operation_block_set(loader, FALSE);
}

}  // namespace

void init_vips(const char* argv0) {
  static std::once_flag once;
  std::call_once(once, start_vips, argv0);
}

}  // namespace imagecpp::image
