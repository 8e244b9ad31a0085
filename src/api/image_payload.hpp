#pragma once
// Parsing of upload bodies into raw image bytes. Errors are Error(bad_input, path "image").
#include <cstddef>
#include <string>
#include <string_view>

namespace imagecpp::api {

// Spare bytes the JSON parser reads past the end of a body. A caller that reserves
// body.size() + kJsonPadding in a std::string body lets decode_json_upload skip a copy.
inline constexpr std::size_t kJsonPadding = 64;

// `value` is the JSON "image" string (JSON escapes already decoded): a data URL
// "data:<mime>[;params];base64,<payload>" of any image type, or bare base64.
// Returns the decoded bytes; does not check that they are an image.
std::string decode_image_value(std::string_view value);

// A JSON body {"image": "..."}: returns the decoded bytes. Rejects a body that is not a JSON
// object, has no "image" string, an empty one, or one that is not valid base64.
// This overload copies the body once into a padded buffer.
std::string decode_json_upload(std::string_view body);

// Same, without the copy: `body` is used as scratch (it may grow by kJsonPadding bytes of
// capacity; its contents are unchanged).
std::string decode_json_upload(std::string& body);

}  // namespace imagecpp::api
