#include "api/api.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <cstdint>
#include <iterator>
#include <type_traits>

#include "api/accept.hpp"
#include "api/assets.hpp"
#include "api/image_payload.hpp"
#include "api/responses.hpp"
#include "api/router.hpp"
#include "api/size.hpp"
#include "api/target.hpp"
#include "auth/bearer.hpp"
#include "core/ascii.hpp"
#include "core/offload.hpp"
#include "core/uuid.hpp"
#include "log/escape.hpp"

namespace imagecpp::api {
namespace bhttp = boost::beast::http;
using boost::asio::awaitable;

namespace {

constexpr std::string_view kCorrelationHeader = "correlation_id";
constexpr std::string_view kAllowHeaders =
    "Origin, Authorization, Content-Type, Size, correlation_id, If-None-Match";

std::optional<std::string_view> header(const http::Request& r, std::string_view name) {
  const auto it = r.find(name);
  if (it == r.end()) return std::nullopt;
  return it->value();
}

// A client's correlation id is echoed into headers and logs: accept only a short printable token.
// Written over `out`, the connection's (its capacity reused).
void take_correlation_id(const http::Request& r, std::string& out) {
  const auto given = header(r, kCorrelationHeader);
  const bool usable = given && !given->empty() && given->size() <= 128 &&
                      std::all_of(given->begin(), given->end(),
                                  [](unsigned char c) { return c > 0x20 && c < 0x7f; });
  if (usable) {
    out.assign(given->data(), given->size());
  } else {
    uuid::generate_fast(out);  // ours need only be unique, not unguessable: no OS entropy
  }
}

// Work that grows with an image (a JSON answer's encoding, an upload body's decoding): on the
// offload pool above `inline_json_bytes`, else here (a hand-off costs more than a thumbnail's
// encoding). As for any callable handed to a coroutine function, name the job, then move it in.
template <class Job>
awaitable<std::invoke_result_t<Job&>> run_by_size(const ApiSettings& settings, std::size_t bytes,
                                                  Job job) {
  if (!settings.offload || bytes <= settings.inline_json_bytes) co_return job();
  co_return co_await run_on(settings.offload, std::move(job));
}

// An answer known at once, where the function hands over a handler's awaitable otherwise.
awaitable<http::Response> at_once(http::Response response) {
  co_return response;
}

enum class TagMatch { none, tag, any };

TagMatch etag_match(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    const auto comma = if_none_match.find(',');
    std::string_view candidate = if_none_match.substr(0, comma);
    while (!candidate.empty() && (candidate.front() == ' ' || candidate.front() == '\t')) {
      candidate.remove_prefix(1);
    }
    while (!candidate.empty() && (candidate.back() == ' ' || candidate.back() == '\t')) {
      candidate.remove_suffix(1);
    }
    if (candidate.starts_with("W/")) candidate.remove_prefix(2);  // weak comparison (RFC 9110)
    if (candidate == etag) return TagMatch::tag;
    if (candidate == "*") return TagMatch::any;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return TagMatch::none;
}

// One Vary token more, beside those already there.
void add_vary(http::Response& response, std::string_view token) {
  const std::string_view existing = response[bhttp::field::vary];
  if (existing.empty()) {
    response.set(bhttp::field::vary, token);
  } else {
    response.set(bhttp::field::vary, std::string(existing) + ", " + std::string(token));
  }
}

std::string allowed_sizes_message(const std::vector<int>& sizes) {
  std::string message = "Size must be one of";
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    message += (i == 0 ? " " : ", ") + std::to_string(sizes[i]);
  }
  return message;
}

std::string media_type(std::string_view content_type) {
  const auto end = content_type.find(';');
  std::string_view type = content_type.substr(0, end);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return ascii::lowered(type);
}

// How an upload body is to be read, from its declared type (the bytes are sniffed anyway).
enum class BodyKind { json, raw, unsupported };

BodyKind body_kind(const http::Request& r) {
  const auto declared = header(r, "Content-Type");
  if (!declared) {
    const auto first = r.body().find_first_not_of(" \t\r\n");
    return first != std::string::npos && r.body()[first] == '{' ? BodyKind::json : BodyKind::raw;
  }
  const std::string type = media_type(*declared);
  if (type == "application/json" || type.ends_with("+json")) return BodyKind::json;
  if (type.starts_with("image/") || type == "application/octet-stream") return BodyKind::raw;
  return BodyKind::unsupported;
}

// One tag per answer: id, Size ("o" for none), format, form. The JPEG bytes keep the tag the
// /jpeg route always had (same bytes); every other format and form has its own, so a 304 for one
// can never match another.
std::string etag_of(const std::string& id, std::optional<int> size, bool json,
                    std::optional<image::Format> format) {
  std::string tag;
  tag.reserve(id.size() + 24);  // one allocation: it is built on every read
  tag.append("\"").append(id).append("-");
  if (size) {
    fmt::format_to(std::back_inserter(tag), "{}", *size);
  } else {
    tag += 'o';
  }
  if (!format) return tag.append("-json\"");  // the JSON route's own, as it always was
  tag.append("-").append(image::name(*format));
  return tag.append(json ? "-json\"" : "\"");
}

// The format a negotiated read answers. Every Accept field counts, as one list (RFC 9110 5.3);
// the usual single field is parsed in place. AVIF is offered only for a Size whose box is within
// the AVIF pixel limit: an original's AVIF could be over it (a 400), and the choice must not
// depend on the stored image, so that a tag can be answered 304 without reading anything.
image::Format negotiate(const http::Request& request, bool avif_possible) {
  auto [first, end] = request.equal_range(bhttp::field::accept);
  std::string joined;
  std::string_view accept;
  if (first != end && std::next(first) == end) {
    accept = first->value();
  } else {
    for (auto it = first; it != end && joined.size() <= kMaxAcceptBytes; ++it) {
      if (!joined.empty()) joined += ", ";
      joined.append(it->value().data(), it->value().size());
    }
    accept = joined;
  }
  FormatWeights weights = parse_accept(accept);
  if (!avif_possible) weights.avif = 0;
  return choose_format(weights);
}

image::Format explicit_format(Wanted wanted) {
  return wanted == Wanted::avif ? image::Format::avif : image::Format::webp;
}

}  // namespace

