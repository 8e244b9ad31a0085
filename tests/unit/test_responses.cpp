#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "api/responses.hpp"
#include "metrics/registry.hpp"

namespace imagecpp::api {
namespace {

boost::json::value body_of(const http::Response& r) {
  return boost::json::parse(*r.body());
}

TEST(ErrorMapping, EveryCodeHasItsStatus) {
  EXPECT_EQ(status_of(ErrorCode::bad_input), 400u);
  EXPECT_EQ(status_of(ErrorCode::unauthorized), 401u);
  EXPECT_EQ(status_of(ErrorCode::not_found), 404u);
  EXPECT_EQ(status_of(ErrorCode::unavailable), 503u);
  EXPECT_EQ(status_of(ErrorCode::overloaded), 503u);
  EXPECT_EQ(status_of(ErrorCode::internal), 500u);
}

TEST(ErrorMapping, BadInputListsEveryProblem) {
  const Error e(ErrorCode::bad_input, "detail",
                {{"id", "id must be a UUID"}, {"size", "Size must be one of 160"}});
  const auto r = error_response(e, 11);
  EXPECT_EQ(r.result_int(), 400u);
  EXPECT_EQ(r[boost::beast::http::field::content_type], "application/json");
  EXPECT_EQ(body_of(r), boost::json::parse(R"({"messages":[
      {"path":"id","message":"id must be a UUID"},
      {"path":"size","message":"Size must be one of 160"}]})"));
}

TEST(ErrorMapping, BodiesAreTheContractsAndHoldNoInternals) {
  const std::pair<ErrorCode, const char*> cases[] = {
      {ErrorCode::unauthorized, R"({"error":"Unauthorized"})"},
      {ErrorCode::not_found, R"({"error":"Not Found"})"},
      {ErrorCode::unavailable, R"({"error":"Service Unavailable"})"},
      {ErrorCode::overloaded, R"({"error":"Service Unavailable"})"},
      {ErrorCode::internal, R"({"error":"Internal Server Error"})"},
  };
  for (const auto& [code, expected] : cases) {
    const auto r = error_response(Error(code, "secret /etc/path token=abc"), 11);
    EXPECT_EQ(body_of(r), boost::json::parse(expected)) << expected;
    EXPECT_EQ(r.body()->find("secret"), std::string::npos);
  }
}

TEST(ErrorMapping, StatusesAnsweredFromTheRequestHaveTheContractsBodies) {
  // 405 (the router) and 413 (the server) are not errors thrown by code.
  EXPECT_EQ(body_of(status_response(405, 11)),
            boost::json::parse(R"({"error":"Method Not Allowed"})"));
  EXPECT_EQ(body_of(status_response(413, 11)),
            boost::json::parse(R"({"error":"Payload Too Large"})"));
}

TEST(ErrorMapping, UnavailableSaysWhenToRetry) {
  const auto r = error_response(Error(ErrorCode::unavailable, "redis down"), 11);
  EXPECT_EQ(r[boost::beast::http::field::retry_after], "1");
  EXPECT_EQ(r[boost::beast::http::field::content_length], std::to_string(r.body()->size()));
}

TEST(Metrics, CountsRequestsByRouteAndStatusWithCumulativeBuckets) {
  metrics::Registry registry;
  registry.observe_request("/v1/image", 200, std::chrono::milliseconds(3));
  registry.observe_request("/v1/image", 200, std::chrono::milliseconds(30));
  registry.observe_request("/v1/image", 400, std::chrono::microseconds(100));
  registry.add_sample("imagecpp_things", "gauge", "Things.", [] { return 7.0; });
  const std::string text = registry.render();
  EXPECT_NE(text.find(R"(imagecpp_http_requests_total{route="/v1/image",status="200"} 2)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(imagecpp_http_requests_total{route="/v1/image",status="400"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(_bucket{route="/v1/image",le="0.005"} 2)"), std::string::npos);
  EXPECT_NE(text.find(R"(_bucket{route="/v1/image",le="0.05"} 3)"), std::string::npos);
  EXPECT_NE(text.find(R"(_bucket{route="/v1/image",le="+Inf"} 3)"), std::string::npos);
  EXPECT_NE(text.find("imagecpp_things 7"), std::string::npos);
}

}  // namespace
}  // namespace imagecpp::api
