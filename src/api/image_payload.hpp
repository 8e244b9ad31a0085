#pragma once
// Parsing of upload bodies into raw image bytes. Errors are Error(bad_input, path "image").
#include <string>
#include <string_view>

namespace imagecpp::api {

// `value` is the JSON "image" string (JSON escapes already decoded): a data URL
// "data:<mime>[;params];base64,<payload>" of any image type, or bare base64.
// Returns the decoded bytes; does not check that they are an image.
std::string decode_image_value(std::string_view value);

// A JSON body {"image": "..."}: returns the decoded bytes. Rejects a body that is not a JSON
// object, has no "image" string, an empty one, or one that is not valid base64.
// `body` may be mutated scratch (simdjson padding is handled inside).
std::string decode_json_upload(std::string_view body);

}  // namespace imagecpp::api