struct Api::Context {
  http::Request& request;
  http::Exchange& exchange;
  RouteMatch match;
  Target target;
  unsigned version;
};

Api::Api(ApiSettings settings, image::ImageService& images, BytesCache& cache,
         auth::Verifier& verifier, store::Store& store, metrics::Registry& metrics)
    : settings_(std::move(settings)),
      images_(images),
      cache_(cache),
      verifier_(verifier),
      store_(store),
      metrics_(metrics) {}

awaitable<http::Response> Api::handle(http::Request& request, http::Exchange& exchange) {
  take_correlation_id(request, exchange.correlation_id);
  const unsigned version = request.version();
  std::string storage;
  auto target = parse_target(request.target(), storage);
  if (!target) {
    http::Response response = status_response(400, version);
    Context ctx{request, exchange, {}, {}, version};
    finish(ctx, response);
    co_return response;
  }
  const RouteMatch match = match_route(target->path);
  Context ctx{request, exchange, match, std::move(*target), version};
  exchange.route = ctx.match.label;
  http::Response response;
  try {
    response = co_await dispatch(ctx);
  } catch (const Error& e) {
    response = error_answer(ctx, e);
    co_return response;
  } catch (const std::exception& e) {
    spdlog::error("[{}] {} {}: unexpected: {}", exchange.correlation_id, request.method_string(),
                  exchange.route, log::escape(e.what(), log::kMaxErrorBytes));
    response = status_response(500, version);
  }
  finish(ctx, response);
  co_return response;
}

