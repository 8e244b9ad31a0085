#pragma once
// Maps a request path to one of the service's routes. Both route families of the contract
// (/v1/image... for the Node peer, /images/... for the Go peer and the web client) map to the
// same routes.
#include <string>
#include <string_view>

namespace imagecpp::api {

enum class Route {
  upload,      // POST /v1/image, /images/create
  image,       // GET/HEAD /v1/image/{id}, /images/{id}
  image_jpeg,  // GET/HEAD /v1/image/{id}/jpeg, /images/{id}/jpeg
  docs,        // GET / and /docs
  openapi,     // GET /openapi.json
  healthz,
  readyz,
  metrics,
  unknown,
};

struct RouteMatch {
  Route route = Route::unknown;
  std::string id;          // the raw {id} segment, unvalidated
  std::string_view label;  // a route template for logs and metrics, e.g. "/v1/image/{id}"
};

// `path` is the percent-decoded path, without query.
RouteMatch match_route(std::string_view path);

// The methods a route accepts, for 405 answers and Allow headers: "POST, OPTIONS" or
// "GET, HEAD, OPTIONS" (OPTIONS: CORS preflight); empty for an unknown path.
std::string_view allowed_methods(Route route);

}  // namespace imagecpp::api
