#pragma once
// The HTTP application: routes a request, applies auth, CORS, correlation ids and caching
// headers, calls the image domain, and turns every outcome into the contract's answer.
#include <boost/asio/any_io_executor.hpp>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "api/image_json.hpp"
#include "auth/verifier.hpp"
#include "core/bytes_cache.hpp"
#include "core/error.hpp"
#include "core/single_flight.hpp"
#include "http/types.hpp"
#include "image/image_service.hpp"
#include "metrics/registry.hpp"
#include "store/store.hpp"

namespace imagecpp::api {

struct ApiSettings {
  std::vector<int> sizes{160, 320, 640, 800, 1024, 1200};
  bool private_reads = false;
  std::vector<std::string> cors_origins{"*"};
  // Whether the logout broadcast consumer is connected, for /readyz's detail; empty when there
  // is no consumer (static auth, or no broker configured).
  std::function<bool()> broker_connected{};
  // AVIF is negotiated only for a Size whose box fits this many pixels (the domain's limit).
  std::uint64_t max_avif_pixels = 4'000'000;
  // Where the JSON answer of an image over `inline_json_bytes` is encoded, and a JSON upload
  // body over that size decoded (a pool), so that the network thread serves other connections
  // meanwhile; none: on the calling thread.
  boost::asio::any_io_executor offload{};
  std::size_t inline_json_bytes = kInlineJsonBytes;
};

class Api {
 public:
  // `cache` keeps encoded JSON answers (it may be disabled); `images` keeps its own entries in
  // the same cache.
  Api(ApiSettings settings, image::ImageService& images, BytesCache& cache,
      auth::Verifier& verifier, store::Store& store, metrics::Registry& metrics);

  boost::asio::awaitable<http::Response> handle(http::Request& request, http::Exchange& exchange);

  // Once a request's header is in and before its body is read (see http::Admitter): checks the
  // token of an upload, and answers anything else that came with a body from its header.
  boost::asio::awaitable<std::optional<http::Response>> admit(http::Request& header,
                                                              http::Exchange& exchange);

  // For requests the server rejects before they reach handle().
  http::Response early(unsigned status, unsigned version) const;

 private:
  struct Context;
  boost::asio::awaitable<http::Response> dispatch(Context& ctx);
  boost::asio::awaitable<http::Response> upload(Context& ctx);
  // What a read answers: the JSON form or the bytes, of the image as stored (nullopt: the JSON
  // route's original, or its JPEG variant) or in one variant format.
  struct Answer {
    bool json = false;
    std::optional<image::Format> format;
  };
  boost::asio::awaitable<http::Response> read(Context& ctx, Answer answer);
  boost::asio::awaitable<image::Image> load(const std::string& id, std::optional<int> size,
                                            std::optional<image::Format> format);
  boost::asio::awaitable<SharedBytes> json_body(const std::string& id, std::optional<int> size,
                                                std::optional<image::Format> format,
                                                const std::string& etag);
  boost::asio::awaitable<SharedBytes> encode_json(const std::string& id, std::optional<int> size,
                                                  std::optional<image::Format> format,
                                                  const std::string& etag);
  boost::asio::awaitable<http::Response> readyz(Context& ctx);
  http::Response ops(Context& ctx);
  boost::asio::awaitable<void> authenticate(Context& ctx);
  void finish(Context& ctx, http::Response& response) const;
  http::Response error_answer(Context& ctx, const Error& e) const;
  static http::Response not_modified(unsigned version);

  const ApiSettings settings_;
  image::ImageService& images_;
  BytesCache& cache_;
  auth::Verifier& verifier_;
  store::Store& store_;
  metrics::Registry& metrics_;
  SingleFlight<SharedBytes> json_flights_;  // keyed by ETag
};

}  // namespace imagecpp::api