awaitable<std::optional<http::Response>> Api::admit(http::Request& header,
                                                    http::Exchange& exchange) {
  std::string storage;
  auto target = parse_target(header.target(), storage);
  const RouteMatch match = target ? match_route(target->path) : RouteMatch{};
  if (match.route != Route::upload || header.method() != bhttp::verb::post) {
    // Nothing else takes a body: answered from the header, the body unread.
    co_return co_await handle(header, exchange);
  }
  // The token before the body: a client without a valid one cannot make us hold its body.
  take_correlation_id(header, exchange.correlation_id);
  Context ctx{header, exchange, match, std::move(*target), header.version()};
  exchange.route = ctx.match.label;
  std::optional<http::Response> refused;
  try {
    co_await authenticate(ctx);
  } catch (const Error& e) {
    refused = error_answer(ctx, e);
  }
  co_return refused;
}

http::Response Api::early(unsigned status, unsigned version) const {
  http::Response response = status_response(status, version);
  response.set("X-Content-Type-Options", "nosniff");
  return response;
}

// The answer to an Error, logged when it is ours or a dependency's fault.
http::Response Api::error_answer(Context& ctx, const Error& e) const {
  if (e.code() == ErrorCode::internal || e.code() == ErrorCode::unavailable) {
    // A reported failure is already in the log once per burst; per request it is detail.
    // The detail may quote an upstream service (a Redis error reply, the auth service).
    spdlog::log(e.reported() ? spdlog::level::debug : spdlog::level::err, "[{}] {} {}: {}",
                ctx.exchange.correlation_id, ctx.request.method_string(), ctx.exchange.route,
                log::escape(e.what(), log::kMaxErrorBytes));
  }
  http::Response response = error_response(e, ctx.version);
  finish(ctx, response);
  return response;
}

// Not a coroutine: a read hands over the awaitable of the route's handler, without a frame of
// its own in between (one allocation less a request; coroutine frames, bench/allocations.sh).
awaitable<http::Response> Api::dispatch(Context& ctx) {
  const Route route = ctx.match.route;
  const auto method = ctx.request.method();
  if (route == Route::unknown) return at_once(status_response(404, ctx.version));
  if (method == bhttp::verb::options) {
    http::Response response = bytes_response(204, nullptr, "text/plain", ctx.version);
    response.erase(bhttp::field::content_type);
    response.set(bhttp::field::allow, allowed_methods(route));
    response.set(bhttp::field::access_control_allow_methods, "GET, HEAD, POST, OPTIONS");
    response.set(bhttp::field::access_control_allow_headers, kAllowHeaders);
    response.set(bhttp::field::access_control_max_age, "600");
    return at_once(std::move(response));
  }
  const bool reading = method == bhttp::verb::get || method == bhttp::verb::head;
  const bool allowed = route == Route::upload ? method == bhttp::verb::post : reading;
  if (!allowed) {
    http::Response response = status_response(405, ctx.version);
    response.set(bhttp::field::allow, allowed_methods(route));
    return at_once(std::move(response));
  }
  switch (route) {
    case Route::upload:
      return upload(ctx);
    case Route::image:
      return read(ctx, Answer{.json = true, .format = std::nullopt});
    case Route::image_jpeg:
      return read(ctx, Answer{.json = false, .format = image::Format::jpeg});
    case Route::image_as:
      // A negotiated format is chosen once the Size is known (see negotiate()).
      return read(ctx, Answer{.json = ctx.match.json, .format = explicit_format(ctx.match.wanted)});
    case Route::readyz:
      return readyz(ctx);
    default:
      return at_once(ops(ctx));
  }
}

awaitable<void> Api::authenticate(Context& ctx) {
  const auto value = header(ctx.request, "Authorization");
  const auto token = value ? auth::parse_bearer(*value) : std::nullopt;
  if (!token) throw Error(ErrorCode::unauthorized, "no bearer token");
  std::string owned(*token);
  const auth::User user = co_await verifier_.verify(std::move(owned));
  ctx.exchange.user = user.id;
  ctx.exchange.authenticated = true;
}

