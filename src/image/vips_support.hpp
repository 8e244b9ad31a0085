#pragma once
// The glue between libvips' C resources and errors and the rest of the module.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vips/vips8>

#include "core/error.hpp"

namespace imagecpp::image::detail {

struct AreaUnref {
  void operator()(VipsBlob* blob) const noexcept { vips_area_unref(VIPS_AREA(blob)); }
};
using BlobPtr = std::unique_ptr<VipsBlob, AreaUnref>;

// A blob that borrows `bytes` without copying them: they must outlive every image made from it,
// lazy pipelines included.
inline BlobPtr borrow_blob(std::string_view bytes) {
  return BlobPtr(vips_blob_new(nullptr, bytes.data(), bytes.size()));
}

// Runs `work`, turning a libvips failure into a client error with `message`. libvips keeps a
// process-wide error log that would otherwise grow with every rejected upload.
template <class Work>
auto or_bad_input(std::string_view message, Work&& work) {
  try {
    return std::forward<Work>(work)();
  } catch (const vips::VError&) {
    vips_error_clear();
    throw Error::bad_input("image", std::string(message));
  }
}

}  // namespace imagecpp::image::detail
