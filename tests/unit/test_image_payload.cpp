#include <gtest/gtest.h>

#include <string>

#include "api/image_payload.hpp"
#include "core/base64.hpp"
#include "core/error.hpp"

using imagecpp::Error;
using imagecpp::ErrorCode;
using imagecpp::api::decode_image_value;
using imagecpp::api::decode_json_upload;

namespace {

// PNG signature plus a few bytes with '+' and '/' in their base64 form.
const std::string kBytes = std::string("\x89PNG\r\n\x1a\n", 8) + "\xfb\xff\xbf\x00\x01";
const std::string kB64 = imagecpp::base64::encode(kBytes);

// The message of the bad_input error thrown by `f`, or a failure.
template <typename F>
std::string bad_input_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::bad_input);
    EXPECT_EQ(e.fields().size(), 1u);
    if (e.fields().empty()) return "<no field>";
    EXPECT_EQ(e.fields()[0].path, "image");
    return e.fields()[0].message;
  }
  ADD_FAILURE() << "no Error thrown";
  return "";
}

std::string value_error(std::string_view value) {
  return bad_input_message([&] { decode_image_value(value); });
}

std::string json_error(std::string_view body) {
  return bad_input_message([&] { decode_json_upload(body); });
}

}  // namespace

TEST(ImagePayload, BareBase64) {
  EXPECT_EQ(decode_image_value(kB64), kBytes);
}

TEST(ImagePayload, DataUrlForms) {
  for (const std::string prefix : {
           "data:image/png;base64,",
           "data:image/jpeg;base64,",
           "data:image/svg+xml;base64,",
           "data:;base64,",
           "DATA:IMAGE/PNG;BASE64,",
           "Data:image/png;charset=x;base64,",
           "data:image/png;name=a.png;charset=utf-8;base64,",
       }) {
    EXPECT_EQ(decode_image_value(prefix + kB64), kBytes) << prefix;
  }
}

TEST(ImagePayload, DataUrlErrors) {
  EXPECT_EQ(value_error("data:image/png;base64" + kB64), "image is not a valid data URL");
  EXPECT_EQ(value_error("data:image/png," + kB64), "image must be base64");
  EXPECT_EQ(value_error("data:image/png;charset=x," + kB64), "image must be base64");
  EXPECT_EQ(value_error("data:," + kB64), "image must be base64");
  EXPECT_EQ(value_error("data:text/plain;base64," + kB64), "image must be an image data URL");
  EXPECT_EQ(value_error("data:image/;base64," + kB64), "image must be an image data URL");
  EXPECT_EQ(value_error("data:image/png;base64;charset=x," + kB64),
            "image is not a valid data URL");
  EXPECT_EQ(value_error("data:image/png;junk;base64," + kB64), "image is not a valid data URL");
  EXPECT_EQ(value_error("data:image/png;base64,!!!"), "image is not valid base64");
  EXPECT_EQ(value_error("data:image/png;base64,"), "image is empty");
}

TEST(ImagePayload, ValueErrors) {
  EXPECT_EQ(value_error(""), "image is empty");
  EXPECT_EQ(value_error("   \n"), "image is empty");
  EXPECT_EQ(value_error("not base64!"), "image is not valid base64");
  EXPECT_EQ(value_error("Zm9vY"), "image is not valid base64");
}

TEST(ImagePayload, JsonBody) {
  EXPECT_EQ(decode_json_upload(R"({"image": "data:image/png;base64,)" + kB64 + "\"}"), kBytes);
  EXPECT_EQ(decode_json_upload(" {\"other\": [1, {\"a\": null}], \"image\" :\"" + kB64 + "\" }\n"),
            kBytes);
}

TEST(ImagePayload, JsonEscapesAreDecoded) {
  std::string escaped;
  for (const char c : kB64) {
    if (c == '/') {
      escaped += "\\/";
    } else if (c == '+') {
      escaped += "\\u002b";
    } else {
      escaped += c;
    }
  }
  ASSERT_NE(escaped, kB64);
  EXPECT_EQ(decode_json_upload(R"({"image":"data:image\/png;base64,)" + escaped + "\"}"), kBytes);
  EXPECT_EQ(decode_json_upload(R"({"im\u0061ge":")" + kB64 + "\"}"), kBytes);
}

TEST(ImagePayload, MutableBodyOverloadLeavesBodyUnchanged) {
  std::string body = R"({"image":")" + kB64 + "\"}";
  body.shrink_to_fit();
  const std::string copy = body;
  EXPECT_EQ(decode_json_upload(body), kBytes);
  EXPECT_EQ(body, copy);

  std::string reserved = copy;
  reserved.reserve(copy.size() + imagecpp::api::kJsonPadding);
  const char* data = reserved.data();
  EXPECT_EQ(decode_json_upload(reserved), kBytes);
  EXPECT_EQ(reserved.data(), data);  // no reallocation
  EXPECT_EQ(reserved, copy);
}

TEST(ImagePayload, LastDuplicateImageWins) {
  EXPECT_EQ(decode_json_upload(R"({"image":"!!","image":")" + kB64 + "\"}"), kBytes);
}

TEST(ImagePayload, JsonErrors) {
  EXPECT_EQ(json_error(""), "body is not valid JSON");
  EXPECT_EQ(json_error("{"), "body is not valid JSON");
  EXPECT_EQ(json_error("{\"image\": \"" + kB64), "body is not valid JSON");
  EXPECT_EQ(json_error("{\"image\": \"" + kB64 + "\"} x"), "body is not valid JSON");
  EXPECT_EQ(json_error("{\"image\": \"Zm9v\nYmFy\"}"), "body is not valid JSON");  // raw newline
  EXPECT_EQ(json_error("{\"image\": \"\xff\"}"), "body is not valid JSON");        // bad UTF-8
  EXPECT_EQ(json_error("{\"image\": \"Zm9v\\q\"}"), "body is not valid JSON");     // bad escape
  EXPECT_EQ(json_error("[\"" + kB64 + "\"]"), "body must be a JSON object");
  EXPECT_EQ(json_error("\"" + kB64 + "\""), "body must be a JSON object");
  EXPECT_EQ(json_error("42"), "body must be a JSON object");
  EXPECT_EQ(json_error("{}"), "image is required");
  EXPECT_EQ(json_error(R"({"img":"Zm9v"})"), "image is required");
  EXPECT_EQ(json_error(R"({"image":null})"), "image is required");
  EXPECT_EQ(json_error(R"({"image":42})"), "image must be a string");
  EXPECT_EQ(json_error(R"({"image":["Zm9v"]})"), "image must be a string");
  EXPECT_EQ(json_error(R"({"image":{"data":"Zm9v"}})"), "image must be a string");
  EXPECT_EQ(json_error(R"({"image":""})"), "image is empty");
  EXPECT_EQ(json_error(R"({"image":"data:image/png;base64,"})"), "image is empty");
  EXPECT_EQ(json_error(R"({"image":"@@@"})"), "image is not valid base64");
  EXPECT_EQ(json_error(R"({"image":"data:image/png,abc"})"), "image must be base64");
}