awaitable<http::Response> Api::upload(Context& ctx) {
  if (!ctx.exchange.authenticated) co_await authenticate(ctx);
  std::string& body = ctx.request.body();
  if (body.empty()) throw Error::bad_input("image", "image is required");
  std::string bytes;
  switch (body_kind(ctx.request)) {
    case BodyKind::json: {
      auto decode = [&body] { return decode_json_upload(body); };
      bytes = co_await run_by_size(settings_, body.size(), std::move(decode));
      break;
    }
    case BodyKind::raw:
      bytes = std::move(body);
      break;
    case BodyKind::unsupported:
      throw Error::bad_input("image",
                             "unsupported Content-Type: send application/json or the image bytes "
                             "with an image/* type");
  }
  const std::string id = co_await images_.create(std::move(bytes));
  co_return json_response(200, R"({"id":")" + id + "\"}", ctx.version);
}

awaitable<http::Response> Api::read(Context& ctx, Answer answer) {
  const std::optional<std::string>& query_size = ctx.target.size;
  const SizeChoice size =
      choose_size(query_size ? std::optional<std::string_view>(*query_size) : std::nullopt,
                  header(ctx.request, "Size"), settings_.sizes);
  std::vector<FieldError> problems;
  if (!uuid::is_valid(ctx.match.id)) problems.push_back({"id", "id must be a UUID"});
  if (!size.valid) problems.push_back({"size", allowed_sizes_message(settings_.sizes)});
  if (!problems.empty()) throw Error(ErrorCode::bad_input, "bad read", std::move(problems));
  if (settings_.private_reads) co_await authenticate(ctx);

  const std::string id = uuid::normalize(ctx.match.id);
  if (ctx.match.route == Route::image_as && ctx.match.wanted == Wanted::negotiated) {
    const bool avif_possible = size.size && static_cast<std::uint64_t>(*size.size) *
                                                    static_cast<std::uint64_t>(*size.size) <=
                                                settings_.max_avif_pixels;
    answer.format = negotiate(ctx.request, avif_possible);
  }
  const std::string etag = etag_of(id, size.size, answer.json, answer.format);
  const std::string_view cache_control = settings_.private_reads
                                             ? "private, max-age=31536000, immutable"
                                             : "public, max-age=31536000, immutable";
  http::Response response;
  const auto if_none_match = header(ctx.request, "If-None-Match");
  const TagMatch match = if_none_match ? etag_match(*if_none_match, etag) : TagMatch::none;
  if (match == TagMatch::tag) {
    // Images are immutable per id and Size: a matching tag needs no store lookup.
    response = not_modified(ctx.version);
  } else if (!answer.json) {
    const image::Image image = co_await load(id, size.size, answer.format);
    response = bytes_response(200, image.bytes, image::mime_type(image.format), ctx.version);
  } else {
    SharedBytes body = co_await json_body(id, size.size, answer.format, etag);
    response = bytes_response(200, std::move(body), "application/json", ctx.version);
  }
  // "*" matches any current representation: only once the image was found (else 404 above).
  if (match == TagMatch::any) response = not_modified(ctx.version);
  response.set(bhttp::field::etag, etag);
  response.set(bhttp::field::cache_control, cache_control);
  co_return response;
}

http::Response Api::not_modified(unsigned version) {
  http::Response response = bytes_response(304, nullptr, "", version);
  response.erase(bhttp::field::content_type);
  response.erase(bhttp::field::content_length);
  return response;
}

// Not a coroutine: it picks the domain's awaitable and hands it over (no frame of its own on the
// warmest path). `id` must outlive the awaiting, as for ImageService.
awaitable<image::Image> Api::load(const std::string& id, std::optional<int> size,
                                  std::optional<image::Format> format) {
  if (size && (!format || *format == image::Format::jpeg)) return images_.variant(id, *size);
  if (!format) return images_.original(id);
  if (size) return images_.variant(id, *size, *format);
  return images_.original_as(id, *format);
}

