#include "api/router.hpp"

#include <array>
#include <utility>

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

// What may follow "{prefix}{id}", with the labels of both families.
struct Tail {
  std::string_view suffix;
  Route route;
  Wanted wanted;
  bool json;
  std::string_view v1_label;
  std::string_view images_label;
};

constexpr std::array kTails{
    Tail{"/jpeg", Route::image_jpeg, Wanted::negotiated, false, "/v1/image/{id}/jpeg",
         "/images/{id}/jpeg"},
    Tail{"/webp", Route::image_as, Wanted::webp, false, "/v1/image/{id}/webp", "/images/{id}/webp"},
    Tail{"/avif", Route::image_as, Wanted::avif, false, "/v1/image/{id}/avif", "/images/{id}/avif"},
    Tail{"/auto", Route::image_as, Wanted::negotiated, false, "/v1/image/{id}/auto",
         "/images/{id}/auto"},
    Tail{"/webp/json", Route::image_as, Wanted::webp, true, "/v1/image/{id}/webp/json",
         "/images/{id}/webp/json"},
    Tail{"/avif/json", Route::image_as, Wanted::avif, true, "/v1/image/{id}/avif/json",
         "/images/{id}/avif/json"},
    Tail{"/auto/json", Route::image_as, Wanted::negotiated, true, "/v1/image/{id}/auto/json",
         "/images/{id}/auto/json"},
};

// "{prefix}{id}" or "{prefix}{id}{tail}" with a single non-empty id segment.
bool match_image(std::string_view path, std::string_view prefix, RouteMatch& out) {
  if (!path.starts_with(prefix)) return false;
  std::string_view rest = path.substr(prefix.size());
  const bool v1 = prefix == "/v1/image/";
  RouteMatch match{
      Route::image, {}, v1 ? "/v1/image/{id}" : "/images/{id}", Wanted::negotiated, false};
  for (const Tail& tail : kTails) {
    if (!rest.ends_with(tail.suffix)) continue;
    rest.remove_suffix(tail.suffix.size());
    match =
        RouteMatch{tail.route, {}, v1 ? tail.v1_label : tail.images_label, tail.wanted, tail.json};
    break;
  }
  if (rest.empty() || rest.find('/') != std::string_view::npos) return false;
  match.id = std::string(rest);
  out = std::move(match);
  return true;
}

}  // namespace

RouteMatch match_route(std::string_view path) {
  for (const auto& f : kFixed) {
    if (path == f.path) return RouteMatch{f.route, {}, f.path, Wanted::negotiated, false};
  }
  RouteMatch m;
  if (match_image(path, "/v1/image/", m) || match_image(path, "/images/", m)) return m;
  return RouteMatch{Route::unknown, {}, "unmatched", Wanted::negotiated, false};
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
