// Request framing beyond the parser's: only "chunked", only on HTTP/1.1, never with a length.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "http/framing.hpp"

namespace imagecpp::http {
namespace {

Request with(unsigned version, std::initializer_list<std::string> transfer_encodings,
             bool content_length = false) {
  Request r{boost::beast::http::verb::post, "/v1/image", version};
  for (const auto& value : transfer_encodings) r.insert("Transfer-Encoding", value);
  if (content_length) r.set("Content-Length", "5");
  return r;
}

TEST(Framing, NoTransferEncodingIsFine) {
  EXPECT_EQ(framing_error(with(11, {})), 0u);
  EXPECT_EQ(framing_error(with(10, {}, true)), 0u);
}

TEST(Framing, ExactlyChunkedOnHttp11IsFine) {
  EXPECT_EQ(framing_error(with(11, {"chunked"})), 0u);
  EXPECT_EQ(framing_error(with(11, {"Chunked"})), 0u);
  EXPECT_EQ(framing_error(with(11, {" chunked\t"})), 0u);
  EXPECT_EQ(framing_error(with(11, {", chunked ,"})), 0u);  // empty list elements
}

TEST(Framing, AnyOtherCodingIsNotImplemented) {
  for (const char* value : {"identity", "gzip", "xchunked", "chunked, identity", "gzip, chunked",
                            "chunked;q=1", "chunkedx"}) {
    EXPECT_EQ(framing_error(with(11, {value})), 501u) << value;
  }
  EXPECT_EQ(framing_error(with(11, {"gzip", "chunked"})), 501u);  // two fields
}

TEST(Framing, AmbiguousFramingIsBad) {
  EXPECT_EQ(framing_error(with(10, {"chunked"})), 400u);        // HTTP/1.0
  EXPECT_EQ(framing_error(with(11, {"chunked"}, true)), 400u);  // beside Content-Length
  EXPECT_EQ(framing_error(with(11, {"chunked, chunked"})), 400u);
  EXPECT_EQ(framing_error(with(11, {"chunked", "chunked"})), 400u);
  EXPECT_EQ(framing_error(with(11, {""})), 400u);
  EXPECT_EQ(framing_error(with(11, {" , "})), 400u);
}

}  // namespace
}  // namespace imagecpp::http
