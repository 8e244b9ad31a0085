#include "api/router.hpp"

#include <array>

namespace imagecpp::api {
namespace {

struct Fixed {
  std::string_view path;
  Route route;
};

constexpr std::array kFixed{
    Fixed{"/v1/image", Route::upload},
    Fixed{"/images/create", Route::upload},
    Fixed{"/", Route::docs},
    Fixed{"/docs", Route::docs},
    Fixed{"/openapi.json", Route::openapi},
    Fixed{"/healthz", Route::healthz},
    Fixed{"/readyz", Route::readyz},
    Fixed{"/metrics", Route::metrics},
};

// "{prefix}{id}" or "{prefix}{id}/jpeg" with a single non-empty id segment.
bool match_image(std::string_view path, std::string_view prefix, RouteMatch& out) {
  if (!path.starts_with(prefix)) return false;
  std::string_view rest = path.substr(prefix.size());
  Route route = Route::image;
  if (rest.ends_with("/jpeg")) {
    rest.remove_suffix(5);
    route = Route::image_jpeg;
  }
  if (rest.empty() || rest.find('/') != std::string_view::npos) return false;
  const bool v1 = prefix == "/v1/image/";
  out.route = route;
  out.id = std::string(rest);
  if (route == Route::image) {
    out.label = v1 ? "/v1/image/{id}" : "/images/{id}";
  } else {
    out.label = v1 ? "/v1/image/{id}/jpeg" : "/images/{id}/jpeg";
  }
  return true;
}

}  // namespace

RouteMatch match_route(std::string_view path) {
  for (const auto& f : kFixed) {
    if (path == f.path) return RouteMatch{f.route, {}, f.path};
  }
  RouteMatch m;
  if (match_image(path, "/v1/image/", m) || match_image(path, "/images/", m)) return m;
  return RouteMatch{Route::unknown, {}, "unmatched"};
}

std::string_view allowed_methods(Route route) {
  switch (route) {
    case Route::upload:
      return "POST, OPTIONS";
    case Route::unknown:
      return "";
    default:
      return "GET, HEAD, OPTIONS";
  }
}

}  // namespace imagecpp::api