awaitable<SharedBytes> Api::json_body(const std::string& id, std::optional<int> size,
                                      std::optional<image::Format> format,
                                      const std::string& etag) {
  // The tag names exactly one answer (id, Size, format, form), and ids are immutable: it is the
  // key.
  if (SharedBytes hot = cache_.get(etag)) co_return hot;
  // Concurrent readers of one answer share one encoding (and one buffer) of it.
  auto work = [this, &id, size, format, &etag] { return encode_json(id, size, format, etag); };
  co_return co_await json_flights_.run(etag, std::move(work));
}

awaitable<SharedBytes> Api::encode_json(const std::string& id, std::optional<int> size,
                                        std::optional<image::Format> format,
                                        const std::string& etag) {
  const image::Image image = co_await load(id, size, format);
  // Milliseconds of base64 for a large original. Still inside the single flight: one encoding
  // per tag.
  auto encode = [&id, &image] { return share(image_json(id, image)); };
  SharedBytes body = co_await run_by_size(settings_, image.bytes->size(), std::move(encode));
  cache_.put(etag, body);
  co_return body;
}

awaitable<http::Response> Api::readyz(Context& ctx) {
  const bool store_ok = co_await store_.ping();
  // The logout broadcast is detail, not a verdict: without it the service still serves (a
  // logout then takes effect when the token's cache entry expires).
  std::string broker_detail;
  if (settings_.broker_connected) {
    broker_detail =
        settings_.broker_connected() ? R"(,"broker":"connected")" : R"(,"broker":"disconnected")";
  }
  if (store_ok) {
    co_return json_response(200, R"({"status":"ready","store":"ok")" + broker_detail + "}",
                            ctx.version);
  }
  http::Response response = json_response(
      503, R"({"status":"unready","store":"unavailable")" + broker_detail + "}", ctx.version);
  response.set(bhttp::field::retry_after, "1");
  co_return response;
}

http::Response Api::ops(Context& ctx) {
  switch (ctx.match.route) {
    case Route::docs: {
      static const SharedBytes page = share(std::string(assets::docs_html));
      http::Response response = bytes_response(200, page, "text/html; charset=utf-8", ctx.version);
      response.set("Content-Security-Policy",
                   "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
      return response;
    }
    case Route::openapi: {
      static const SharedBytes document = share(std::string(assets::openapi_json));
      return bytes_response(200, document, "application/json", ctx.version);
    }
    case Route::healthz:
      return json_response(200, R"({"status":"ok"})", ctx.version);
    case Route::metrics:
      return bytes_response(200, share(metrics_.render()), "text/plain; version=0.0.4",
                            ctx.version);
    default:
      return status_response(404, ctx.version);
  }
}

void Api::finish(Context& ctx, http::Response& response) const {
  response.set(kCorrelationHeader, ctx.exchange.correlation_id);
  response.set("X-Content-Type-Options", "nosniff");
  const Route route = ctx.match.route;
  if (route == Route::image || route == Route::image_jpeg || route == Route::image_as) {
    // The answer depends on the Size header, present or not: a shared cache must key on it.
    add_vary(response, "Size");
  }
  // And a negotiated one on Accept (errors included: a cache must not serve one for another).
  if (route == Route::image_as && ctx.match.wanted == Wanted::negotiated) {
    add_vary(response, "Accept");
  }
  if (const auto origin = header(ctx.request, "Origin")) {
    const auto& allowed = settings_.cors_origins;
    const bool any = std::find(allowed.begin(), allowed.end(), "*") != allowed.end();
    if (any) {
      response.set(bhttp::field::access_control_allow_origin, "*");
    } else if (std::find(allowed.begin(), allowed.end(), *origin) != allowed.end()) {
      response.set(bhttp::field::access_control_allow_origin, *origin);
      add_vary(response, "Origin");
    }
    response.set(bhttp::field::access_control_expose_headers, "ETag, correlation_id");
  }
  if (ctx.request.method() == bhttp::verb::head) {
    // Same headers as GET, Content-Length included, no body.
    response.body() = nullptr;
  }
}

}  // namespace imagecpp::api
