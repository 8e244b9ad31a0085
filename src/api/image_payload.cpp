#include "api/image_payload.hpp"

#include <simdjson.h>

#include <optional>

#include "core/ascii.hpp"
#include "core/base64.hpp"
#include "core/data_url.hpp"
#include "core/error.hpp"

namespace imagecpp::api {
namespace {

static_assert(kJsonPadding >= simdjson::SIMDJSON_PADDING,
              "kJsonPadding must cover simdjson's padding");

[[noreturn]] void fail(std::string message) {
  throw Error::bad_input("image", std::move(message));
}

// The media type may be omitted (RFC 2397 then means text/plain, but clients that omit it
// mean "some image"); when given it must be image/<subtype>. The real type is sniffed later.
bool is_image_media_type(std::string_view type) noexcept {
  return type.empty() || (ascii::istarts_with(type, "image/") && type.size() > 6);
}

std::string decode_base64(std::string_view payload) {
  std::optional<std::string> bytes = base64::decode(payload);
  if (!bytes) fail("image is not valid base64");
  if (bytes->empty()) fail("image is empty");
  return std::move(*bytes);
}

// The "image" string without copying it when it holds no escape (the usual case: a few MB of
// base64), otherwise unescaped by simdjson into the parser's buffer.
std::string_view string_value(simdjson::ondemand::value value) {
  std::string_view raw = value.raw_json_token();
  while (!raw.empty() &&
         (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\n' || raw.back() == '\r')) {
    raw.remove_suffix(1);
  }
  if (raw.size() >= 2 && raw.back() == '"' && raw.find('\\') == std::string_view::npos) {
    return raw.substr(1, raw.size() - 2);
  }
  std::string_view text;
  if (value.get_string().get(text)) fail("body is not valid JSON");
  return text;
}

std::string parse_upload(simdjson::padded_string_view json) {
  // A parser per call: its buffers scale with the body (up to the 16 MiB limit), and keeping
  // one per thread would pin that memory for good.
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (parser.iterate(json).get(doc)) fail("body is not valid JSON");
  simdjson::ondemand::object object;
  simdjson::ondemand::json_type type;
  if (doc.type().get(type)) fail("body is not valid JSON");
  if (type != simdjson::ondemand::json_type::object) fail("body must be a JSON object");
  if (doc.get_object().get(object)) fail("body is not valid JSON");

  // Every field is walked so that a later duplicate "image" wins, as with JSON.parse.
  std::optional<std::string_view> image;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) fail("body is not valid JSON");
    if (key != "image") continue;
    simdjson::ondemand::value value;
    if (field.value().get(value) || value.type().get(type)) fail("body is not valid JSON");
    if (type == simdjson::ondemand::json_type::null) {
      image.reset();
    } else if (type != simdjson::ondemand::json_type::string) {
      fail("image must be a string");
    } else {
      image = string_value(value);
    }
  }
  // simdjson 3.0 has no document::at_end(): past the last token, current_location() reports
  // OUT_OF_BOUNDS; anything else means trailing content after the object.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) fail("body is not valid JSON");
  if (!image) fail("image is required");
  return decode_image_value(*image);
}

}  // namespace

std::string decode_image_value(std::string_view value) {
  if (value.empty()) fail("image is empty");
  if (!data_url::is_data_url(value)) return decode_base64(value);
  const auto parts = data_url::split(value);
  if (!parts) fail("image is not a valid data URL");
  if (!is_image_media_type(parts->media_type)) fail("image must be an image data URL");
  if (!parts->well_formed) fail("image is not a valid data URL");
  if (!parts->base64) fail("image must be base64");
  return decode_base64(parts->data);
}

std::string decode_json_upload(std::string_view body) {
  const simdjson::padded_string padded(body);
  return parse_upload(padded);
}

std::string decode_json_upload(std::string& body) {
  const std::size_t size = body.size();
  if (body.capacity() - size < simdjson::SIMDJSON_PADDING) {
    // Filled, not just reserved, so the parser never reads uninitialised bytes.
    body.append(simdjson::SIMDJSON_PADDING, ' ');
    body.resize(size);
  }
  return parse_upload(simdjson::padded_string_view(body.data(), size, body.capacity()));
}

}  // namespace imagecpp::api
